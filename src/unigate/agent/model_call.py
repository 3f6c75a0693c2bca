"""One model call of an agent loop: the loop's conversation (IR) to the endpoint's destinations
in order, through the same attempt path as a client's request (fallbacks, passive health,
parameter policy, routing entries on the usage row), answered as an IR response."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

import orjson

from unigate.codecs.registry import FORMATS, WireFormat
from unigate.errors import GatewayError
from unigate.ir import IRRequest, IRResponse, StreamEvent
from unigate.ir.fold import StreamFolder
from unigate.server import upstream
from unigate.server.attempt import Attempt
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.guard import Target
from unigate.server.streaming import first_chunk, next_chunk, stream_timeouts
from unigate.server.translate import encode_with_policy
from unigate.sse import SSEDecoder

OnEvent = Callable[[StreamEvent], Awaitable[None]]


async def stream_model(ctx: RequestContext, t: Target, client: WireFormat, ir: IRRequest,
                       on_event: OnEvent) -> IRResponse:
    """The same call, streamed: `on_event` sees each IR event as it arrives (the loop relays
    text deltas to a streaming client), and the folded response is returned. A destination
    that fails before its first event falls back as usual; once events went out, a failure
    is not retried elsewhere (the client has part of this answer)."""
    async def try_one(a: Attempt) -> IRResponse:  # type: ignore[return]
        provider = a.provider
        attempt_ir = copy.deepcopy(ir)
        attempt_ir.stream = True
        target = FORMATS[provider.formats[0]]
        body = encode_with_policy(attempt_ir, client, target, a.endpoint, a.dest.model, provider)
        ctx.report = attempt_ir.report
        url = provider.generate_url(target.name, a.dest.model, True)
        assert ctx.state.session is not None
        resp = await upstream.post(ctx.state.session, provider, url, orjson.dumps(body),
                                   provider.headers(), a.timeout(True), ctx)
        forwarded = False
        try:
            await upstream.raise_for_upstream_status(resp, provider, target)
            first_timeout, idle_timeout = stream_timeouts(a.endpoint)
            sse, decoder, folder = SSEDecoder(), target.stream_decoder(), StreamFolder()
            chunk = await first_chunk(resp, provider, first_timeout)
            while True:
                events = [e for ev in (sse.feed(chunk) if chunk else sse.close()) for e in decoder.feed(ev)]
                if not chunk:
                    events += decoder.close()
                for event in events:
                    folder.add(event)
                    forwarded = True
                    await on_event(event)
                if not chunk:
                    return folder.response()
                chunk = await next_chunk(resp, provider, idle_timeout)
        except GatewayError as err:
            if forwarded:
                err.retryable = False
            raise
        finally:
            resp.close()

    return await try_in_order(ctx, t, try_one)  # type: ignore[arg-type, return-value]


async def call_model(ctx: RequestContext, t: Target, client: WireFormat, ir: IRRequest) -> IRResponse:
    async def try_one(a: Attempt) -> IRResponse:  # type: ignore[return]
        provider = a.provider
        # the parameter policy applies emulations to the IR: each attempt gets its own copy
        attempt_ir = copy.deepcopy(ir)
        attempt_ir.stream = False
        target = FORMATS[provider.formats[0]]
        body = encode_with_policy(attempt_ir, client, target, a.endpoint, a.dest.model, provider)
        ctx.report = attempt_ir.report
        url = provider.generate_url(target.name, a.dest.model, False)
        assert ctx.state.session is not None
        resp = await upstream.post(ctx.state.session, provider, url, orjson.dumps(body),
                                   provider.headers(), a.timeout(False), ctx)
        try:
            await upstream.raise_for_upstream_status(resp, provider, target)
            try:
                data = await resp.read()
            except Exception as e:
                raise upstream.map_read_error(e, provider) from None
            return target.decode_response(upstream.parse_object(data, provider))
        finally:
            resp.close()

    return await try_in_order(ctx, t, try_one)  # type: ignore[arg-type, return-value]
