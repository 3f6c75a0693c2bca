"""Error bodies: the gateway's errors as OpenAI renders them, and upstream error bodies read."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import GatewayError, UpstreamError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
}


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def openai_responses_error_body(err: GatewayError) -> dict[str, Any]:
    return {"error": {
        "message": err.message,
        "type": error_type(err.status),
        "param": err.param,
        "code": err.code,
    }}


def response_error_code(status: int) -> str:
    """`response.error.code` of a failed response: the field only knows a fixed set of codes."""
    return "rate_limit_exceeded" if status == 429 else "server_error"


def openai_responses_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """(message, provider error type) from an upstream error response; never raises.

    Reads {"error": {"message", "type", "code"}}, {"error": "text"} and {"message": ...};
    anything else is reported by its status and a short excerpt."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str) and err:
            return err, None
        if isinstance(err, dict):
            message = err.get("message")
            kind = err.get("type") or err.get("code")
            if isinstance(message, str) and message:
                return message, kind if isinstance(kind, str) else None
    text = body[:300].decode("utf-8", "replace").strip()
    return (f"upstream returned HTTP {status}" + (f": {text}" if text else "")), None


def failure_to_error(err: Any, fallback: str) -> UpstreamError:
    """A failed response's `error` (or a stream `error` event) → the UpstreamError to raise,
    with the HTTP status its code means."""
    if not isinstance(err, dict):
        return UpstreamError(500, fallback)
    code = err.get("code")
    code = code if isinstance(code, str) else None
    message = err.get("message")
    return UpstreamError(_failure_status(code),
                         message if isinstance(message, str) and message else fallback,
                         upstream_type=code)


def _failure_status(code: str | None) -> int:
    if code in ("rate_limit_exceeded", "insufficient_quota"):
        return 429
    if code == "vector_store_timeout":
        return 504
    # The prompt's fault: bad images, policy refusals, invalid input.
    if code is not None and ("invalid" in code or "image" in code or "policy" in code
                             or code == "data_residency_mismatch"):
        return 400
    return 500
