// The playground's current request as code an application can run: curl, Python with the
// official SDK of the dialect (openai or anthropic), and JavaScript fetch. The token is always
// read from the UNIGATE_TOKEN environment variable, never written into the code.

const TOKEN_ENV = 'UNIGATE_TOKEN';

// A JSON value written out for reading: objects of plain values (a message, say) on one line,
// anything deeper one item a line. `words` spells true, false and null (JSON's or Python's; JSON's
// string escapes are valid in Python strings too).
const JSON_WORDS = { true: 'true', false: 'false', null: 'null' };
const PYTHON_WORDS = { true: 'True', false: 'False', null: 'None' };

function literal(value, indent, words) {
  const inner = indent + (words === PYTHON_WORDS ? '    ' : '  ');
  if (value === null || value === undefined) return words.null;
  if (value === true || value === false) return words[String(value)];
  if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
  const trailer = words === PYTHON_WORDS ? ',' : ''; // Python takes a trailing comma, JSON does not
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return `[\n${value.map((v) => inner + literal(v, inner, words)).join(',\n')}${trailer}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return '{}';
  const pair = ([k, v], at) => `${JSON.stringify(k)}: ${literal(v, at, words)}`;
  if (entries.every(([, v]) => v === null || typeof v !== 'object')) return `{${entries.map((e) => pair(e, '')).join(', ')}}`;
  return `{\n${entries.map((e) => inner + pair(e, inner)).join(',\n')}${trailer}\n${indent}}`;
}

export const prettyJson = (value, indent = '') => literal(value, indent, JSON_WORDS);
export const pyLiteral = (value, indent = '') => literal(value, indent, PYTHON_WORDS);

// body's fields as Python keyword arguments, one a line
function pyKwargs(body) {
  return Object.entries(body).map(([k, v]) => `    ${k}=${pyLiteral(v, '    ')},`).join('\n');
}

function tokenHeader(dialect) {
  // Anthropic's SDKs send the key as x-api-key; unigate accepts both headers.
  return dialect.id === 'anthropic' ? `x-api-key: $${TOKEN_ENV}` : `Authorization: Bearer $${TOKEN_ENV}`;
}

export function curlSnippet(dialect, body, origin) {
  const lines = [
    `curl -sS${body.stream ? ' -N' : ''} "${origin}${dialect.path}" \\`,
    `  -H "${tokenHeader(dialect)}" \\`,
  ];
  if (dialect.id === 'anthropic') lines.push('  -H "anthropic-version: 2023-06-01" \\');
  lines.push('  -H "Content-Type: application/json" \\', "  -d @- <<'JSON'", prettyJson(body), 'JSON');
  return lines.join('\n');
}

function pythonOpenAIChat(body, origin) {
  const head = `import os

from openai import OpenAI

client = OpenAI(base_url="${origin}/ai-gateway/openai/v1", api_key=os.environ["${TOKEN_ENV}"])
`;
  if (body.stream) {
    return `${head}
stream = client.chat.completions.create(
${pyKwargs(body)}
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
    if chunk.usage:
        print(f"\\n[{chunk.usage.prompt_tokens} input tokens, {chunk.usage.completion_tokens} output tokens]")
print()
`;
  }
  return `${head}
completion = client.chat.completions.create(
${pyKwargs(body)}
)
print(completion.choices[0].message.content)
`;
}

function pythonOpenAIResponses(body, origin) {
  const head = `import os

from openai import OpenAI

client = OpenAI(base_url="${origin}/ai-gateway/openai/v1", api_key=os.environ["${TOKEN_ENV}"])
`;
  if (body.stream) {
    return `${head}
stream = client.responses.create(
${pyKwargs(body)}
)
for event in stream:
    if event.type == "response.output_text.delta":
        print(event.delta, end="", flush=True)
print()
`;
  }
  return `${head}
response = client.responses.create(
${pyKwargs(body)}
)
print(response.output_text)
`;
}

// The Messages fields the anthropic SDK takes as arguments; the others (temperature: newer SDKs
// dropped it) go in extra_body, which the SDK sends as they are.
const ANTHROPIC_SDK_ARGS = new Set(['model', 'max_tokens', 'system', 'messages', 'stop_sequences', 'metadata']);

function pythonAnthropic(body, origin) {
  const head = `import os

import anthropic

client = anthropic.Anthropic(base_url="${origin}/ai-gateway/anthropic", api_key=os.environ["${TOKEN_ENV}"])
`;
  const { stream, ...fields } = body; // the SDK's messages.stream() sets stream itself
  const kwargs = {};
  const extra = {};
  for (const [k, v] of Object.entries(fields)) (ANTHROPIC_SDK_ARGS.has(k) ? kwargs : extra)[k] = v;
  if (Object.keys(extra).length) kwargs.extra_body = extra;
  if (stream) {
    return `${head}
with client.messages.stream(
${pyKwargs(kwargs)}
) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
print()
`;
  }
  return `${head}
message = client.messages.create(
${pyKwargs(kwargs)}
)
print("".join(block.text for block in message.content if block.type == "text"))
`;
}

export function pythonSnippet(dialect, body, origin) {
  if (dialect.id === 'anthropic') return pythonAnthropic(body, origin);
  if (dialect.id === 'openai-responses') return pythonOpenAIResponses(body, origin);
  return pythonOpenAIChat(body, origin);
}

// The JavaScript expression that takes the text out of one parsed stream event / whole answer.
const JS_EVENT_TEXT = {
  'openai-chat': 'event.choices?.[0]?.delta?.content',
  anthropic: "event.type === 'content_block_delta' ? event.delta.text : ''",
  'openai-responses': "event.type === 'response.output_text.delta' ? event.delta : ''",
};
const JS_ANSWER_TEXT = {
  'openai-chat': 'answer.choices[0].message.content',
  anthropic: "answer.content.filter((b) => b.type === 'text').map((b) => b.text).join('')",
  'openai-responses': "answer.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((c) => c.text ?? '').join('')",
};

export function javascriptSnippet(dialect, body, origin) {
  const auth = dialect.id === 'anthropic'
    ? `'x-api-key': process.env.${TOKEN_ENV},\n    'anthropic-version': '2023-06-01',`
    : `Authorization: \`Bearer \${process.env.${TOKEN_ENV}}\`,`;
  const head = `// Node 18 or later, as an ES module (top-level await)
const response = await fetch('${origin}${dialect.path}', {
  method: 'POST',
  headers: {
    ${auth}
    'Content-Type': 'application/json',
  },
  body: JSON.stringify(${prettyJson(body, '  ')}),
});
if (!response.ok) throw new Error(\`\${response.status}: \${await response.text()}\`);
`;
  if (!body.stream) {
    return `${head}const answer = await response.json();
console.log(${JS_ANSWER_TEXT[dialect.id]});
`;
  }
  return `${head}
// Server-sent events: "data: {...}" lines; OpenAI's stream ends with "data: [DONE]".
const reader = response.body.getReader();
const decoder = new TextDecoder();
let buffer = '';
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  buffer += decoder.decode(value, { stream: true });
  const lines = buffer.split('\\n');
  buffer = lines.pop();
  for (const line of lines) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '[DONE]') continue;
    const event = JSON.parse(data);
    const text = ${JS_EVENT_TEXT[dialect.id]};
    if (text) process.stdout.write(text);
  }
}
process.stdout.write('\\n');
`;
}
