"""Reading an upstream stream with the endpoint's timeouts."""

from __future__ import annotations

import asyncio

import aiohttp

from unigate.config import EndpointConfig
from unigate.errors import UpstreamTimeout
from unigate.providers import Provider
from unigate.server import upstream


def stream_timeouts(endpoint: EndpointConfig) -> tuple[float, float]:
    """(until the first chunk, between later chunks) in seconds."""
    total = endpoint.timeout or upstream.DEFAULT_TIMEOUT
    return endpoint.first_token_timeout or total, total


async def first_chunk(resp: aiohttp.ClientResponse, provider: Provider, timeout: float) -> bytes:
    try:
        async with asyncio.timeout(timeout):
            chunk = await resp.content.readany()
    except TimeoutError:
        raise UpstreamTimeout(f"provider '{provider.name}' sent no data in {timeout:g}s") from None
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
    return chunk


async def next_chunk(resp: aiohttp.ClientResponse, provider: Provider, timeout: float) -> bytes:
    try:
        async with asyncio.timeout(timeout):
            return await resp.content.readany()
    except Exception as e:
        raise upstream.map_read_error(e, provider) from None
