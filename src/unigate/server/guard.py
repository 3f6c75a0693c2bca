"""What every query handler shares: authenticate, resolve the endpoint and its destination,
turn any failure into the dialect's own error body, and always leave a usage row."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from unigate.accounting.clients import session_id
from unigate.codecs.registry import FORMATS, WireFormat
from unigate.config import Destination, EndpointConfig
from unigate.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)
from unigate.governance.payloads import BodyCapture
from unigate.governance.retention import payload_logging_enabled
from unigate.governance.tags import parse_request_tags
from unigate.routing.plan import plan_attempts
from unigate.server.auth import authenticate_fresh
from unigate.server.context import RequestContext
from unigate.server.http import AnyResponse
from unigate.store.base import StoreUnavailable

log = logging.getLogger("unigate.request")


@dataclass(slots=True)
class Target:
    endpoint: EndpointConfig
    attempts: list[Destination]  # every destination to try, in order


async def resolve(ctx: RequestContext, name: Any, where: str = "model",
                  body: dict[str, Any] | None = None, rate_limited: bool = True) -> Target:
    """The endpoint the client named, and the destinations to try for this request. Queries
    count against the endpoint's rate limits (token counting, `rate_limited=False`, does not)."""
    try:
        endpoint = authorize(ctx, name, where)
    except (NotFound, PermissionDenied):
        # an endpoint or a grant made a moment ago through another worker: look once more
        if not await ctx.state.catch_up():
            raise
        endpoint = authorize(ctx, name, where)
    if rate_limited:
        await reserve(ctx, endpoint, body)
    return plan(ctx, endpoint)


def authorize(ctx: RequestContext, name: Any, where: str = "model") -> EndpointConfig:
    """The endpoint named by `name` (the body's `where` field, or the URL), if the caller may
    query it: 400 without a name, 404 for an unknown one, 403 without CAN_QUERY."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}' is required: the name of the endpoint to query", param=where)
    endpoint = ctx.state.endpoints.get(name)
    if endpoint is None:
        raise NotFound(f"endpoint '{name}' does not exist", param=where)
    ctx.record.endpoint_name = name
    assert ctx.principal is not None
    if not ctx.state.can_query(ctx.principal, name):
        raise PermissionDenied(f"you do not have CAN_QUERY permission on endpoint '{name}'")
    return endpoint


async def reserve(ctx: RequestContext, endpoint: EndpointConfig, body: dict[str, Any] | None) -> None:
    """Take this request's share of the endpoint's rate limits and of the budgets that apply
    (429 when one is spent); settled on real usage and cost when the request ends."""
    limits = ctx.state.snap.limits.get(endpoint.name)
    budgets = ctx.state.budgets
    if limits and budgets.index and budgets.folds:  # with Redis: both in one round trip
        tokens = estimate_tokens(ctx.raw_body, body, FORMATS.get(ctx.fmt_name))
        await budgets.reserve(ctx, endpoint, body, limits, tokens)
        return
    if limits:
        p = ctx.principal
        assert p is not None
        ctx.reservation = await ctx.state.limiter.acquire(
            endpoint.name, limits, p.type, p.name, ctx.state.snap.groups_of.get((p.type, p.name), frozenset()),
            ctx.record.request_tags or {}, estimate_tokens(ctx.raw_body, body, FORMATS.get(ctx.fmt_name)))
    if budgets.index:  # spend budgets: the estimated cost reserved, 429 when it does not fit
        await budgets.reserve(ctx, endpoint, body)


def plan(ctx: RequestContext, endpoint: EndpointConfig) -> Target:
    """The destinations to try, in order, and payload capture if the endpoint logs payloads."""
    if payload_logging_enabled(endpoint.inference_table):
        ctx.capture = BodyCapture()
    # a session (accounting.clients.session_id) sticks to one destination while it is healthy:
    # prompt caches stay warm, a conversation keeps one model
    return Target(endpoint, plan_attempts(endpoint, ctx.state.health, ctx.record.session_id))


def estimate_tokens(raw: bytes, body: dict[str, Any] | None, fmt: WireFormat | None) -> int:
    """What a token limit reserves before the call: the input (about four bytes of request a
    token) plus the most the client allows the model to write."""
    out = fmt.max_output_tokens(body) if fmt is not None and body else 0
    return len(raw) // 4 + max(out, 0)


async def guarded(ctx: RequestContext, render_error: Callable[[GatewayError], dict[str, Any]],
                  work: Callable[[], Awaitable[AnyResponse]]) -> AnyResponse:
    try:
        try:
            principal = ctx.principal = await authenticate_fresh(ctx.request, ctx.state)
            ctx.record.requester, ctx.record.requester_type = principal.name, principal.type
            ctx.record.token_id = principal.token_id
            ctx.record.request_tags = parse_request_tags(ctx.request.headers)
            ctx.record.session_id = session_id(ctx.request.headers)
            return await work()
        except GatewayError:
            raise
        except StoreUnavailable as e:  # stored responses (previous_response_id, background)
            log.warning("request %s: %s", ctx.request_id, e)
            raise ServiceUnavailable("the gateway's store is not available; retry shortly",
                                     headers={"Retry-After": "2"}) from None
        except Exception:
            log.exception("request %s failed", ctx.request_id)
            raise InternalError(f"internal error (request id {ctx.request_id})") from None
    except GatewayError as err:
        return ctx.error_response(err, render_error)
    finally:
        ctx.finish()
