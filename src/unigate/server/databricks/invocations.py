"""Querying, as Databricks clients do it; every request takes unigate's own query path (tokens,
CAN_QUERY grants, rate limits, budgets, guardrails, fallbacks, a usage row).

- `POST /serving-endpoints/{name}/invocations` (databricks-sdk `serving_endpoints.query`,
  mlflow's databricks deployments client `predict`/`predict_stream`, DatabricksEmbeddings): a
  chat payload (`messages`), a completions payload (`prompt`, served by the endpoint's chat
  model and answered as `text_completion`) or an embeddings payload (`input`); `extra_params`
  are merged into the request (numbers and booleans sent as strings typed: `typed`);
  `"stream": true` answers with SSE `data:` lines ending in `data: [DONE]`; an unknown
  endpoint or a missing grant is refused before the payload is judged; errors in Databricks'
  shape and status (`errors`).
- The OpenAI client of `get_open_ai_client()` / `DatabricksOpenAI()` / ChatDatabricks, whose
  base URL is `{host}/serving-endpoints`: `/chat/completions`, `/completions`, `/embeddings`,
  `/responses` (and its stored responses), `/models`, with OpenAI's error shape (the openai
  SDK reads that).
- On both, a json_schema response format without a `name` gets one (`name_json_schema`)."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from unigate.agent.hosted_tools import wants_agent_loop
from unigate.agent.loop import run_agent_loop
from unigate.agent.stored_routes import stored_response
from unigate.codecs.registry import EMBED_DIALECTS, FORMATS, ClientOptions
from unigate.errors import GatewayError, InvalidRequest, NotFound, PermissionDenied
from unigate.server.admin.common import STATE_KEY
from unigate.server.auth import authenticate_fresh
from unigate.server.context import RequestContext
from unigate.server.databricks.errors import databricks_error_body, databricks_status
from unigate.server.embed import embed
from unigate.server.generate import Agent, handle_generate
from unigate.server.guard import authorize
from unigate.server.http import AnyResponse, Request, Response, Router, StreamResponse
from unigate.server.listing import get_model, list_models
from unigate.server.state import GatewayState
from unigate.sse import SSEDecoder, SSEEvent, encode_event

CHAT, RESPONSES = FORMATS["openai_chat"], FORMATS["openai_responses"]
EMBEDDINGS = EMBED_DIALECTS["openai_embeddings"]
HOSTED_TOOLS: Agent = (wants_agent_loop, run_agent_loop)
PREFIX = "/serving-endpoints"
# Fields of Databricks' query API that no provider takes
DATABRICKS_ONLY = ("client_request_id", "usage_context")
# Inputs of custom (MLflow) models: unigate serves external-model endpoints only
CUSTOM_MODEL_INPUTS = ("dataframe_records", "dataframe_split", "instances", "inputs")
# Legacy completions parameters a chat model has no equivalent for
COMPLETIONS_ONLY = ("echo", "suffix", "best_of", "logprobs")
# What OpenAI accepts as a json_schema response format's name
SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The chat and embeddings parameters (codecs.openai_chat.request_decode, openai_embeddings)
# that are not strings, for extra_params sent as strings (`typed`)
EXTRA_PARAM_TYPES: dict[str, type] = {
    **dict.fromkeys(("temperature", "top_p", "presence_penalty", "frequency_penalty"), float),
    **dict.fromkeys(("max_tokens", "max_completion_tokens", "top_k", "seed", "n", "top_logprobs", "dimensions"),
                    int),
    **dict.fromkeys(("logprobs", "parallel_tool_calls"), bool),
}


class QueryContext(RequestContext):
    """A query whose body is read before its handler runs (to choose the handler) and given
    to it rewritten (a json_schema response format named: `name_json_schema`); with
    `databricks`, errors in Databricks' shape and status whatever the handler's dialect (no
    provider error body relayed as it came); with `completions`, chat answers re-shaped as text
    completions."""

    __slots__ = ("body", "completions", "databricks")

    def __init__(self, request: Request, state: GatewayState, api_type: str,
                 databricks: bool = False) -> None:
        super().__init__(request, state, api_type)
        self.body: dict[str, Any] | None = None
        self.databricks = databricks
        self.completions: CompletionStream | None = None

    def use_body(self, body: dict[str, Any]) -> None:
        name_json_schema(body)
        self.body = body
        self.raw_body = orjson.dumps(body)

    async def read_json(self) -> dict[str, Any]:
        if self.body is None:
            body = await super().read_json()
            if name_json_schema(body):  # re-serialized only then: the fast path sends raw_body
                self.raw_body = orjson.dumps(body)
            self.body = body
        return self.body

    def error_response(self, err: GatewayError, render: Any) -> Response:
        if not self.databricks:
            return super().error_response(err, render)
        self.record.error_code = err.code
        self.error = err
        body = databricks_error_body(err)
        policy = getattr(err, "policy", None)
        if policy is not None:
            body["unigate_policy"] = policy
        return self.json_response(orjson.dumps(body), databricks_status(err), err.headers)

    async def write(self, out: StreamResponse, data: bytes) -> None:
        if self.completions is not None:
            data = self.completions.feed(data)
            if not data:
                return
        await super().write(out, data)


def name_json_schema(body: dict[str, Any]) -> bool:
    """Gives a json_schema response format without a `name` one (True when it did).
    ChatDatabricks' `with_structured_output(method="json_schema")` sends none and Databricks
    takes that; OpenAI, and unigate's decoder, require it. The schema's title when it is a
    valid name (pydantic's is the model's class name), else "response"."""
    fmt = body.get("response_format")
    spec = fmt.get("json_schema") if isinstance(fmt, dict) and fmt.get("type") == "json_schema" else None
    if not isinstance(spec, dict) or spec.get("name") is not None:
        return False
    schema = spec.get("schema")
    title = schema.get("title") if isinstance(schema, dict) else None
    spec["name"] = title if isinstance(title, str) and SCHEMA_NAME.fullmatch(title) else "response"
    return True


# --- completions served by a chat model ------------------------------------------------


def prompt_as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A completions request as the chat request that serves it: the prompt is the user's turn."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise InvalidRequest("'prompt' must be a string (or a list of one string)", param="prompt")
    for key in COMPLETIONS_ONLY:
        if body.get(key) not in (None, False, 0):
            raise InvalidRequest(f"'{key}' is not supported: completions are served by the endpoint's chat model",
                                 param=key)
    chat = {k: v for k, v in body.items() if k != "prompt" and k not in COMPLETIONS_ONLY}
    chat["messages"] = [{"role": "user", "content": prompt}]
    return chat


def as_completion(chat: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion (or its chunk) as a text_completion (or its chunk)."""
    choices = []
    for c in chat.get("choices") or []:
        part = c.get("delta") if "delta" in c else c.get("message")
        text = part.get("content") if isinstance(part, dict) else None
        choices.append({"text": text if isinstance(text, str) else "", "index": c.get("index", 0),
                        "logprobs": None, "finish_reason": c.get("finish_reason")})
    out = {"id": chat.get("id"), "object": "text_completion", "created": chat.get("created"),
           "model": chat.get("model"), "choices": choices}
    if chat.get("usage") is not None:
        out["usage"] = chat["usage"]
    return out


