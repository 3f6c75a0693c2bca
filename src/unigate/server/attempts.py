"""Trying an endpoint's destinations in order (the chosen one, then the fallbacks) until one
answers. A failed attempt moves on only while the client has received nothing: each attempt
either returns a response or raises before committing one (streams commit after their first
client bytes, and then report later failures inside the stream)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from unigate.config import Destination
from unigate.errors import GatewayError, ProviderKeyMissing
from unigate.observability.spans import Span
from unigate.observability.tracing import OPERATIONS, server_address
from unigate.providers import Provider
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
        span = _start_span(ctx, dest, provider)
        try:
            if provider.missing_key is not None:  # no key: skipped like a failing destination
                raise ProviderKeyMissing(provider.missing_key)
            response = await try_one(attempt)
        except GatewayError as err:
            _note(ctx, dest, err.code, err.status, started, span)
            if is_retryable(err):
                health.failure(dest)
                failures.append(err)
            elif i == 0 or not cannot_serve(err):
                raise  # the client's own mistake: never retried, goes back as it is
            if i == last or (ctx.deadline is not None and time.perf_counter() >= ctx.deadline):
                raise (most_meaningful(failures) if failures else err) from None
            ctx.state.metrics.add("unigate_fallbacks_total", (t.endpoint.name, dest.provider, err.code))
            continue
        except BaseException as e:  # cancelled (the client went away), or a bug guarded() reports
            cancelled = isinstance(e, asyncio.CancelledError)
            _note(ctx, dest, "cancelled" if cancelled else "internal_error", 499 if cancelled else 500, started, span)
            raise
        failed = attempt.failure  # a stream may have failed after its first byte
        (health.failure if failed else health.success)(dest)
        _note(ctx, dest, failed.code if failed else "ok", ctx.record.status_code, started, span)
        return response
    raise AssertionError("plan_attempts returns at least one destination")


def _start_span(ctx: RequestContext, dest: Destination, provider: Provider) -> Span | None:
    """The attempt's client span (when the request is traced); the provider hears of it."""
    tracer = ctx.state.tracer
    if ctx.span is None or tracer is None:
        return None
    operation = OPERATIONS.get(ctx.record.api_type, ctx.record.api_type)
    attributes = {"gen_ai.operation.name": operation, "gen_ai.request.model": dest.model,
                  "gen_ai.provider.name": provider.GENAI_NAME or provider.type,
                  "unigate.provider": provider.name, **server_address(provider.base_url)}
    span = tracer.start_attempt(ctx.span, f"{operation} {dest.model}", attributes)
    ctx.attempt_trace(span)
    return span


def _note(ctx: RequestContext, dest: Destination, outcome: str, status: int, started: float,
          span: Span | None) -> None:
    """One entry per attempt in the usage row's routing_information, its metric and its span."""
    seconds = time.perf_counter() - started
    ctx.record.routing.append({
        "provider": dest.provider, "model": dest.model, "outcome": outcome, "status_code": status,
        "duration_ms": round(seconds * 1000.0, 3)})
    ctx.state.metrics.attempt_done(dest.provider, outcome, seconds)
    if span is not None and ctx.state.tracer is not None:
        span.attributes["http.response.status_code"] = status
        usage = ctx.record.usage
        if outcome == "ok" and usage is not None:
            if usage.input_tokens is not None:
                span.attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
            if usage.output_tokens is not None:
                span.attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
        ctx.state.tracer.end(span, None if outcome == "ok" else outcome)
