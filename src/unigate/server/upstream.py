"""Calling a provider: one pooled session, errors mapped to the gateway's hierarchy, and the
provider's key kept out of anything that flows back."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from unigate.codecs.wire_format import UpstreamErrors
from unigate.errors import (
    CredentialsRefused,
    GatewayError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from unigate.providers import Provider
from unigate.server.upstream_http import UpstreamClient, UpstreamResponse

if TYPE_CHECKING:
    from unigate.server.context import RequestContext

DEFAULT_TIMEOUT = 600.0  # seconds for a whole request, when the endpoint sets none
# Upstream statuses that say the gateway's own credentials are wrong: the client's token was
# fine, so passing 401/403 on would mislead it. They become 502 with the provider's message.
CREDENTIAL_STATUSES = (401, 403)


def scrub(text: str, provider: Provider) -> str:
    """Remove the provider key (and its tail, which some providers echo masked) from text."""
    key = provider.api_key
    if key and len(key) >= 8:
        text = text.replace(key, "[REDACTED]").replace(key[-4:], "****")
    return text


async def post(client: UpstreamClient, provider: Provider, url: str, body: bytes,
               headers: dict[str, str], timeout: float | None,
               ctx: RequestContext | None = None) -> UpstreamResponse:
    """POST and return the response once its headers arrived (the caller reads the body and
    closes it). With the request's `ctx`: its trace headers go along, and the time spent
    waiting on the provider is kept apart from the gateway's own."""
    headers["Content-Type"] = "application/json"
    clock = None
    if ctx is not None:
        clock = ctx.clock
        if ctx.trace_headers:
            headers.update(ctx.trace_headers)
    try:
        async with asyncio.timeout(timeout or DEFAULT_TIMEOUT):
            return await client.post(url, body, headers, clock)
    except TimeoutError:
        raise UpstreamTimeout(f"provider '{provider.name}' did not answer in time") from None
    except OSError as e:  # UpstreamConnectionError says what failed, and names no secret
        raise UpstreamUnreachable(
            f"provider '{provider.name}' is unreachable: {scrub(str(e) or type(e).__name__, provider)}"
        ) from None


async def raise_for_upstream_status(resp: UpstreamResponse, provider: Provider,
                                    fmt: UpstreamErrors) -> None:
    """Turn an upstream error response into an `UpstreamError` (a 429 keeps its Retry-After)."""
    if resp.status < 400:
        return
    try:
        body = await resp.read()
    except OSError:
        body = b""
    finally:
        resp.release()
    message, kind = fmt.upstream_error(resp.status, body)
    message = scrub(message, provider)
    headers = {}
    retry = retry_after(resp, body, fmt)
    if retry:
        headers["Retry-After"] = retry
    if resp.status in CREDENTIAL_STATUSES:
        raise CredentialsRefused(502, f"provider '{provider.name}' refused the gateway's credentials "
                                 f"({resp.status}): {message}", upstream_type=kind)
    raise UpstreamError(resp.status, message, headers=headers, upstream_type=kind)


def retry_after(resp: UpstreamResponse, body: bytes, fmt: UpstreamErrors) -> str | None:
    """The upstream's Retry-After in seconds, from the header or from the error body."""
    return resp.headers.get("Retry-After") or fmt.retry_delay(body)


def map_read_error(e: BaseException, provider: Provider) -> GatewayError:
    """An error while reading a response body that had started."""
    if isinstance(e, GatewayError):
        return e
    if isinstance(e, TimeoutError):
        return UpstreamTimeout(f"provider '{provider.name}' stopped answering")
    return UpstreamUnreachable(f"provider '{provider.name}' broke off the response")


async def post_json(ctx: RequestContext, provider: Provider, url: str, body: bytes,
                    timeout: float | None, errors: UpstreamErrors) -> dict[str, Any]:
    """A whole unary call: POST, check the status, read and parse the JSON object answer."""
    assert ctx.state.session is not None
    resp = await post(ctx.state.session, provider, url, body, provider.headers(), timeout, ctx)
    try:
        await raise_for_upstream_status(resp, provider, errors)
        try:
            data = await resp.read()
        except Exception as e:
            raise map_read_error(e, provider) from None
    finally:
        resp.close()
    return parse_object(data, provider)


def parse_object(data: bytes, provider: Provider) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"provider '{provider.name}' sent a body that is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamBadResponse(f"provider '{provider.name}' sent JSON that is not an object")
    return parsed