class CompletionStream:
    """Re-shapes a chat stream's SSE events as completions events, whole events at a time."""

    __slots__ = ("decoder",)

    def __init__(self) -> None:
        self.decoder = SSEDecoder()

    def feed(self, data: bytes) -> bytes:
        return b"".join(self._event(e) for e in self.decoder.feed(data))

    @staticmethod
    def _event(event: SSEEvent) -> bytes:
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:  # [DONE]
            return encode_event(event.data, event.event)
        if not isinstance(chunk, dict) or "choices" not in chunk:  # an error event: as it is
            return encode_event(event.data, event.event)
        return encode_event(orjson.dumps(as_completion(chunk)), event.event)


async def complete(ctx: QueryContext, body: dict[str, Any]) -> AnyResponse:
    """A completions request (already made a chat request by `prompt_as_chat`), served by the
    endpoint's chat model."""
    ctx.use_body(body)
    if body.get("stream") is True:
        ctx.completions = CompletionStream()
    response = await handle_generate(ctx, CHAT, ClientOptions())
    if isinstance(response, Response) and response.status == 200:
        response.body = orjson.dumps(as_completion(orjson.loads(response.body)))
    return response


# --- /serving-endpoints/{name}/invocations -----------------------------------------------


def query_kind(body: dict[str, Any]) -> str:
    """Which API a Databricks query payload is: chat, completions or embeddings."""
    kinds = [kind for key, kind in (("messages", "chat"), ("prompt", "completions"), ("input", "embeddings"))
             if key in body]
    if len(kinds) == 1:
        return kinds[0]
    if kinds:
        raise InvalidRequest("send only one of 'messages' (chat), 'prompt' (completions) or 'input' (embeddings)")
    custom = next((k for k in CUSTOM_MODEL_INPUTS if k in body), None)
    if custom is not None:
        raise InvalidRequest(f"'{custom}' is the input of a custom model: unigate endpoints serve external models;"
                             " send 'messages' (chat), 'prompt' (completions) or 'input' (embeddings)", param=custom)
    raise InvalidRequest("the payload needs 'messages' (chat), 'prompt' (completions) or 'input' (embeddings)")


def typed(key: str, value: Any) -> Any:
    """An extra_params value as the type its parameter takes: databricks-sdk types extra_params
    as Dict[str, str], so typed callers send {"top_p": "0.5"}. A string that does not parse, or
    a parameter not listed, stays as it is (and gets the decoder's 400 if it is wrong)."""
    kind = EXTRA_PARAM_TYPES.get(key)
    if kind is None or not isinstance(value, str):
        return value
    text = value.strip()
    if kind is bool:
        return {"true": True, "false": False}.get(text.lower(), value)
    try:
        number = kind(text)
    except ValueError:
        return value
    return number if math.isfinite(number) else value  # "nan", "inf" are no parameter's value


