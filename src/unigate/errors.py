"""One hierarchy of gateway errors. Each knows its HTTP status and a stable `code`; each
dialect renders it in its own error body (see `unigate.codecs.*.errors`)."""

from __future__ import annotations

from typing import Any

import orjson


class GatewayError(Exception):
    status: int = 500
    code: str = "internal_error"  # machine-readable, used in usage rows and error bodies

    def __init__(self, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    """The client's request is malformed or names a field wrongly."""

    status, code = 400, "invalid_request"


class UnsupportedParameter(InvalidRequest):
    """A parameter the chosen provider cannot honour; refused rather than silently changed."""

    code = "unsupported_parameter"

    def __init__(self, param: str, target: str, detail: str = "") -> None:
        why = f": {detail}" if detail else ""
        super().__init__(
            f"parameter '{param}' is not supported when the endpoint is served by {target}{why}",
            param=param,
        )


class Unauthenticated(GatewayError):
    status, code = 401, "unauthenticated"


class PermissionDenied(GatewayError):
    status, code = 403, "permission_denied"


class NotFound(GatewayError):
    status, code = 404, "not_found"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class RateLimited(GatewayError):
    status, code = 429, "rate_limited"


class UpstreamError(GatewayError):
    """The provider answered with an error; its status (and Retry-After) is passed on."""

    code = "upstream_error"

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 upstream_type: str | None = None, raw: bytes | None = None,
                 raw_format: str | None = None) -> None:
        super().__init__(message, headers=headers)
        self.status = status
        self.upstream_type = upstream_type  # the provider's own error type, when it gave one
        # On the fast path the provider's own error body (keys scrubbed), relayed as it came
        # when the client speaks that format and no other destination answered.
        self.raw = raw
        self.raw_format = raw_format


class UpstreamUnreachable(GatewayError):
    status, code = 502, "upstream_unreachable"


class UpstreamBadResponse(GatewayError):
    """The provider answered with something that is not its documented wire format."""

    status, code = 502, "upstream_bad_response"


class UpstreamTimeout(GatewayError):
    status, code = 504, "upstream_timeout"


class InternalError(GatewayError):
    status, code = 500, "internal_error"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object; 400 saying what is wrong otherwise."""
    if not raw:
        raise InvalidRequest("request body is empty: expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    return data
