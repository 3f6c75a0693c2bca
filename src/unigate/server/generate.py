"""Generation requests on every surface: find the endpoint, then try its destinations in
order (the chosen one, then the fallbacks) until one answers. Each attempt takes the fast path
(same wire format) or the translated path. A failed attempt moves on only while the client
has received nothing: after the first byte, a failure ends the stream with the dialect's own
error event instead."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from unigate.codecs.registry import ClientOptions, WireFormat
from unigate.config import Destination
from unigate.errors import GatewayError
from unigate.routing.outcome import cannot_serve, is_retryable, most_meaningful
from unigate.server.context import RequestContext
from unigate.server.fastpath import relay_same_format
from unigate.server.guard import Target, guarded, resolve
from unigate.server.translate import translate


async def handle_generate(ctx: RequestContext, fmt: WireFormat,
                          opts: ClientOptions) -> web.StreamResponse:
    ctx.fmt_name = fmt.name

    async def work() -> web.StreamResponse:
        body = await ctx.read_json()
        t = resolve(ctx, opts.model if opts.model is not None else body.get("model"), body=body)
        stream = opts.stream if opts.stream is not None else body.get("stream") is True
        ctx.record.streaming = stream
        options = body.get("stream_options")
        opts.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await route(ctx, fmt, body, t, stream, opts)

    return await guarded(ctx, fmt.error_body, work)


async def route(ctx: RequestContext, fmt: WireFormat, body: dict[str, Any], t: Target,
                stream: bool, opts: ClientOptions) -> web.StreamResponse:
    if t.endpoint.timeout is not None:  # the endpoint's timeout bounds all attempts together
        ctx.deadline = ctx.t0 + t.endpoint.timeout
    failures: list[GatewayError] = []
    for i, dest in enumerate(t.attempts):
        started = time.perf_counter()
        try:
            response = await _attempt(ctx, fmt, body, t, dest, stream, opts)
        except GatewayError as err:
            _note(ctx, dest, err.code, err.status, started)
            first = i == 0
            if is_retryable(err):
                ctx.state.health.failure(dest)
                failures.append(err)
            elif first or not cannot_serve(err):
                raise  # the client's own mistake: never retried, goes back as it is
            if i == len(t.attempts) - 1 or (ctx.deadline and time.perf_counter() >= ctx.deadline):
                raise most_meaningful(failures) if failures else err from None
            continue
        ok = ctx.record.error_code is None
        (ctx.state.health.success if ok else ctx.state.health.failure)(dest)
        _note(ctx, dest, "ok" if ok else ctx.record.error_code or "error", ctx.record.status_code, started)
        return response
    raise AssertionError("plan_attempts returns at least one destination")


async def _attempt(ctx: RequestContext, fmt: WireFormat, body: dict[str, Any], t: Target,
                   dest: Destination, stream: bool, opts: ClientOptions) -> web.StreamResponse:
    provider = ctx.state.providers[dest.provider]
    ctx.record.destination_provider, ctx.record.destination_model = provider.name, dest.model
    if fmt.name in provider.formats and opts.sse:
        return await relay_same_format(ctx, fmt, body, t.endpoint, dest, provider, stream, opts)
    return await translate(ctx, fmt, body, t.endpoint, dest, provider, stream, opts)


def _note(ctx: RequestContext, dest: Destination, outcome: str, status: int, started: float) -> None:
    """One entry per attempt in the usage row's routing_information."""
    ctx.record.routing.append({
        "provider": dest.provider, "model": dest.model, "outcome": outcome, "status_code": status,
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 3)})
