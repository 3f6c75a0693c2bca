"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}, both directions."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import GatewayError, UpstreamError

# OpenAI's own `type` values by status. OpenAI answers 401 and 404 with
# "invalid_request_error" too (the `code` tells "invalid_api_key", "model_not_found"); SDKs
# choose their exception class from the status alone.
_TYPES = {
    400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
    404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
    422: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable_error",
}
_MAX_MESSAGE = 2000  # a non-JSON error page is cut to this many characters


def openai_chat_error_body(err: GatewayError) -> dict[str, Any]:
    status = err.status
    kind = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": err.message, "type": kind, "param": err.param, "code": err.code}}


def openai_chat_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """(message, error type) of an upstream error response: OpenAI's shape, the shapes of
    compatible servers ({"error": "text"}, {"message": ..., "type": ...}), or plain text."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        found = error_fields(data)
        if found is not None:
            return found
    text = body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE] if body else ""
    return (text or f"upstream answered HTTP {status} with no error message"), None


def error_fields(data: dict[str, Any]) -> tuple[str, str | None] | None:
    err = data.get("error")
    if isinstance(err, str):
        return err, None
    obj = err if isinstance(err, dict) else data
    message = obj.get("message")
    if not isinstance(message, str):
        return None
    kind = obj.get("type")
    if not isinstance(kind, str):
        kind = obj.get("code") if isinstance(obj.get("code"), str) else None
    return message, kind


def upstream_stream_error(err: Any) -> UpstreamError:
    """An in-stream {"error": {...}} chunk. Its HTTP status is unknown (the stream began with
    200): a numeric `code` (vLLM sends one) is used when it is an error status, else 500."""
    message, kind = error_fields({"error": err}) or ("upstream stream error", None)
    code = err.get("code") if isinstance(err, dict) else None
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    return UpstreamError(status, message, upstream_type=kind)
