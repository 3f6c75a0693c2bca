"""The translated path: client dialect → IR → provider wire format, and back."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from unigate.codecs.registry import FORMATS, WireFormat
from unigate.config import EndpointConfig
from unigate.errors import GatewayError, GuardrailBlocked
from unigate.ir import IRRequest, Usage, UsageEvent
from unigate.ir.parameters import set_path
from unigate.providers import Provider
from unigate.server import upstream
from unigate.server.attempt import Attempt, Generation
from unigate.server.blocked import end_filtered, filtered_response
from unigate.server.http import AnyResponse, Response
from unigate.server.streaming import first_chunk, next_chunk, stream_timeouts
from unigate.server.upstream_http import UpstreamResponse
from unigate.sse import SSEDecoder


def encode_with_policy(ir: IRRequest, client: WireFormat, target: WireFormat,
                       endpoint: EndpointConfig, model: str, provider: Provider) -> dict[str, Any]:
    """The upstream body, after the parameter policy (`ir.parameters`): parameters the IR has
    no field for go back verbatim to a target of the client's own format; toward another,
    advisory ones are dropped, emulated ones applied to the IR, semantic ones refused (or
    dropped, by the endpoint's `unsupported_parameters`). `ir.report` says what happened."""
    ir.report = report = client.parameters.report(endpoint.unsupported_parameters == "drop")
    same = target.name == client.name
    if not same:
        for name in ir.advisory:
            report.drop(name)
        for name, value in ir.emulate.items():
            client.parameters.emulators[name](ir, value)
            report.emulate(name)
        for name in ir.extra:
            report.unknown(name, f"provider '{provider.name}' ({provider.type})")
    body = target.encode_request(ir, model, provider)
    if same:
        for params in (ir.advisory, ir.emulate, ir.extra):
            for name, value in params.items():
                set_path(body, name, value)
    return body


async def translate(gen: Generation, a: Attempt) -> AnyResponse:
    ctx, client, provider = a.ctx, gen.client, a.provider
    # (the parameter policy applies emulations to the IR: each attempt gets its own copy)
    ir = copy.deepcopy(gen.ir) if gen.ir is not None else client.decode_request(gen.body, gen.opts)
    ir.stream = gen.stream
    target = FORMATS[provider.formats[0]]
    payload = orjson.dumps(encode_with_policy(ir, client, target, a.endpoint, a.dest.model, provider))
    ctx.report = ir.report
    ctx.record.dropped_parameters = ir.report.dropped or None
    ctx.record.emulated_parameters = ir.report.emulated or None
    url = provider.generate_url(target.name, a.dest.model, gen.stream)
    state = ctx.state
    assert state.session is not None
    resp = await upstream.post(state.session, provider, url, payload, provider.headers(), a.timeout(gen.stream),
                               ctx)
    try:
        await upstream.raise_for_upstream_status(resp, provider, target)
        if gen.stream:
            return await _translate_stream(gen, a, target, resp, ir)
        return await _translate_unary(gen, a, target, resp, ir)
    finally:
        resp.close()


async def _translate_unary(gen: Generation, a: Attempt, target: WireFormat,
                           resp: UpstreamResponse, ir: IRRequest) -> Response:
    ctx, provider = a.ctx, a.provider
    try:
        data = await resp.read()
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
    ir_resp = target.decode_response(upstream.parse_object(data, provider))
    ctx.record.usage = ir_resp.usage
    if gen.guard is not None and gen.guard.reads_output:
        try:
            await gen.guard.check_output(ir_resp)
        except GuardrailBlocked as blocked:
            if gen.guard.rails.response != "content_filter":
                raise
            return filtered_response(ctx, gen, ir, a.endpoint.name, blocked, ir_resp)
    return ctx.json_response(orjson.dumps(gen.client.encode_response(ir_resp, a.endpoint.name, ir)))


async def _translate_stream(gen: Generation, a: Attempt, target: WireFormat,
                            resp: UpstreamResponse, ir: IRRequest) -> AnyResponse:
    ctx, provider = a.ctx, a.provider
    first_timeout, idle_timeout = stream_timeouts(a.endpoint)
    sse = SSEDecoder()
    decoder = target.stream_decoder()
    encoder = gen.client.stream_encoder(a.endpoint.name, gen.opts, ir)
    usage = Usage()
    seen_usage = False
    guard = gen.guard if gen.guard is not None and gen.guard.reads_output else None
    window = guard.stream_window() if guard is not None else None
    blocked: GuardrailBlocked | None = None

    async def convert(chunk: bytes, last: bool) -> bytes:
        nonlocal seen_usage, blocked
        events = sse.feed(chunk) if chunk else sse.close()
        ir_events = [e for ev in events for e in decoder.feed(ev)]
        if last:
            ir_events += decoder.close()
        for ev in ir_events:  # counted as it comes, whatever the window holds back
            if isinstance(ev, UsageEvent):
                usage.merge(ev.usage)
                seen_usage = True
        if window is not None:
            assert guard is not None
            try:
                ir_events = await window.feed(ir_events, last)
            except GuardrailBlocked as b:  # what was held is dropped; the stream ends filtered
                blocked = b
                start = window.held_start()
                return end_filtered(encoder, [start] if start is not None else [], b)
            guard.released(ir_events)
        return b"".join(encoder.encode(ev) for ev in ir_events)

    # Nothing goes to the client until upstream chunks have produced its first bytes: a
    # provider that fails before that still gets a proper error status (and a fallback), and
    # an answer an output guardrail blocks in its first window gets the guardrail's 400.
    chunk = await first_chunk(resp, provider, first_timeout)
    pending = await convert(chunk, not chunk)
    while chunk and not pending and blocked is None:
        chunk = await next_chunk(resp, provider, idle_timeout)
        pending = await convert(chunk, not chunk)
    if blocked is not None and guard is not None and guard.rails.response != "content_filter":
        raise blocked
    out = await ctx.open_stream()
    try:
        while chunk and blocked is None:
            if pending:
                await ctx.write(out, pending)
            chunk = await next_chunk(resp, provider, idle_timeout)
            pending = await convert(chunk, not chunk)
        await ctx.write(out, pending if blocked is not None else pending + encoder.close())
    except GatewayError as err:
        a.failed_midstream(err)
        await ctx.write(out, encoder.error(err))
    finally:
        if seen_usage:
            ctx.record.usage = usage
    # No write_eof here: the server ends the response once the handler has returned, after
    # guarded() settled the rate-limit reservation, so the client's next request (on any
    # worker) already sees what this one really used.
    return out
