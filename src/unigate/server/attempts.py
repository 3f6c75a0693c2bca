"""Trying an endpoint's destinations in order (the chosen one, then the fallbacks) until one
answers. A failed attempt moves on only while the client has received nothing: each attempt
either returns a response or raises before committing one (streams commit after their first
client bytes, and then report later failures inside the stream)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from unigate.config import Destination
from unigate.errors import GatewayError
from unigate.routing.outcome import cannot_serve, is_retryable, most_meaningful
from unigate.server.attempt import Attempt
from unigate.server.context import RequestContext
from unigate.server.guard import Target
from unigate.server.http import AnyResponse

TryOne = Callable[[Attempt], Awaitable[AnyResponse]]


async def try_in_order(ctx: RequestContext, t: Target, try_one: TryOne) -> AnyResponse:
    if t.endpoint.timeout is not None:  # the endpoint's timeout bounds all attempts together
        ctx.deadline = ctx.t0 + t.endpoint.timeout
    health = ctx.state.health
    failures: list[GatewayError] = []
    last = len(t.attempts) - 1
    for i, dest in enumerate(t.attempts):
        provider = ctx.state.providers[dest.provider]
        ctx.record.destination_provider, ctx.record.destination_model = provider.name, dest.model
        # each attempt translates (or not) for its own provider
        ctx.report = ctx.record.dropped_parameters = ctx.record.emulated_parameters = None
        started = time.perf_counter()
        attempt = Attempt(ctx, t.endpoint, dest, provider)
        try:
            response = await try_one(attempt)
        except GatewayError as err:
            _note(ctx, dest, err.code, err.status, started)
            if is_retryable(err):
                health.failure(dest)
                failures.append(err)
            elif i == 0 or not cannot_serve(err):
                raise  # the client's own mistake: never retried, goes back as it is
            if i == last or (ctx.deadline is not None and time.perf_counter() >= ctx.deadline):
                raise (most_meaningful(failures) if failures else err) from None
            continue
        failed = attempt.failure  # a stream may have failed after its first byte
        (health.failure if failed else health.success)(dest)
        _note(ctx, dest, failed.code if failed else "ok", ctx.record.status_code, started)
        return response
    raise AssertionError("plan_attempts returns at least one destination")


def _note(ctx: RequestContext, dest: Destination, outcome: str, status: int, started: float) -> None:
    """One entry per attempt in the usage row's routing_information."""
    ctx.record.routing.append({
        "provider": dest.provider, "model": dest.model, "outcome": outcome, "status_code": status,
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 3)})
