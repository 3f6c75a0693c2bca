"""Token usage: the Responses `usage` object ↔ `Usage`, and usage read on the fast path.

Responses already counts the way the IR does (cached and reasoning tokens are subsets of
input and output tokens), so the numbers pass through unchanged."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.ir.usage import Usage
from unigate.sse import SSEEvent

# The stream events whose `response` carries the final usage.
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _count(obj: Any, key: str) -> int | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from_wire(raw: Any) -> Usage | None:
    """A `usage` object → `Usage`; None when absent or not an object (never raises)."""
    if not isinstance(raw, dict):
        return None
    details_in = raw.get("input_tokens_details")
    return Usage(
        input_tokens=_count(raw, "input_tokens"),
        output_tokens=_count(raw, "output_tokens"),
        cache_read_tokens=_count(details_in, "cached_tokens"),
        cache_creation_tokens=_count(details_in, "cache_write_tokens"),
        reasoning_tokens=_count(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def usage_to_wire(usage: Usage | None) -> dict[str, Any] | None:
    """`Usage` → a `usage` object; every count is present, as the SDK's type requires."""
    if usage is None:
        return None
    input_tokens = usage.input_tokens or 0
    output_tokens = usage.output_tokens or 0
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens or 0,
            "cache_write_tokens": usage.cache_creation_tokens or 0,
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": input_tokens + output_tokens,
    }


def openai_responses_usage(body: dict[str, Any]) -> Usage | None:
    """Usage of a complete response body (fast path)."""
    return usage_from_wire(body.get("usage")) if isinstance(body, dict) else None


def openai_responses_stream_usage(event: SSEEvent) -> Usage | None:
    """Usage carried by one stream event: only the final response.* events have it."""
    if event.event is not None and event.event not in _FINAL_EVENTS:
        return None
    if '"usage"' not in event.data:
        return None
    try:
        data = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") not in _FINAL_EVENTS:
        return None
    response = data.get("response")
    return usage_from_wire(response.get("usage")) if isinstance(response, dict) else None
