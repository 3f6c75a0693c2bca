"""Anthropic usage ↔ IR Usage.

Anthropic's `input_tokens` leaves out the prompt tokens read from or written to the cache
(those are `cache_read_input_tokens` / `cache_creation_input_tokens`); the IR counts every
prompt token in `input_tokens`, so decoding adds them in and encoding takes them out."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.ir.usage import Usage
from unigate.sse import SSEEvent


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def anthropic_usage_to_ir(u: Any) -> Usage | None:
    """An Anthropic `usage` object (a response's, message_start's or message_delta's)."""
    if not isinstance(u, dict):
        return None
    raw_in = _int(u.get("input_tokens"))
    cache_read = _int(u.get("cache_read_input_tokens"))
    cache_write = _int(u.get("cache_creation_input_tokens"))
    details = u.get("output_tokens_details")
    thinking = _int(details.get("thinking_tokens")) if isinstance(details, dict) else None
    return Usage(
        input_tokens=None if raw_in is None else raw_in + (cache_read or 0) + (cache_write or 0),
        output_tokens=_int(u.get("output_tokens")),
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_write,
        reasoning_tokens=thinking,
    )


def ir_usage_to_anthropic(usage: Usage | None, *, zero_output: bool = False) -> dict[str, Any]:
    """IR Usage → an Anthropic usage object; unknown counts are written as 0 where the
    format requires them (input_tokens, output_tokens) and left out otherwise."""
    u = usage or Usage()
    cache_read, cache_write = u.cache_read_tokens, u.cache_creation_tokens
    raw_in = max(0, (u.input_tokens or 0) - (cache_read or 0) - (cache_write or 0))
    out: dict[str, Any] = {"input_tokens": raw_in}
    if cache_write is not None:
        out["cache_creation_input_tokens"] = cache_write
    if cache_read is not None:
        out["cache_read_input_tokens"] = cache_read
    out["output_tokens"] = 0 if zero_output else (u.output_tokens or 0)
    return out


def anthropic_usage(body: dict[str, Any]) -> Usage | None:
    """Usage of a complete Messages response body (fast path)."""
    return anthropic_usage_to_ir(body.get("usage"))


def anthropic_stream_usage(event: SSEEvent) -> Usage | None:
    """Usage carried by one stream event (message_start, message_delta), if any (fast path)."""
    if event.event not in (None, "message_start", "message_delta"):
        return None
    data = event.data
    if "usage" not in data:
        return None
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if kind == "message_start":
        message = payload.get("message")
        return anthropic_usage_to_ir(message.get("usage")) if isinstance(message, dict) else None
    if kind == "message_delta":
        return anthropic_usage_to_ir(payload.get("usage"))
    return None
