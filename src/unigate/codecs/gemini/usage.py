"""Gemini `usageMetadata` ↔ IR usage.

Gemini counts thoughts apart from the answer (`thoughtsTokenCount` is not in
`candidatesTokenCount`) and the prompt of built-in tools apart from the prompt
(`toolUsePromptTokenCount`); the IR counts both in, OpenAI-style."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.ir.usage import Usage
from unigate.sse import SSEEvent


def _count(um: dict[str, Any], key: str) -> int | None:
    value = um.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from_metadata(um: Any) -> Usage | None:
    if not isinstance(um, dict):
        return None
    prompt = _count(um, "promptTokenCount")
    tool_prompt = _count(um, "toolUsePromptTokenCount")
    answer = _count(um, "candidatesTokenCount")
    thoughts = _count(um, "thoughtsTokenCount")
    total = _count(um, "totalTokenCount")
    inp = None if prompt is None and tool_prompt is None else (prompt or 0) + (tool_prompt or 0)
    out = None if answer is None and thoughts is None else (answer or 0) + (thoughts or 0)
    if out is None and total is not None and inp is not None:
        out = max(total - inp, 0)  # Gemini leaves out candidatesTokenCount when it is 0
    return Usage(input_tokens=inp, output_tokens=out,
                 cache_read_tokens=_count(um, "cachedContentTokenCount"),
                 reasoning_tokens=thoughts)


def usage_to_metadata(u: Usage) -> dict[str, Any]:
    um: dict[str, Any] = {}
    if u.input_tokens is not None:
        um["promptTokenCount"] = u.input_tokens
    if u.output_tokens is not None:
        um["candidatesTokenCount"] = u.output_tokens - (u.reasoning_tokens or 0)
    total = u.total_tokens
    if total is not None:
        um["totalTokenCount"] = total
    if u.cache_read_tokens:  # Gemini leaves out zero counts
        um["cachedContentTokenCount"] = u.cache_read_tokens
    if u.reasoning_tokens:
        um["thoughtsTokenCount"] = u.reasoning_tokens
    return um


def gemini_usage(body: dict[str, Any]) -> Usage | None:
    """Usage of a complete generateContent response (fast path)."""
    return usage_from_metadata(body.get("usageMetadata")) if isinstance(body, dict) else None


def gemini_stream_usage(event: SSEEvent) -> Usage | None:
    """Usage in one streamed chunk. Every chunk repeats the running totals, so the last one
    holds the final counts."""
    if "usageMetadata" not in event.data:
        return None
    try:
        chunk = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        return None
    return gemini_usage(chunk) if isinstance(chunk, dict) else None
