"""Reading an upstream stream with the endpoint's timeouts."""

from __future__ import annotations

from unigate.config import EndpointConfig
from unigate.errors import UpstreamTimeout
from unigate.providers import Provider
from unigate.server import upstream
from unigate.server.upstream_http import UpstreamResponse


def stream_timeouts(endpoint: EndpointConfig) -> tuple[float, float]:
    """(until the first chunk, between later chunks) in seconds."""
    total = endpoint.timeout or upstream.DEFAULT_TIMEOUT
    return endpoint.first_token_timeout or total, total


async def first_chunk(resp: UpstreamResponse, provider: Provider, timeout: float) -> bytes:
    try:
        chunk = await resp.readany(timeout)
    except TimeoutError:
        raise UpstreamTimeout(f"provider '{provider.name}' sent no data in {timeout:g}s") from None
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
    return chunk


async def next_chunk(resp: UpstreamResponse, provider: Provider, timeout: float) -> bytes:
    try:
        return await resp.readany(timeout)
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
