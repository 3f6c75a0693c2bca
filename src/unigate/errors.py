"""One hierarchy of gateway errors. Each knows its HTTP status and a stable `code`; each
dialect renders it in its own error body (see `unigate.codecs.*.errors`).

    GatewayError                      status, code, retryable (routing tries the next destination)
    ├── ClientError                   the request itself: never retried elsewhere
    │   ├── InvalidRequest (400)
    │   │   └── UnsupportedParameter  (a destination that cannot take it is skipped, routing.outcome)
    │   ├── Unauthenticated (401), PermissionDenied (403), NotFound (404)
    │   ├── PayloadTooLarge (413), UrlTooLong (414), HeadersTooLarge (431: size or count)
    │   ├── RateLimited (429: the gateway's own limits)
    │   ├── BudgetExceeded (429: a blocking spend budget has no room)
    │   └── GuardrailBlocked (400: an endpoint's guardrail refused the request or answer)
    ├── ProviderError                 the provider failed: another destination may answer
    │   ├── UpstreamError             the provider's own error status (retryable on 429 and 5xx)
    │   ├── UpstreamUnreachable (502), UpstreamBadResponse (502), UpstreamTimeout (504)
    │   └── ProviderKeyMissing (502)  no key where the type needs one: refused before the call
    ├── ServiceUnavailable (503)      the store does not answer for now
    └── InternalError (500)
"""

from __future__ import annotations

from typing import Any

import orjson


class GatewayError(Exception):
    status: int = 500
    code: str = "internal_error"  # machine-readable, used in usage rows and error bodies
    retryable: bool = False  # another destination may answer it (routing.outcome.is_retryable)

    def __init__(self, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class ClientError(GatewayError):
    """Something about the client's request: the same request fails everywhere."""

    status, code = 400, "invalid_request"


class ProviderError(GatewayError):
    """The provider failed to answer: another destination may."""

    status, code, retryable = 502, "upstream_error", True


class InvalidRequest(ClientError):
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


class Unauthenticated(ClientError):
    status, code = 401, "unauthenticated"


class PermissionDenied(ClientError):
    status, code = 403, "permission_denied"


class NotFound(ClientError):
    status, code = 404, "not_found"


class PayloadTooLarge(ClientError):
    status, code = 413, "payload_too_large"


class UrlTooLong(ClientError):
    status, code = 414, "url_too_long"


class HeadersTooLarge(ClientError):
    """Too many header lines, or too many bytes of them (server.http.limits)."""

    status, code = 431, "headers_too_large"


class RateLimited(ClientError):
    status, code = 429, "rate_limited"
    limit: tuple[str, str, str] | None = None  # the refusing limit's (key, principal, measure)


class BudgetExceeded(ClientError):
    """A blocking budget (governance.budgets) has no room for the request's estimated cost;
    the message names the budget, its limit and period, Retry-After says when it resets."""

    status, code = 429, "budget_exceeded"
    budget: str | None = None  # the refusing budget's name


class GuardrailBlocked(ClientError):
    """A guardrail of the endpoint refused the request or the answer (not an InvalidRequest:
    a fallback destination would be refused the same way, it is not skipped to)."""

    status, code = 400, "guardrail_blocked"

    def __init__(self, name: str, phase: str, reason: str) -> None:
        what = "request" if phase == "input" else "response"
        super().__init__(f"the {what} was blocked by guardrail '{name}': {reason}")
        # the `unigate_policy` object a blocked answer carries, whichever way it is given
        self.policy = {"name": name, "action": "block", "phase": phase, "reason": reason}


class UpstreamError(ProviderError):
    """The provider answered with an error; its status (and Retry-After) is passed on. Only
    429 and 5xx are worth another destination: a 4xx is the request's own fault."""

    code = "upstream_error"

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 upstream_type: str | None = None, raw: bytes | None = None,
                 raw_format: str | None = None) -> None:
        super().__init__(message, headers=headers)
        self.status = status
        self.retryable = status == 429 or status >= 500
        self.upstream_type = upstream_type  # the provider's own error type, when it gave one
        # On the fast path the provider's own error body (keys scrubbed), relayed as it came
        # when the client speaks that format and no other destination answered.
        self.raw = raw
        self.raw_format = raw_format


class CredentialsRefused(UpstreamError):
    """The provider answered 401/403 to the gateway's own key: a 502 (the caller's request is not
    at fault), which no retry clears until the key is fixed."""


class UpstreamUnreachable(ProviderError):
    status, code = 502, "upstream_unreachable"


class ProviderKeyMissing(ProviderError):
    """The provider's type needs an API key and the configuration gives none (routing.keys):
    nothing is sent upstream; the message names the variable to set. Retryable: a fallback
    with a key may answer."""

    status, code = 502, "provider_key_missing"


class UpstreamBadResponse(ProviderError):
    """The provider answered with something that is not its documented wire format."""

    status, code = 502, "upstream_bad_response"


class UpstreamTimeout(ProviderError):
    status, code = 504, "upstream_timeout"


class ServiceUnavailable(GatewayError):
    """Something the gateway depends on (its store) does not answer for now: retry shortly."""

    status, code = 503, "service_unavailable"


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
