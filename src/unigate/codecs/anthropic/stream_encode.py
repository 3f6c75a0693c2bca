"""IR stream events → Anthropic Messages SSE bytes for a client.

Event order: message_start, then per content block content_block_start / _delta... /
_stop, then message_delta (stop reason and final usage) and message_stop. message_start
waits for the first content so it can carry the input usage an upstream reports up front;
message_delta waits for close(), since usage may arrive after Finish."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from unigate.codecs.anthropic.errors import anthropic_error_body
from unigate.codecs.anthropic.response import ir_to_stop, new_message_id
from unigate.codecs.anthropic.usage import ir_usage_to_anthropic
from unigate.errors import GatewayError
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
from unigate.sse import encode_event

_FORMAT = "anthropic"


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(payload), kind)


class AnthropicStreamEncoder:
    __slots__ = (
        "_block",
        "_finish",
        "_id",
        "_model",
        "_open_ir",
        "_open_kind",
        "_saw_tool",
        "_started",
        "_usage",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._id: str | None = None
        self._usage = Usage()
        self._finish: Finish | None = None
        self._started = False
        self._open_ir: int | None = None  # IR index of the open block
        self._open_kind: str | None = None
        self._block = -1  # Anthropic index of the open (or last) block
        self._saw_tool = False

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._text(event)
        if isinstance(event, ToolCallDelta):
            return self._tool_call(event)
        if isinstance(event, ReasoningDelta):
            return self._reasoning(event)
        if isinstance(event, UnknownPartDelta):
            return self._unknown(event)
        if isinstance(event, UsageEvent):
            self._usage.merge(event.usage)
        elif isinstance(event, Finish):
            self._finish = event
        elif isinstance(event, Start):
            self._id = event.id or None
        return b""

    def close(self) -> bytes:
        out = self._start_message() + self._close_block()
        finish = self._finish
        reason = ir_to_stop(finish.reason, self._saw_tool) if finish else None
        u = self._usage
        usage: dict[str, Any] = {"output_tokens": u.output_tokens or 0}
        if u.input_tokens is not None:
            usage.update(ir_usage_to_anthropic(u))
        delta = {"stop_reason": reason,
                 "stop_sequence": finish.stop_sequence if finish and reason == "stop_sequence"
                 else None}
        out += _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
        return out + _event("message_stop", {"type": "message_stop"})

    def error(self, err: GatewayError) -> bytes:
        return _event("error", anthropic_error_body(err))

    # ---- blocks -----------------------------------------------------------------------------

    def _text(self, ev: TextDelta) -> bytes:
        out = self._open(ev.index, "text", {"type": "text", "text": ""})
        if ev.text:
            out += self._delta({"type": "text_delta", "text": ev.text})
        mine = ev.meta.get("anthropic") if ev.meta else None
        if isinstance(mine, dict):
            for citation in mine.get("citations") or ():
                out += self._delta({"type": "citations_delta", "citation": citation})
        return out

    def _tool_call(self, ev: ToolCallDelta) -> bytes:
        self._saw_tool = True
        out = b""
        if ev.index != self._open_ir or self._open_kind != "tool_use":
            block = {"type": "tool_use", "id": ev.id or "toolu_" + secrets.token_hex(12),
                     "name": ev.name or "", "input": {}}
            out = self._open(ev.index, "tool_use", block)
        if ev.arguments:
            out += self._delta({"type": "input_json_delta", "partial_json": ev.arguments})
        return out

    def _reasoning(self, ev: ReasoningDelta) -> bytes:
        if ev.redacted is not None:
            return self._open(ev.index, "redacted_thinking",
                              {"type": "redacted_thinking", "data": ev.redacted})
        # Only Anthropic's own signature means anything to an Anthropic client.
        signed = ev.signature is not None and ev.signature_format == _FORMAT
        if not ev.text and not signed:
            return b""
        out = self._open(ev.index, "thinking", {"type": "thinking", "thinking": "",
                                                "signature": ""})
        if ev.text:
            out += self._delta({"type": "thinking_delta", "thinking": ev.text})
        if signed:
            out += self._delta({"type": "signature_delta", "signature": ev.signature})
        return out

    def _unknown(self, ev: UnknownPartDelta) -> bytes:
        """A block of Anthropic's own the IR carries whole (a server tool call or result):
        written back as it came, in one start and stop; other formats' parts mean nothing here."""
        if ev.format != _FORMAT:
            return b""
        kind = str(ev.raw.get("type"))
        return self._open(ev.index, kind, ev.raw) + self._close_block()

    def _open(self, index: int, kind: str, block: dict[str, Any]) -> bytes:
        if index == self._open_ir and kind == self._open_kind:
            return b""
        out = self._start_message() + self._close_block()
        self._block += 1
        self._open_ir, self._open_kind = index, kind
        return out + _event("content_block_start", {"type": "content_block_start",
                                                    "index": self._block,
                                                    "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta",
                                              "index": self._block, "delta": delta})

    def _close_block(self) -> bytes:
        if self._open_ir is None:
            return b""
        self._open_ir = self._open_kind = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._block})

    def _start_message(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self._id or new_message_id(), "type": "message", "role": "assistant",
            "model": self._model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": ir_usage_to_anthropic(self._usage, zero_output=True),
        }
        return _event("message_start", {"type": "message_start", "message": message})
