"""Generation requests on every surface: find the endpoint, then try its destinations in
order (see `server.attempts`). Each attempt takes the fast path (same wire format) or the
translated path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from unigate.codecs.registry import ClientOptions, WireFormat
from unigate.errors import GuardrailBlocked
from unigate.guardrails.rails import EndpointGuardrails
from unigate.server.attempt import Attempt, Generation
from unigate.server.attempts import try_in_order
from unigate.server.blocked import filtered_response, filtered_stream
from unigate.server.context import RequestContext
from unigate.server.fastpath import relay_same_format
from unigate.server.guard import guarded, resolve
from unigate.server.guardrails import RequestGuard
from unigate.server.http import AnyResponse
from unigate.server.translate import translate

# A handler for requests the gateway answers itself (the agent loop of hosted tools):
# (when it applies to a body, what runs it)
Agent = tuple[Callable[[dict[str, Any]], bool],
              Callable[[RequestContext, WireFormat, dict[str, Any]], Awaitable[AnyResponse]]]


async def handle_generate(ctx: RequestContext, fmt: WireFormat, opts: ClientOptions,
                          agent: Agent | None = None) -> AnyResponse:
    ctx.fmt_name = fmt.name

    async def work() -> AnyResponse:
        body = await ctx.read_json()
        if agent is not None and agent[0](body):
            return await agent[1](ctx, fmt, body)
        t = await resolve(ctx, opts.model if opts.model is not None else body.get("model"), body=body)
        stream = opts.stream if opts.stream is not None else body.get("stream") is True
        ctx.record.streaming = stream
        opts.include_usage = fmt.wants_stream_usage(body)

        gen = Generation(fmt, body, opts, stream)
        rails = t.endpoint.guardrails
        if rails is not None:
            blocked = await guard_input(ctx, gen, rails)
            if blocked is not None:
                return blocked

        async def try_one(a: Attempt) -> AnyResponse:
            if gen.same_format(a.provider.formats):
                return await relay_same_format(gen, a)
            return await translate(gen, a)

        return await try_in_order(ctx, t, try_one)

    return await guarded(ctx, fmt.error_body, work)


async def guard_input(ctx: RequestContext, gen: Generation, rails: EndpointGuardrails) -> AnyResponse | None:
    """The input guardrails, before any provider hears of the request: a sanitized request is
    sent from its IR; a blocked one is answered here (a 400, or a filtered answer)."""
    guard = gen.guard = RequestGuard(ctx, rails)
    if not rails.input and not rails.output.judges:  # (a judge of the answer reads the prompt too)
        return None
    ir = gen.client.decode_request(gen.body, gen.opts)
    try:
        if await guard.check_input(ir):
            gen.ir = ir
    except GuardrailBlocked as blocked:
        if rails.response != "content_filter":
            raise
        endpoint = ctx.record.endpoint_name or ""
        if gen.stream:
            return await filtered_stream(ctx, gen, ir, endpoint, blocked)
        return filtered_response(ctx, gen, ir, endpoint, blocked)
    return None
