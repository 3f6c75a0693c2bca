"""OpenAI, Azure OpenAI and OpenAI-compatible chat completions, embeddings and model routes.

Paths:
  OpenAI  /v1/chat/completions  /v1/embeddings  /v1/models  /v1/models/{model}
  Azure   /openai/deployments/{deployment}/chat/completions?api-version=…  …/embeddings
          /openai/v1/chat/completions  /openai/v1/embeddings  /openai/v1/models
  Compat  /compat/v1/chat/completions  /compat/v1/embeddings  /compat/v1/models
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .agent_script import chat_result_ids, scripted_reply
from .faults import fault_before_answer, send_body, send_stream, sse_frame
from .openai_chat import (
    OpenAIInvalid,
    chat_completion_body,
    chat_stream_frames,
    chat_to_conversation,
)
from .openai_flavours import (
    check_auth,
    check_azure_api_version,
    error_response,
    invalid_response,
    openai_headers,
    read_json,
)
from .replies import count_words, dated_model, embedding, embedding_base64, reply_to
from .state import state_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "o3-mini", "text-embedding-3-small",
          "text-embedding-3-large"]


def _model_name(flavour: str, requested: str) -> str:
    # Compat servers echo the served model name; OpenAI and Azure answer with the snapshot.
    return requested if flavour == "compat" else dated_model(requested, "2024-07-18")


def _stream_error_frame(flavour: str) -> bytes:
    body = json.loads(error_response(flavour, 500).text or "{}")
    return sse_frame(json.dumps(body))


async def _prelude(request: web.Request, flavour: str) -> web.Response | None:
    """Checks every OpenAI-family call makes before reading the body."""
    if "deployment" in request.match_info and (
            bad_version := check_azure_api_version(request)) is not None:
        return bad_version
    return check_auth(flavour, request, state_of(request).keys)


def chat_handler(flavour: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (early := await _prelude(request, flavour)) is not None:
            return early
        deployment = request.match_info.get("deployment")
        try:
            body = await read_json(request)
            conv = chat_to_conversation(body, need_model=deployment is None)
        except OpenAIInvalid as exc:
            return invalid_response(flavour, exc)
        state = state_of(request)
        fault = state.fault_for(request, conv.last_user_text)

        def render_error(status: int, message: str | None, retry: str | None) -> web.Response:
            return error_response(flavour, status, message, retry)

        if (failed := await fault_before_answer(request, fault, render_error)) is not None:
            return failed
        reply = scripted_reply(conv, chat_result_ids(body)) or reply_to(conv)
        ident = state.new_id("chatcmpl-", 29)
        model = _model_name(flavour, str(body.get("model") or deployment))
        created = int(time.time())
        headers = openai_headers(state.new_id("req_", 32))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            frames = chat_stream_frames(reply, ident, model, created, flavour, include_usage)
            return await send_stream(request, frames, headers, fault,
                                     _stream_error_frame(flavour))
        payload = chat_completion_body(reply, ident, model, created, flavour)
        return await send_body(request, 200, json.dumps(payload).encode(), headers, fault)

    return handle


def _embedding_inputs(raw: Any) -> list[str]:
    """Strings stay strings; token arrays become their space-joined ids (still deterministic)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [" ".join(map(str, raw))]
    if isinstance(raw, list) and raw:
        return [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw]
    raise OpenAIInvalid("'$.input' is invalid. Please check the API reference: "
                        "https://platform.openai.com/docs/api-reference.")


def embeddings_handler(flavour: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (early := await _prelude(request, flavour)) is not None:
            return early
        deployment = request.match_info.get("deployment")
        try:
            body = await read_json(request)
            if not body.get("model") and not deployment:
                raise OpenAIInvalid("you must provide a model parameter")
            inputs = _embedding_inputs(body.get("input"))
            if "" in inputs:
                raise OpenAIInvalid("'$.input' is invalid. Please check the API reference: "
                                    "https://platform.openai.com/docs/api-reference.")
            encoding = body.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                raise OpenAIInvalid(f"Invalid value: '{encoding}'. Supported values are: "
                                    "'float' and 'base64'.", "encoding_format", "invalid_value")
        except OpenAIInvalid as exc:
            return invalid_response(flavour, exc)
        state = state_of(request)
        fault = state.fault_for(request, inputs[-1])

        def render_error(status: int, message: str | None, retry: str | None) -> web.Response:
            return error_response(flavour, status, message, retry)

        if (failed := await fault_before_answer(request, fault, render_error)) is not None:
            return failed
        model = str(body.get("model") or deployment)
        dims = int(body.get("dimensions") or (3072 if "large" in model else 1536))
        data = []
        for index, text in enumerate(inputs):
            vector = embedding(text, dims)
            encoded: Any = embedding_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(count_words(t) for t in inputs)
        payload = {"object": "list", "data": data, "model": model,
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        headers = openai_headers(state.new_id("req_", 32))
        return await send_body(request, 200, json.dumps(payload).encode(), headers, fault)

    return handle


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1721172741, "owned_by": "system"}


def models_handler(flavour: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (denied := check_auth(flavour, request, state_of(request).keys)) is not None:
            return denied
        wanted = request.match_info.get("model")
        if wanted is None:
            return web.json_response({"object": "list",
                                      "data": [_model_entry(m) for m in MODELS]})
        if wanted not in MODELS:
            return error_response(flavour, 404, f"The model '{wanted}' does not exist",
                                  param="model", code="model_not_found")
        return web.json_response(_model_entry(wanted))

    return handle


async def not_found(request: web.Request) -> web.Response:
    """What a FastAPI-based server (vLLM) says for a route it does not have."""
    return web.json_response({"detail": "Not Found"}, status=404)


def add_openai_routes(app: web.Application) -> None:
    for prefix, flavour in (("/v1", "openai"), ("/openai/v1", "azure"),
                            ("/compat/v1", "compat")):
        app.router.add_post(f"{prefix}/chat/completions", chat_handler(flavour))
        app.router.add_post(f"{prefix}/embeddings", embeddings_handler(flavour))
        if flavour != "openai":  # GET /v1/models is shared; server.py dispatches it
            app.router.add_get(f"{prefix}/models", models_handler(flavour))
    deployments = "/openai/deployments/{deployment}"
    app.router.add_post(f"{deployments}/chat/completions", chat_handler("azure"))
    app.router.add_post(f"{deployments}/embeddings", embeddings_handler("azure"))
    app.router.add_post("/compat/v1/responses", not_found)
