"""Databricks' REST error shape, `{"error_code": "...", "message": "..."}`, for unigate's errors.

databricks-sdk (databricks/sdk/errors/mapper.py) picks its exception class from `error_code`
first (RESOURCE_DOES_NOT_EXIST → ResourceDoesNotExist, a NotFound; INVALID_PARAMETER_VALUE →
InvalidParameterValue, a BadRequest; ...), then from the HTTP status (401 → Unauthenticated,
403 → PermissionDenied, 429 → TooManyRequests, ...), and reads Retry-After for retries; so the
status and the headers of the GatewayError are kept as they are."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import (
    BudgetExceeded,
    GatewayError,
    GuardrailBlocked,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from unigate.server.http import Response

# The class's own code, most specific first (an UpstreamError carries the provider's status:
# it falls through to the status table)
_BY_CLASS: tuple[tuple[type[GatewayError], str], ...] = (
    (GuardrailBlocked, "BAD_REQUEST"),
    (InvalidRequest, "INVALID_PARAMETER_VALUE"),
    (Unauthenticated, "UNAUTHENTICATED"),
    (PermissionDenied, "PERMISSION_DENIED"),
    (NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (BudgetExceeded, "RESOURCE_EXHAUSTED"),
    (RateLimited, "REQUEST_LIMIT_EXCEEDED"),
)
_BY_STATUS = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS", 413: "INVALID_PARAMETER_VALUE", 429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR", 501: "NOT_IMPLEMENTED", 502: "TEMPORARILY_UNAVAILABLE",
    503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


def error_code(err: GatewayError) -> str:
    """The Databricks error_code name for a unigate error."""
    for cls, code in _BY_CLASS:
        if isinstance(err, cls):
            return code
    return _BY_STATUS.get(err.status, "BAD_REQUEST" if err.status < 500 else "INTERNAL_ERROR")


def databricks_error_body(err: GatewayError) -> dict[str, Any]:
    """The error body (a renderer for `RequestContext.error_response` / `guard.guarded`)."""
    return {"error_code": error_code(err), "message": err.message}


def databricks_error(err: GatewayError, request_id: str | None = None) -> Response:
    """A whole error response in Databricks' shape, with the error's status and headers."""
    headers = dict(err.headers)
    if request_id:
        headers["x-request-id"] = request_id
    return Response(body=orjson.dumps(databricks_error_body(err)), status=err.status,
                    content_type="application/json", headers=headers)


error_response = databricks_error  # (the name the management routes import)
