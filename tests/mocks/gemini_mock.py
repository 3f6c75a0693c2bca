"""Gemini API: POST /{v1beta|v1}/models/{model}:{method} and GET …/models.

Methods: generateContent, streamGenerateContent (?alt=sse gives SSE with CRLF line ends, as the
real API sends; without it a JSON array), countTokens, embedContent, batchEmbedContents.
Auth: `x-goog-api-key` header or `?key=`. Errors: {"error": {"code", "message", "status"}}.
A 429 carries its retry hint only in a google.rpc.RetryInfo detail, as the real API does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .agent_script import gemini_result_names, scripted_reply
from .faults import fault_before_answer, send_body, send_stream
from .gemini_request import (
    GeminiInvalid,
    count_request,
    gemini_to_conversation,
    get,
    parts_text,
    show_thoughts,
)
from .replies import Conversation, Reply, embedding, reply_to, sign, split_words
from .state import MockState, state_of

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
DEFAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
         "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-embedding-001",
          "text-embedding-004"]
FINISH = {"stop": "STOP", "stop_sequence": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS"}


def error_body(status: int, message: str | None = None,
               retry_after: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status,
                             "message": message or DEFAULT_MESSAGES.get(status, "Error."),
                             "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if retry_after is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": f"{retry_after}s"}]
    return {"error": error}


def error_response(status: int, message: str | None = None,
                   retry_after: str | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(error_body(status, message, retry_after)),
                        content_type="application/json")


def check_auth(request: web.Request, state: MockState) -> web.Response | None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if key is None:
        return error_response(403, "Method doesn't allow unregistered callers (callers without "
                              "established identity). Please use API Key or other form of API "
                              "consumer identity to call this API.")
    if key != state.keys.gemini:
        body = error_body(400, "API key not valid. Please pass a valid API key.")
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                     "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                     "metadata": {"service": "generativelanguage.googleapis.com"}}]
        return web.json_response(body, status=400)
    return None


def _usage(reply: Reply, final: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens}
    candidates = reply.text_tokens if final else 0
    if final:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = reply.input_tokens + candidates + reply.reasoning_tokens
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": reply.input_tokens}]
    if reply.reasoning_tokens:
        usage["thoughtsTokenCount"] = reply.reasoning_tokens
    return usage


def _answer_parts(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [{"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls]
    return [{"text": reply.text}]


def _sign_first(parts: list[dict[str, Any]], reply: Reply) -> list[dict[str, Any]]:
    # Thinking models put the thought signature on the first part after the thoughts.
    if reply.thought is not None and parts:
        parts[0] = {**parts[0], "thoughtSignature": sign(reply.thought, "gemini")}
    return parts


def _chunk(parts: list[dict[str, Any]], model: str, ident: str, usage: dict[str, Any],
           finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model,
            "responseId": ident}


def generate_body(reply: Reply, body: dict[str, Any], model: str, ident: str) -> dict[str, Any]:
    parts = []
    if reply.thought is not None and show_thoughts(body):
        parts.append({"text": reply.thought, "thought": True})
    parts += _sign_first(_answer_parts(reply), reply)
    return _chunk(parts, model, ident, _usage(reply), FINISH[reply.finish])


def stream_chunks(reply: Reply, body: dict[str, Any], model: str, ident: str) -> list[dict]:
    chunks = []
    partial = _usage(reply, final=False)
    if reply.thought is not None and show_thoughts(body):
        for piece in split_words(reply.thought):
            chunks.append(_chunk([{"text": piece, "thought": True}], model, ident, partial))
    if reply.tool_calls:
        answers = [_sign_first(_answer_parts(reply), reply)]
    else:
        pieces = split_words(reply.text) or [""]
        answers = [[{"text": p}] for p in pieces]
        answers[0] = _sign_first(answers[0], reply)
    for index, parts in enumerate(answers):
        last = index == len(answers) - 1
        chunks.append(_chunk(parts, model, ident, _usage(reply) if last else partial,
                             FINISH[reply.finish] if last else None))
    return chunks


def _frames(chunks: list[dict], sse: bool) -> list[bytes]:
    if sse:
        return [b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks]
    frames = [(b"[" if i == 0 else b",\r\n") + json.dumps(c).encode() for i, c in
              enumerate(chunks)]
    frames[-1] += b"]"
    return frames


def _embedding_of(content: Any, model: str, dims: Any) -> dict[str, Any]:
    size = int(dims or (3072 if "gemini-embedding" in model else 768))
    return {"values": embedding(parts_text(content), size)}


async def _read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise GeminiInvalid("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise GeminiInvalid("Invalid JSON payload received. Expected an object.")
    return body


def _reply(conv: Conversation, body: dict[str, Any]) -> Reply:
    return scripted_reply(conv, gemini_result_names(body)) or reply_to(conv)


async def _serve(request: web.Request, model: str, method: str,
                 body: dict[str, Any]) -> web.StreamResponse:
    state = state_of(request)
    if method == "embedContent":
        texts, conv = [parts_text(get(body, "content"))], None
    elif method == "batchEmbedContents":
        texts = [parts_text(get(r, "content")) for r in get(body, "requests", []) or []]
        conv = None
    elif method == "countTokens":
        conv = gemini_to_conversation(count_request(body))
        texts = [conv.last_user_text]
    else:
        conv = gemini_to_conversation(body, model)
        texts = [conv.last_user_text]
    fault = state.fault_for(request, texts[-1] if texts else "")
    if (failed := await fault_before_answer(request, fault, error_response)) is not None:
        return failed
    ident = state.new_id("", 22)
    if method == "embedContent":
        payload: Any = {"embedding": _embedding_of(get(body, "content"), model,
                                                   get(body, "outputDimensionality"))}
    elif method == "batchEmbedContents":
        payload = {"embeddings": [_embedding_of(get(r, "content"), model,
                                                get(r, "outputDimensionality"))
                                  for r in get(body, "requests", []) or []]}
    elif method == "countTokens":
        tokens = reply_to(conv).input_tokens  # type: ignore[arg-type]
        payload = {"totalTokens": tokens,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]}
    elif method == "streamGenerateContent":
        reply = _reply(conv, body)  # type: ignore[arg-type]
        sse = request.query.get("alt") == "sse"
        frames = _frames(stream_chunks(reply, body, model, ident), sse)
        error = _frames([error_body(500)], sse)[0]
        kind = "text/event-stream" if sse else "application/json; charset=UTF-8"
        return await send_stream(request, frames, {}, fault, error, kind)
    else:
        payload = generate_body(_reply(conv, body), body, model, ident)  # type: ignore[arg-type]
    return await send_body(request, 200, json.dumps(payload).encode(), {}, fault)


METHODS = ("generateContent", "streamGenerateContent", "countTokens", "embedContent",
           "batchEmbedContents")


async def model_method(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if (denied := check_auth(request, state)) is not None:
        return denied
    model, _, method = request.match_info["tail"].rpartition(":")
    version = request.path.split("/")[1]
    if method not in METHODS or not model:
        return error_response(404, f"models/{model} is not found for API version {version}, or "
                              f"is not supported for {method}. Call ListModels to see the list "
                              "of available models and their supported methods.")
    try:
        return await _serve(request, model, method, await _read_body(request))
    except GeminiInvalid as exc:
        return error_response(400, str(exc))


def _model_info(name: str) -> dict[str, Any]:
    embed = "embedding" in name
    methods = ["embedContent", "batchEmbedContents"] if embed else [
        "generateContent", "streamGenerateContent", "countTokens"]
    return {"name": f"models/{name}", "version": "001", "displayName": name,
            "description": f"Mock {name}", "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536, "supportedGenerationMethods": methods}


async def list_models(request: web.Request) -> web.StreamResponse:
    if (denied := check_auth(request, state_of(request))) is not None:
        return denied
    wanted = request.match_info.get("model")
    if wanted is None:
        return web.json_response({"models": [_model_info(m) for m in MODELS]})
    if wanted not in MODELS:
        return error_response(404, f"models/{wanted} is not found for API version "
                              f"{request.path.split('/')[1]}")
    return web.json_response(_model_info(wanted))


def add_gemini_routes(app: web.Application) -> None:
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{tail}}", model_method)
    app.router.add_get("/v1beta/models", list_models)
    app.router.add_get("/v1beta/models/{model}", list_models)
    # GET /v1/models is shared with OpenAI and Anthropic; server.py dispatches on the key header.
