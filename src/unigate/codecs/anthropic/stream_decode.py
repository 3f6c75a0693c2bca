"""Anthropic Messages SSE events from an upstream → IR stream events.

Anthropic numbers content blocks itself; IR indexes are assigned here, in order of the
first event each block yields, so that blocks the IR cannot stream (server tool calls and
their results) leave no gaps."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.anthropic.errors import status_for_error_type
from unigate.codecs.anthropic.fields import compact_json
from unigate.codecs.anthropic.response import stop_to_ir
from unigate.codecs.anthropic.usage import anthropic_usage_to_ir
from unigate.errors import UpstreamBadResponse, UpstreamError
from unigate.ir.stream import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UnknownPartDelta,
    UsageEvent,
)
from unigate.ir.usage import Usage
from unigate.sse import SSEEvent

_FORMAT = "anthropic"
_STREAMED = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})



def event_error(event: str | None, data: Any) -> UpstreamError | None:
    """`{"type": "error", "error": {"type": ..., "message": ...}}` (the `error` event)."""
    if not isinstance(data, dict) or data.get("type") != "error":
        return None
    return _error(data.get("error"))


def _error(err: Any) -> UpstreamError:
    err = err if isinstance(err, dict) else {}
    kind = err.get("type") if isinstance(err.get("type"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else None
    return UpstreamError(status_for_error_type(kind), message or "Anthropic stream error", upstream_type=kind)

class AnthropicStreamDecoder:
    __slots__ = ("_ir_index", "_kinds", "_next", "_raw_usage", "_stopped", "_unknown")

    def __init__(self) -> None:
        self._kinds: dict[int, str] = {}  # Anthropic block index → block type
        self._ir_index: dict[int, int] = {}  # Anthropic block index → IR index
        self._next = 0
        # Anthropic's own counters, cumulative: message_delta may restate only some of them.
        self._raw_usage: dict[str, Any] = {}
        self._stopped = False
        # blocks the IR does not stream, held until their stop: (block, input JSON pieces)
        self._unknown: dict[int, tuple[dict[str, Any], list[str]]] = {}

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse("Anthropic stream event is not JSON") from None
        if not isinstance(data, dict):
            raise UpstreamBadResponse("Anthropic stream event is not an object")
        kind = data.get("type")
        try:
            if kind == "content_block_delta":
                return self._delta(data)
            if kind == "content_block_start":
                return self._block_start(data)
            if kind == "message_start":
                return self._message_start(data["message"])
            if kind == "message_delta":
                return self._message_delta(data)
            if kind == "content_block_stop":
                return self._block_stop(data)
            if kind == "message_stop":
                self._stopped = True
            elif kind == "error":
                raise _error(data.get("error"))
        except (KeyError, TypeError, AttributeError) as e:
            raise UpstreamBadResponse(f"malformed Anthropic {kind} event: {e!r}") from None
        # ping and event types added later carry nothing for the IR.
        return []

    def close(self) -> list[StreamEvent]:
        if not self._stopped:
            raise UpstreamBadResponse("Anthropic stream ended before message_stop")
        return []

    def _index(self, block: int) -> int:
        idx = self._ir_index.get(block)
        if idx is None:
            idx = self._ir_index[block] = self._next
            self._next += 1
        return idx

    def _message_start(self, message: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = [Start(id=str(message.get("id") or ""),
                                        model=str(message.get("model") or ""))]
        usage = self._usage(message.get("usage"))
        if usage is not None:
            out.append(UsageEvent(usage))
        return out

    def _block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        block = data["content_block"]
        index: int = data["index"]
        kind = block["type"]
        self._kinds[index] = kind
        if kind == "tool_use":
            args = block.get("input")
            return [ToolCallDelta(self._index(index), id=block["id"], name=block["name"],
                                  arguments=compact_json(args) if args else "")]
        if kind == "redacted_thinking":
            return [ReasoningDelta(self._index(index), redacted=block["data"],
                                   signature_format=_FORMAT)]
        if kind == "text" and block.get("text"):
            return [TextDelta(self._index(index), block["text"])]
        if kind == "thinking" and block.get("thinking"):
            return [ReasoningDelta(self._index(index), block["thinking"])]
        if kind not in _STREAMED:  # server tool blocks and the like: kept whole until they end
            self._unknown[index] = (dict(block), [])
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        held = self._unknown.pop(data["index"], None)
        if held is None:
            return []
        block, partial_json = held
        if partial_json:  # server_tool_use input, streamed like a tool call's
            try:
                block["input"] = orjson.loads("".join(partial_json))
            except orjson.JSONDecodeError:
                raise UpstreamBadResponse("Anthropic sent a server tool input that is not JSON") from None
        return [UnknownPartDelta(self._index(data["index"]), _FORMAT, block)]

    def _delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        index: int = data["index"]
        if self._kinds.get(index) not in _STREAMED:
            held = self._unknown.get(index)  # a block kept whole (server_tool_use input)
            if held is not None and data["delta"].get("type") == "input_json_delta":
                held[1].append(data["delta"]["partial_json"])
            return []
        delta = data["delta"]
        kind = delta["type"]
        if kind == "text_delta":
            return [TextDelta(self._index(index), delta["text"])]
        if kind == "input_json_delta":
            return [ToolCallDelta(self._index(index), arguments=delta["partial_json"])]
        if kind == "thinking_delta":
            return [ReasoningDelta(self._index(index), delta["thinking"])]
        if kind == "signature_delta":
            return [ReasoningDelta(self._index(index), signature=delta["signature"],
                                   signature_format=_FORMAT)]
        if kind == "citations_delta":
            return [TextDelta(self._index(index), "",
                              meta={"anthropic": {"citations": [delta["citation"]]}})]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        delta = data.get("delta") or {}
        reason = stop_to_ir(delta.get("stop_reason"))
        if reason is not None:
            out.append(Finish(reason, delta.get("stop_sequence")))
        usage = self._usage(data.get("usage"))
        if usage is not None:
            out.append(UsageEvent(usage))
        return out

    def _usage(self, raw: Any) -> Usage | None:
        if not isinstance(raw, dict):
            return None
        for key, value in raw.items():
            if value is not None:
                self._raw_usage[key] = value
        return anthropic_usage_to_ir(self._raw_usage)

