"""Databricks' REST error shape, `{"error_code": "...", "message": "..."}`, for unigate's errors.

databricks-sdk (databricks/sdk/errors/mapper.py) picks its exception class from `error_code`
first (RESOURCE_DOES_NOT_EXIST → ResourceDoesNotExist, a NotFound; INVALID_PARAMETER_VALUE →
InvalidParameterValue, a BadRequest; ...), then from the HTTP status (401 → Unauthenticated,
403 → PermissionDenied, 429 → TooManyRequests, ...), and reads Retry-After for retries; so the
status and the headers of the GatewayError are kept as they are, except for a refusal the SDK
would sleep through (`databricks_status`)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from unigate.errors import (
    BudgetExceeded,
    CredentialsRefused,
    GatewayError,
    GuardrailBlocked,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProviderKeyMissing,
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


def misconfigured(err: GatewayError) -> bool:
    """A provider failure that is the gateway's configuration (no key, or a key the provider
    refuses): INTERNAL_ERROR, not TEMPORARILY_UNAVAILABLE, which would say "retry" to a fault
    no retry clears. The status stays 502 (databricks-sdk maps no class to it either way: a
    DatabricksError whose error_code tells the cause)."""
    return isinstance(err, ProviderKeyMissing | CredentialsRefused)


def error_code(err: GatewayError) -> str:
    """The Databricks error_code name for a unigate error."""
    if misconfigured(err):
        return "INTERNAL_ERROR"
    for cls, code in _BY_CLASS:
        if isinstance(err, cls):
            return code
    return _BY_STATUS.get(err.status, "BAD_REQUEST" if err.status < 500 else "INTERNAL_ERROR")


# databricks-sdk sleeps whatever Retry-After a 429 (or 503) says, uncapped, and retries until
# its 300 s retry timeout (sdk/retries.py, errors/customizer.py); mlflow's databricks client
# runs on it. Databricks' own limits are per minute, so its Retry-After is at most this long:
WAITABLE_SECONDS = 60


def retry_after(err: GatewayError) -> int | None:
    try:
        return int(err.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def cannot_clear_soon(err: GatewayError) -> bool:
    """A refusal the SDK would sleep on for longer than Databricks ever asks: a spent budget, or
    a limit (hourly, or a provider's) whose Retry-After is past a minute. Against it the SDK
    would hang for up to five minutes and then fail anyway."""
    if isinstance(err, BudgetExceeded):
        return True
    wait = retry_after(err)
    return err.status == 429 and wait is not None and wait > WAITABLE_SECONDS


def databricks_status(err: GatewayError) -> int:
    """The status to answer with: a refusal that cannot clear within a minute is a 403, which
    the SDK raises at once; its error_code (RESOURCE_EXHAUSTED, REQUEST_LIMIT_EXCEEDED) still
    picks ResourceExhausted / RequestLimitExceeded, both TooManyRequests (errors/mapper.py reads
    the code before the status). Per-minute refusals stay 429: the SDK waits and retries, as
    against Databricks."""
    return 403 if cannot_clear_soon(err) else err.status


def _message(err: GatewayError) -> str:
    """The error's message; a refusal answered with 403 says when to come back (a budget's
    message already says when it resets)."""
    wait = retry_after(err)
    if isinstance(err, BudgetExceeded) or wait is None or not cannot_clear_soon(err):
        return err.message
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + wait))
    return f"{err.message}; it resets in {wait} s, at {at}"


def databricks_error_body(err: GatewayError) -> dict[str, Any]:
    """The error body (a renderer for `RequestContext.error_response` / `guard.guarded`)."""
    return {"error_code": error_code(err), "message": _message(err)}


def databricks_error(err: GatewayError, request_id: str | None = None) -> Response:
    """A whole error response in Databricks' shape, with the error's headers."""
    headers = dict(err.headers)
    if request_id:
        headers["x-request-id"] = request_id
    return Response(body=orjson.dumps(databricks_error_body(err)), status=databricks_status(err),
                    content_type="application/json", headers=headers)


error_response = databricks_error  # (the name the management routes import)
