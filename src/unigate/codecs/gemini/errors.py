"""Gemini error bodies (google.rpc.Status): `{"error": {"code", "message", "status", ...}}`."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from unigate.errors import GatewayError, UpstreamError

_STATUS_BY_HTTP = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_KNOWN_STATUSES = frozenset(_STATUS_BY_HTTP.values()) | {
    "FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS", "DATA_LOSS", "UNKNOWN",
}


def _status_name(err: GatewayError) -> str:
    if isinstance(err, UpstreamError) and err.upstream_type in _KNOWN_STATUSES:
        return err.upstream_type  # a Gemini upstream's own status passes through
    name = _STATUS_BY_HTTP.get(err.status)
    if name is not None:
        return name
    return "INVALID_ARGUMENT" if 400 <= err.status < 500 else "INTERNAL"


def gemini_error_body(err: GatewayError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": err.status, "message": err.message,
                             "status": _status_name(err)}
    if err.param:
        error["details"] = [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": err.param, "description": err.message}],
        }]
    return {"error": error}


def gemini_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """(message, Gemini status name) from an error response; never raises. Tolerates the
    list-wrapped form `[{"error": ...}]` of non-SSE streams and bodies that are not JSON."""
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:1000] or f"HTTP {status} from Gemini"), None
    if isinstance(doc, list) and doc:
        doc = doc[0]
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict):
        return f"HTTP {status} from Gemini", None
    message = error.get("message")
    kind = error.get("status")
    return (message if isinstance(message, str) and message else f"HTTP {status} from Gemini",
            kind if isinstance(kind, str) else None)


def upstream_error_from_chunk(error: Any) -> UpstreamError:
    """An `{"error": {...}}` object met inside a stream."""
    if not isinstance(error, dict):
        return UpstreamError(502, "Gemini stream error")
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    message = error.get("message")
    kind = error.get("status")
    return UpstreamError(status, message if isinstance(message, str) else "Gemini stream error",
                         upstream_type=kind if isinstance(kind, str) else None)


# google.rpc.RetryInfo, which Google APIs send instead of a Retry-After header.
_RETRY_DELAY = re.compile(rb'"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"')


def gemini_retry_delay(body: bytes) -> str | None:
    """The retry delay an error body gives (RetryInfo), in whole seconds for Retry-After."""
    m = _RETRY_DELAY.search(body)
    return str(math.ceil(float(m.group(1)))) if m else None
