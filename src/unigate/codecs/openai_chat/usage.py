"""Token usage in chat completions: `usage` objects ↔ IR, and cheap reads for the fast path."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.ir.usage import Usage
from unigate.sse import SSEEvent


def _int(obj: Any, key: str) -> int | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_to_ir(usage: Any) -> Usage | None:
    """An OpenAI `usage` object → IR (OpenAI's conventions are the IR's: no arithmetic)."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    cached = _int(prompt, "cached_tokens")
    if cached is None:
        cached = _int(usage, "prompt_cache_hit_tokens")  # DeepSeek's older spelling
    return Usage(
        input_tokens=_int(usage, "prompt_tokens"),
        output_tokens=_int(usage, "completion_tokens"),
        cache_read_tokens=cached,
        cache_creation_tokens=_int(prompt, "cache_write_tokens"),
        reasoning_tokens=_int(completion, "reasoning_tokens"),
    )


def ir_to_usage(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens or 0
    completion = usage.output_tokens or 0
    prompt_details: dict[str, int] = {"cached_tokens": usage.cache_read_tokens or 0}
    if usage.cache_creation_tokens is not None:
        prompt_details["cache_write_tokens"] = usage.cache_creation_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }


def openai_chat_usage(body: dict[str, Any]) -> Usage | None:
    """Usage of a complete chat.completion body."""
    return usage_to_ir(body.get("usage")) if isinstance(body, dict) else None


def openai_chat_stream_usage(event: SSEEvent) -> Usage | None:
    """Usage carried by one chunk. With include_usage every chunk has `"usage":null` and only
    the last one a real object, so a null is recognised without parsing the chunk."""
    data = event.data
    at = data.find('"usage"')
    if at < 0:
        return None
    colon = data.find(":", at + 7)
    if colon < 0 or data[colon + 1:colon + 6].lstrip().startswith("null"):
        return None
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return openai_chat_usage(chunk)