def as_provider_request(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A Databricks query body as the OpenAI-shaped request for endpoint `name`: `extra_params`
    are the provider's own parameters, merged in (the request's own fields win)."""
    extra = body.get("extra_params") or {}
    if not isinstance(extra, dict):
        raise InvalidRequest("'extra_params' must be an object", param="extra_params")
    extra = {k: typed(k, v) for k, v in extra.items()}
    out = {**extra, **{k: v for k, v in body.items() if k not in DATABRICKS_ONLY and k != "extra_params"}}
    # the endpoint goes in the body, as on the OpenAI surface (ClientOptions.model means "named
    # in the URL, like Gemini": the fast path would then send the body on without its model)
    out["model"] = name
    return out


async def vet(ctx: RequestContext, endpoint: str | None = None) -> None:
    """The caller, before a payload is judged: a bad token is a 401 whatever it sent (the
    handler authenticates again; a refused payload's usage row names who sent it). With
    `endpoint` (named in the URL), an unknown one is a 404 and one the caller may not query a
    403 before any payload error, as Databricks answers."""
    principal = ctx.principal = await authenticate_fresh(ctx.request, ctx.state)
    ctx.record.requester, ctx.record.requester_type = principal.name, principal.type
    if endpoint is None:
        return
    try:
        authorize(ctx, endpoint)
    except (NotFound, PermissionDenied):  # made a moment ago through another worker?
        if not await ctx.state.catch_up():
            raise
        authorize(ctx, endpoint)


async def invocations(request: Request) -> AnyResponse:
    name = request.match_info["name"]
    ctx = QueryContext(request, request.app[STATE_KEY], "chat", databricks=True)
    try:
        await vet(ctx, name)
        body = await ctx.read_json()
        kind = query_kind(body)
        body = as_provider_request(body, name)
        if kind == "completions":
            body = prompt_as_chat(body)
    except GatewayError as err:  # not a query: answered before any handler (still a usage row)
        refused = ctx.error_response(err, databricks_error_body)
        ctx.finish()
        return refused
    ctx.record.api_type = kind
    response: AnyResponse
    if kind == "embeddings":
        ctx.use_body(body)
        response = await embed(ctx, EMBEDDINGS, None)
    elif kind == "completions":
        response = await complete(ctx, body)
    else:
        ctx.use_body(body)
        response = await handle_generate(ctx, CHAT, ClientOptions())
    served = ctx.record.destination_model
    if isinstance(response, Response) and response.status == 200 and served:
        # what databricks-sdk returns as QueryEndpointResponse.served_model_name
        response.headers = {**response.headers, "served-model-name": served}
    return response


# --- the OpenAI client's routes under /serving-endpoints ---------------------------------


async def chat_completions(request: Request) -> AnyResponse:
    # a QueryContext: a json_schema response format without a name gets one (name_json_schema)
    return await handle_generate(QueryContext(request, request.app[STATE_KEY], "chat"), CHAT, ClientOptions())


async def responses(request: Request) -> AnyResponse:
    ctx = RequestContext(request, request.app[STATE_KEY], "responses")
    return await handle_generate(ctx, RESPONSES, ClientOptions(), HOSTED_TOOLS)


async def embeddings(request: Request) -> AnyResponse:
    return await embed(RequestContext(request, request.app[STATE_KEY], "embeddings"), EMBEDDINGS, None)


async def completions(request: Request) -> AnyResponse:
    ctx = QueryContext(request, request.app[STATE_KEY], "completions")
    try:
        await vet(ctx)
        body = prompt_as_chat(await ctx.read_json())
    except GatewayError as err:
        response = ctx.error_response(err, CHAT.error_body)
        ctx.finish()
        return response
    return await complete(ctx, body)


async def models(request: Request) -> AnyResponse:
    ctx = RequestContext(request, request.app[STATE_KEY], "models")
    name = request.match_info.get("name")
    return await (get_model(ctx, CHAT, name) if name else list_models(ctx, CHAT))


def stored(action: str) -> Any:
    async def handler(request: Request) -> AnyResponse:
        ctx = RequestContext(request, request.app[STATE_KEY], "responses_stored")
        return await stored_response(ctx, RESPONSES, action)
    return handler


def add_routes(router: Router) -> None:
    router.add_post(f"{PREFIX}/chat/completions", chat_completions)
    router.add_post(f"{PREFIX}/completions", completions)
    router.add_post(f"{PREFIX}/embeddings", embeddings)
    router.add_post(f"{PREFIX}/responses", responses)
    one = f"{PREFIX}/responses/{{id:[A-Za-z0-9_-]+}}"
    router.add_get(one, stored("get"))
    router.add_delete(one, stored("delete"))
    router.add_post(f"{one}/cancel", stored("cancel"))
    router.add_get(f"{one}/input_items", stored("input_items"))
    router.add_get(f"{PREFIX}/models", models)
    router.add_get(f"{PREFIX}/models/{{name}}", models)
    router.add_post(f"{PREFIX}/{{name}}/invocations", invocations)
