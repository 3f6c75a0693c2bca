"""Gateway errors ↔ Anthropic error bodies: {"type": "error", "error": {"type", "message"}}."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import GatewayError, UpstreamError

# The error types Anthropic documents, with the HTTP status each comes with.
ERROR_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_STATUS_TYPE: dict[int, str] = {s: t for t, s in ERROR_TYPE_STATUS.items()}
_STATUS_TYPE.update({
    502: "api_error",  # a bad or unreachable upstream: an internal fault from the client's view
    503: "overloaded_error",  # temporarily unable to serve: what Anthropic calls overloaded
})


def status_for_error_type(kind: str | None) -> int:
    """HTTP status matching an Anthropic error type (for in-stream `error` events)."""
    return ERROR_TYPE_STATUS.get(kind or "", 500)


def error_type_for_status(status: int) -> str:
    kind = _STATUS_TYPE.get(status)
    if kind is not None:
        return kind
    # Anthropic: invalid_request_error also covers 4xx codes not listed.
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_error_body(err: GatewayError) -> dict[str, Any]:
    kind = None
    if isinstance(err, UpstreamError) and err.upstream_type in ERROR_TYPE_STATUS:
        kind = err.upstream_type  # the provider spoke Anthropic's vocabulary: keep its word
    return {"type": "error",
            "error": {"type": kind or error_type_for_status(err.status), "message": err.message}}


def anthropic_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """(message, error type) of an upstream error response; never raises."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:500] or f"HTTP {status} from Anthropic"), None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        message = err.get("message")
        kind = err.get("type")
        return (message if isinstance(message, str) and message else f"HTTP {status} from "
                "Anthropic"), (kind if isinstance(kind, str) else None)
    if isinstance(err, str):
        return err, None
    text = body.decode("utf-8", "replace").strip()
    return (text[:500] or f"HTTP {status} from Anthropic"), None
