"""Anthropic Messages API: /v1/messages, /v1/messages/count_tokens, /v1/models.

Auth is `x-api-key` (or `Authorization: Bearer`, which newer SDKs send), and every call needs
an `anthropic-version` header. Errors are
{"type": "error", "error": {"type", "message"}, "request_id"} with a `request-id` header.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .agent_script import anthropic_result_ids, scripted_reply
from .anthropic_validate import AnthropicInvalid, anthropic_to_conversation, thinking_signature
from .faults import fault_before_answer, send_body, send_stream, sse_frame
from .replies import Reply, reply_to, split_fixed, split_words
from .state import MockState, state_of

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 504: "timeout_error",
               529: "overloaded_error"}
DEFAULT_MESSAGES = {429: "Number of request tokens has exceeded your per-minute rate limit",
                    529: "Overloaded", 500: "Internal server error", 404: "Not found"}
STOP_REASONS = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens",
                "tool_calls": "tool_use"}
MODELS = [("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
          ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
          ("claude-opus-4-1-20250805", "Claude Opus 4.1")]


def _headers(state: MockState, request_id: str) -> dict[str, str]:
    return {"request-id": request_id, "anthropic-organization-id": "mock-org",
            "anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": "3999"}


def error_response(state: MockState, status: int, message: str | None = None,
                   retry_after: str | None = None) -> web.Response:
    request_id = state.new_id("req_011C", 20)
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"type": "error",
            "error": {"type": kind, "message": message or DEFAULT_MESSAGES.get(status, kind)},
            "request_id": request_id}
    headers = _headers(state, request_id)
    if retry_after is not None:
        headers["retry-after"] = retry_after
        headers["anthropic-ratelimit-requests-remaining"] = "0"
    return web.Response(status=status, text=json.dumps(body), headers=headers,
                        content_type="application/json")


def _check_headers(request: web.Request, state: MockState) -> web.Response | None:
    # `x-api-key`, or `Authorization: Bearer` as newer SDKs (and OAuth clients) send it.
    bearer = request.headers.get("Authorization", "")
    key = request.headers.get("x-api-key") or (
        bearer[7:].strip() if bearer.lower().startswith("bearer ") else None)
    if key is None:
        return error_response(state, 401, "x-api-key header is required")
    if key != state.keys.anthropic:
        return error_response(state, 401, "invalid x-api-key")
    if "anthropic-version" not in request.headers:
        return error_response(state, 400, "anthropic-version: header is required")
    return None


async def _read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        raise AnthropicInvalid("There was an error parsing the body of your request") from None
    if not isinstance(body, dict):
        raise AnthropicInvalid("Input should be a valid dictionary")
    return body


def _usage(reply: Reply) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": reply.output_tokens,
            "service_tier": "standard"}


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thought is not None:
        blocks.append({"type": "thinking", "thinking": reply.thought,
                       "signature": thinking_signature(reply.thought)})
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append({"type": "tool_use", "id": "toolu_01" + call.key[:22], "name": call.name,
                       "input": call.arguments})
    return blocks


def message_body(reply: Reply, ident: str, model: str) -> dict[str, Any]:
    return {"id": ident, "type": "message", "role": "assistant", "model": model,
            "content": _content(reply), "stop_reason": STOP_REASONS[reply.finish],
            "stop_sequence": reply.stop_sequence, "usage": _usage(reply)}


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = block["type"]
    empty = {"thinking": {"type": "thinking", "thinking": "", "signature": ""},
             "text": {"type": "text", "text": ""},
             "tool_use": {**block, "input": {}}}[kind]
    events = [("content_block_start", {"index": index, "content_block": empty})]
    deltas: list[dict[str, Any]]
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        deltas = [{"type": "text_delta", "text": p} for p in split_words(block["text"])]
    else:  # the real API opens tool input with an empty partial_json
        pieces = [""] + split_fixed(json.dumps(block["input"], separators=(",", ":")))
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    events += [("content_block_delta", {"index": index, "delta": d}) for d in deltas]
    events.append(("content_block_stop", {"index": index}))
    return events


def message_stream_frames(reply: Reply, ident: str, model: str) -> list[bytes]:
    start = {**message_body(reply, ident, model), "content": [], "stop_reason": None,
             "stop_sequence": None}
    start["usage"] = {**_usage(reply), "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start})]
    for index, block in enumerate(_content(reply)):
        events += _block_events(index, block)
    events.append(("message_delta", {"delta": {"stop_reason": STOP_REASONS[reply.finish],
                                               "stop_sequence": reply.stop_sequence},
                                     "usage": {k: v for k, v in _usage(reply).items()
                                               if k != "service_tier"}}))
    events.append(("message_stop", {}))
    events.insert(2, ("ping", {}))  # the real API pings right after the first block opens
    return [sse_frame(json.dumps({"type": name, **data}), name) for name, data in events]


async def messages(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if (denied := _check_headers(request, state)) is not None:
        return denied
    try:
        body = await _read_body(request)
        conv = anthropic_to_conversation(body)
    except AnthropicInvalid as exc:
        return error_response(state, 400, str(exc))
    fault = state.fault_for(request, conv.last_user_text)

    def render_error(status: int, message: str | None, retry: str | None) -> web.Response:
        return error_response(state, status, message, retry)

    if (failed := await fault_before_answer(request, fault, render_error)) is not None:
        return failed
    reply = scripted_reply(conv, anthropic_result_ids(body)) or reply_to(conv)
    ident = state.new_id("msg_01", 22)
    model = str(body["model"])  # Anthropic echoes the model exactly as requested
    headers = _headers(state, state.new_id("req_011C", 20))
    if body.get("stream"):
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return await send_stream(request, message_stream_frames(reply, ident, model), headers,
                                 fault, sse_frame(json.dumps(error), "error"))
    payload = message_body(reply, ident, model)
    return await send_body(request, 200, json.dumps(payload).encode(), headers, fault)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if (denied := _check_headers(request, state)) is not None:
        return denied
    try:
        conv = anthropic_to_conversation(await _read_body(request), count_only=True)
    except AnthropicInvalid as exc:
        return error_response(state, 400, str(exc))
    fault = state.fault_for(request, conv.last_user_text)

    def render_error(status: int, message: str | None, retry: str | None) -> web.Response:
        return error_response(state, status, message, retry)

    if (failed := await fault_before_answer(request, fault, render_error)) is not None:
        return failed
    tokens = reply_to(conv).input_tokens
    return web.json_response({"input_tokens": tokens},
                             headers=_headers(state, state.new_id("req_011C", 20)))


def _model_info(model_id: str, name: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": name,
            "created_at": "2025-09-29T00:00:00Z"}


async def list_models(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if (denied := _check_headers(request, state)) is not None:
        return denied
    wanted = request.match_info.get("model")
    if wanted is not None:
        for model_id, name in MODELS:
            if model_id == wanted:
                return web.json_response(_model_info(model_id, name))
        return error_response(state, 404, f"model: {wanted}")
    data = [_model_info(m, n) for m, n in MODELS]
    return web.json_response({"data": data, "has_more": False, "first_id": data[0]["id"],
                              "last_id": data[-1]["id"]})


def add_anthropic_routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    # GET /v1/models is shared with OpenAI; server.py dispatches on the auth header.
