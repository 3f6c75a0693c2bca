"""The same-format fast path: the client speaks the provider's own wire format, so the body
is relayed as bytes with only `model` and credentials changed, and the response comes back
as it came, with `model` naming the endpoint the client asked for. It is read on the side
only for usage accounting. New provider features work here on day one."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

from unigate.codecs.registry import WireFormat
from unigate.errors import GatewayError, UpstreamBadResponse, UpstreamError
from unigate.providers import Provider
from unigate.server import upstream
from unigate.server.attempt import Attempt, Generation
from unigate.server.context import RequestContext
from unigate.server.fast_stream import FastStreamRelay
from unigate.server.http import AnyResponse, Response
from unigate.server.streaming import first_chunk, next_chunk, stream_timeouts
from unigate.server.upstream_http import UpstreamResponse
from unigate.sse import SSEDecoder


@lru_cache(maxsize=8)
def _field_pattern_bytes(key: str) -> re.Pattern[bytes]:
    # the string's body as runs of plain characters between escapes (the "unrolled loop"):
    # twice as fast in Python's regex engine as an alternation tried character by character
    return re.compile(b'"' + key.encode() + rb'"\s*:\s*"[^"\\]*(?:\\.[^"\\]*)*"')


def rewrite_request_model(raw: bytes, body: dict[str, Any], model: str) -> bytes:
    """Replace the top-level "model" value in the raw bytes; fall back to re-serialising when
    the match is ambiguous (a nested "model" key holding the same string, odd escapes)."""
    pattern = _field_pattern_bytes("model")
    wanted = body.get("model")
    hits = [m for m in pattern.finditer(raw)
            if orjson.loads(m.group(0).split(b":", 1)[1]) == wanted]
    if len(hits) == 1:
        m = hits[0]
        return raw[:m.start()] + b'"model":' + orjson.dumps(model) + raw[m.end():]
    body = dict(body, model=model)
    return orjson.dumps(body)


@lru_cache(maxsize=256)
def _bytes_rewriter(key: str, endpoint: str) -> Callable[[bytes], bytes]:
    """Sets every `"<key>": "..."` field to the endpoint name (responses name what the client
    asked for). String contents are JSON-escaped, so only real keys can match."""
    replacement = b'"' + key.encode() + b'":' + orjson.dumps(endpoint)
    # a literal template (backslashes doubled) rather than a Python callback for every match
    template = replacement.replace(b"\\", b"\\\\")
    return functools.partial(_field_pattern_bytes(key).sub, template)


def _client_headers(ctx: RequestContext, provider: Provider) -> dict[str, str]:
    headers = provider.headers()
    for name in provider.forward_headers:
        value = ctx.request.headers.get(name)
        if value:
            headers[name] = value
    return headers


async def relay_same_format(gen: Generation, a: Attempt) -> AnyResponse:
    ctx, fmt, body, opts, dest, provider = a.ctx, gen.client, gen.body, gen.opts, a.dest, a.provider
    hide_usage_chunk = False
    if opts.model is not None:  # the format names the model in the URL: the body goes as it is
        raw = ctx.raw_body
    elif gen.stream and fmt.with_stream_usage is not None and not opts.include_usage:
        # usage only when asked: ask, for the gateway's accounting, and hide the extra chunk
        raw = orjson.dumps(dict(fmt.with_stream_usage(body), model=dest.model))
        hide_usage_chunk = True
    else:
        raw = rewrite_request_model(ctx.raw_body, body, dest.model)
    url = provider.generate_url(fmt.name, dest.model, gen.stream)
    state = ctx.state
    assert state.session is not None
    resp = await upstream.post(state.session, provider, url, raw, _client_headers(ctx, provider),
                               a.timeout(gen.stream), ctx)
    try:
        if resp.status >= 400:
            return await _relay_error(fmt, resp, provider)
        if gen.stream and resp.content_type == "text/event-stream":
            return await _relay_stream(gen, a, resp, hide_usage_chunk)
        return await _relay_unary(fmt, a, resp)
    finally:
        resp.close()


async def _relay_error(fmt: WireFormat, resp: UpstreamResponse, provider: Provider) -> Response:
    """Raises the provider's error, keeping its body for a faithful relay if it is final."""
    if resp.status in upstream.CREDENTIAL_STATUSES:
        await upstream.raise_for_upstream_status(resp, provider, fmt)
    data = await resp.read()
    message, kind = fmt.upstream_error(resp.status, data)
    headers = {}
    retry = upstream.retry_after(resp, data, fmt)
    if retry:
        headers["Retry-After"] = retry
    raw = upstream.scrub(data.decode("utf-8", "replace"), provider).encode()
    raise UpstreamError(resp.status, upstream.scrub(message, provider), headers=headers,
                        upstream_type=kind, raw=raw, raw_format=fmt.name)


async def _relay_unary(fmt: WireFormat, a: Attempt, resp: UpstreamResponse) -> Response:
    ctx, provider = a.ctx, a.provider
    try:
        data = await resp.read()
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"provider '{provider.name}' sent a body that is not JSON") from None
    if isinstance(parsed, dict):
        ctx.record.usage = fmt.usage(parsed)
    return ctx.json_response(_bytes_rewriter(fmt.model_key, a.endpoint.name)(data), resp.status)


def _check_first_event(chunk: bytes, provider: Provider) -> None:
    """Before the client sees a byte, make sure the provider is speaking SSE with JSON events:
    a broken stream caught here can still fall back. Later events are relayed unread."""
    ends = [i for i in (chunk.find(b"\n\n"), chunk.find(b"\r\n\r\n")) if i >= 0]
    events = SSEDecoder().feed(chunk[:min(ends) + 4]) if ends else []  # the first event only
    if not chunk.strip():
        raise UpstreamBadResponse(f"provider '{provider.name}' ended the stream before any event")
    if events and events[0].data != "[DONE]":
        try:
            orjson.loads(events[0].data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(f"provider '{provider.name}' sent a stream event that is not JSON") from None


async def _relay_stream(gen: Generation, a: Attempt, resp: UpstreamResponse,
                        hide_usage_chunk: bool) -> AnyResponse:
    ctx, fmt, endpoint, provider = a.ctx, gen.client, a.endpoint, a.provider
    first_timeout, idle_timeout = stream_timeouts(endpoint)
    chunk = await first_chunk(resp, provider, first_timeout)
    _check_first_event(chunk, provider)
    out = await ctx.open_stream()
    relay = FastStreamRelay(_bytes_rewriter(fmt.model_key, endpoint.name), fmt.stream_usage,
                            fmt.is_usage_only if hide_usage_chunk else None, fmt.stream_error)
    try:
        while chunk:
            data = relay.feed(chunk)
            if data:
                await ctx.write(out, data)
            chunk = await next_chunk(resp, provider, idle_timeout)
        data = relay.close()
        if data:
            await ctx.write(out, data)
        if relay.error is not None:  # relayed as the provider sent it; the attempt failed
            a.failed_midstream(relay.error)
    except GatewayError as err:
        a.failed_midstream(err)
        await ctx.write(out, fmt.stream_encoder(endpoint.name, gen.opts, None).error(err))
    finally:
        ctx.record.usage = relay.usage
    # No write_eof here: the server ends the response once the handler has returned, after
    # guarded() settled the rate-limit reservation, so the client's next request (on any
    # worker) already sees what this one really used.
    return out
