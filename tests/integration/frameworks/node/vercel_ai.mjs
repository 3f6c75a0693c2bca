// Runs Vercel AI SDK cases against unigate; started by test_vercel_ai.py.
// stdin: {"base", "token", "cases": [{"id", "provider", "endpoint", "kind", "prompt", "toolResult"}]}
// stdout: {id: {"text", "streamed", "steps": [{"toolCalls", "toolResults"}], "output"} | {"error"}}
// The packages live in the test cache (UNIGATE_VERCEL_AI_PREFIX), not beside this file, so they are
// resolved from there explicitly: ESM imports do not search NODE_PATH.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const need = createRequire(`${process.env.UNIGATE_VERCEL_AI_PREFIX}/package.json`);
const load = (name) => import(pathToFileURL(need.resolve(name)).href);
const { generateText, streamText, tool, jsonSchema, stepCountIs, Output } = await load("ai");
const { createOpenAI } = await load("@ai-sdk/openai");
const { createAnthropic } = await load("@ai-sdk/anthropic");
const { createGoogleGenerativeAI } = await load("@ai-sdk/google");

const PARALLEL = 12;

function modelFor(job, c) {
  const gw = job.base; // <gateway>/ai-gateway
  switch (c.provider) {
    case "openai": // the default: the Responses API
      return createOpenAI({ baseURL: `${gw}/openai/v1`, apiKey: job.token })(c.endpoint);
    case "openai-chat":
      return createOpenAI({ baseURL: `${gw}/openai/v1`, apiKey: job.token }).chat(c.endpoint);
    case "anthropic":
      return createAnthropic({ baseURL: `${gw}/anthropic/v1`, apiKey: job.token })(c.endpoint);
    case "google":
      return createGoogleGenerativeAI({ baseURL: `${gw}/gemini/v1beta`, apiKey: job.token })(c.endpoint);
  }
  throw new Error(`unknown provider ${c.provider}`);
}

function weatherTool(c) {
  return tool({
    description: "Weather for a city",
    inputSchema: jsonSchema({
      type: "object", properties: { location: { type: "string" } }, required: ["location"],
      additionalProperties: false,
    }),
    execute: async ({ location }) => c.toolResult.replace("{location}", location),
  });
}

const citySchema = jsonSchema({
  type: "object", properties: { name: { type: "string" }, population: { type: "integer" } },
  required: ["name", "population"], additionalProperties: false,
});

function steps(result) {
  return result.steps.map((s) => ({
    toolCalls: s.toolCalls.map((t) => ({ toolName: t.toolName, input: t.input })),
    toolResults: s.toolResults.map((t) => ({ toolName: t.toolName, output: t.output })),
  }));
}

async function runCase(job, c) {
  const args = { model: modelFor(job, c), prompt: c.prompt, maxRetries: 0 };
  if (c.kind.startsWith("tool")) {
    Object.assign(args, { tools: { get_weather: weatherTool(c) }, stopWhen: stepCountIs(3) });
  }
  if (c.kind.startsWith("object")) args.output = Output.object({ schema: citySchema });
  if (c.kind === "generate" || c.kind === "tool" || c.kind === "object") {
    const r = await generateText(args);
    return { text: r.text, steps: steps(r), output: c.kind === "object" ? r.output : null };
  }
  let failure = null; // streamText reports errors through onError, not by throwing
  const r = streamText({ ...args, onError: ({ error }) => { failure = error; } });
  let streamed = "";
  for await (const delta of r.textStream) streamed += delta;
  if (failure) throw failure;
  const output = c.kind === "object-stream" ? await r.output : null;
  return { text: await r.text, streamed, steps: steps({ steps: await r.steps }), output };
}

function describe(error) {
  const body = error?.responseBody ? ` body=${error.responseBody}` : "";
  const status = error?.statusCode ? ` status=${error.statusCode}` : "";
  return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}${status}${body}`.slice(0, 3000);
}

const job = JSON.parse(await new Response(process.stdin).text());
const results = {};
const queue = [...job.cases];
await Promise.all(Array.from({ length: PARALLEL }, async () => {
  for (let c = queue.shift(); c; c = queue.shift()) {
    try {
      results[c.id] = await runCase(job, c);
    } catch (error) {
      results[c.id] = { error: describe(error) };
    }
  }
}));
process.stdout.write(JSON.stringify(results));
