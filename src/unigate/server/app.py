"""The application: one route per API surface under /ai-gateway, the admin API, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from unigate.agent.hosted_tools import wants_agent_loop
from unigate.agent.loop import run_agent_loop
from unigate.agent.mcp_route import mcp_endpoint
from unigate.agent.stored_routes import stored_response
from unigate.codecs.registry import EMBED_DIALECTS, FORMATS, ClientOptions, WireFormat
from unigate.errors import NotFound
from unigate.server import admin, console, databricks, probes
from unigate.server.admin import common as admin_common
from unigate.server.context import RequestContext, new_request_id
from unigate.server.count_tokens import count_tokens
from unigate.server.embed import embed
from unigate.server.generate import Agent, handle_generate
from unigate.server.http import AnyResponse, Application, Request, Response
from unigate.server.http.limits import request_limits
from unigate.server.listing import get_model, list_models
from unigate.server.refusals import dialect_refusal
from unigate.server.state import GatewayState

PREFIX = "/ai-gateway"
OPENAI_SURFACES = ("mlflow/v1", "openai/v1")  # unified and native OpenAI-shaped surfaces
Handler = Callable[[Request], Awaitable[AnyResponse]]


def build_app(state: GatewayState) -> Application:
    # the head limits are the file's (and the environment's): the store's configuration holds none
    limits = request_limits(getattr(state, "file_config", state.config))
    app = Application(max_body_bytes=state.config.max_body_bytes, limits=limits, refusal=dialect_refusal)
    app[admin_common.STATE_KEY] = state
    chat, _responses = FORMATS["openai_chat"], FORMATS["openai_responses"]
    anthropic, gemini = FORMATS["anthropic"], FORMATS["gemini"]

    def ctx_for(request: Request, api_type: str) -> RequestContext:
        return RequestContext(request, state, api_type)

    def generation(fmt_name: str, api_type: str, agent: Agent | None = None) -> Handler:
        fmt = FORMATS[fmt_name]

        async def handler(request: Request) -> AnyResponse:
            return await handle_generate(ctx_for(request, api_type), fmt, ClientOptions(), agent)
        return handler

    async def embeddings(request: Request) -> AnyResponse:
        return await embed(ctx_for(request, "embeddings"), EMBED_DIALECTS["openai_embeddings"], None)

    async def count(request: Request) -> AnyResponse:
        return await count_tokens(ctx_for(request, "anthropic_count_tokens"), anthropic, None)

    async def gemini_method(request: Request) -> AnyResponse:
        model, _, method = request.match_info["target"].rpartition(":")
        ctx = ctx_for(request, f"gemini_{method}")
        if method in ("generateContent", "streamGenerateContent"):
            stream = method == "streamGenerateContent"
            sse = not stream or request.query.get("alt") == "sse"
            return await handle_generate(ctx, gemini, ClientOptions(model=model, stream=stream, sse=sse))
        if method == "countTokens":
            return await count_tokens(ctx, gemini, model)
        if method in ("embedContent", "batchEmbedContents"):
            return await embed(ctx, EMBED_DIALECTS[f"gemini_{method}"], model)
        err = NotFound(f"unknown method '{method}': expected generateContent, streamGenerateContent,"
                       " countTokens, embedContent or batchEmbedContents")
        ctx.finish()
        return ctx.error_response(err, gemini.error_body)

    def models(fmt: WireFormat) -> Handler:
        async def handler(request: Request) -> AnyResponse:
            name = request.match_info.get("name")
            ctx = ctx_for(request, "models")
            if name:
                return await get_model(ctx, fmt, name.removeprefix("models/"))
            return await list_models(ctx, fmt)
        return handler

    r = app.router
    for surface in OPENAI_SURFACES + ("cursor/v1",):
        r.add_post(f"{PREFIX}/{surface}/chat/completions", generation("openai_chat", "chat"))
    hosted_tools: Agent = (wants_agent_loop, run_agent_loop)  # the Supervisor API
    for surface in OPENAI_SURFACES:
        r.add_post(f"{PREFIX}/{surface}/responses", generation("openai_responses", "responses", hosted_tools))
    r.add_post(f"{PREFIX}/codex/v1/responses", generation("openai_responses", "responses"))

    def stored(action: str) -> Handler:  # responses the agent loop stored
        async def handler(request: Request) -> AnyResponse:
            return await stored_response(ctx_for(request, "responses_stored"), _responses, action)
        return handler

    for surface in OPENAI_SURFACES:
        one = f"{PREFIX}/{surface}/responses/{{id:[A-Za-z0-9_-]+}}"
        r.add_get(one, stored("get"))
        r.add_delete(one, stored("delete"))
        r.add_post(f"{one}/cancel", stored("cancel"))
        r.add_get(f"{one}/input_items", stored("input_items"))
    for surface in OPENAI_SURFACES:
        r.add_post(f"{PREFIX}/{surface}/embeddings", embeddings)
    for surface in OPENAI_SURFACES + ("codex/v1", "cursor/v1"):
        r.add_get(f"{PREFIX}/{surface}/models", models(chat))
        r.add_get(f"{PREFIX}/{surface}/models/{{name}}", models(chat))
    r.add_post(f"{PREFIX}/anthropic/v1/messages", generation("anthropic", "anthropic_messages"))
    r.add_post(f"{PREFIX}/anthropic/v1/messages/count_tokens", count)
    r.add_get(f"{PREFIX}/anthropic/v1/models", models(anthropic))
    r.add_get(f"{PREFIX}/anthropic/v1/models/{{name}}", models(anthropic))
    for version in ("v1beta", "v1"):
        r.add_post(f"{PREFIX}/gemini/{version}/models/{{target:[^/]+:[A-Za-z]+}}", gemini_method)
        r.add_get(f"{PREFIX}/gemini/{version}/models", models(gemini))
        r.add_get(f"{PREFIX}/gemini/{version}/models/{{name:[^/:]+}}", models(gemini))

    async def mcp(request: Request) -> AnyResponse:
        return await mcp_endpoint(request, state)

    r.add_route("*", f"{PREFIX}/mcp/{{service:[A-Za-z0-9][A-Za-z0-9._-]*}}", mcp)  # type: ignore[arg-type]
    admin.add_routes(r)
    console.add_routes(r)
    databricks.add_routes(r)
    probes.add_routes(r, state)
    r.add_route("*", "/{tail:.*}", not_found)
    return app


async def not_found(request: Request) -> Response:
    """Unknown paths get a JSON 404 (and a request id) rather than a text page."""
    err = NotFound(f"no such route: {request.method} {request.path}")
    body = {"error": {"message": err.message, "type": "not_found_error", "code": err.code}}
    return Response(body=orjson.dumps(body), status=err.status, content_type="application/json",
                    headers={"x-request-id": request.headers.get("x-request-id") or new_request_id()})
