"""Fold a stream of IR events back into one complete response (for usage and payload logs)."""

from __future__ import annotations

from unigate.ir.parts import Part, ReasoningPart, TextPart, ToolCallPart, UnknownPart
from unigate.ir.response import IRResponse
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


class StreamFolder:
    """Accumulates events as they pass; `response()` returns what was received so far."""

    __slots__ = ("_parts", "_resp")

    def __init__(self) -> None:
        self._resp = IRResponse(id="", model="")
        self._parts: dict[int, Part] = {}

    def add(self, ev: StreamEvent) -> None:
        if isinstance(ev, TextDelta):
            part = self._parts.get(ev.index)
            if isinstance(part, TextPart):
                part.text += ev.text
            else:
                self._parts[ev.index] = TextPart(ev.text, ev.meta)
        elif isinstance(ev, ToolCallDelta):
            call = self._parts.get(ev.index)
            if isinstance(call, ToolCallPart):
                call.arguments += ev.arguments
            else:
                self._parts[ev.index] = ToolCallPart(ev.id or "", ev.name or "", ev.arguments, ev.meta)
        elif isinstance(ev, ReasoningDelta):
            r = self._parts.get(ev.index)
            if not isinstance(r, ReasoningPart):
                r = self._parts[ev.index] = ReasoningPart()
            r.text += ev.text
            if ev.signature is not None:
                r.signature = (r.signature or "") + ev.signature
                r.signature_format = ev.signature_format
            if ev.redacted is not None:
                r.redacted = ev.redacted
        elif isinstance(ev, UnknownPartDelta):
            self._parts[ev.index] = UnknownPart(ev.format, ev.raw)
        elif isinstance(ev, UsageEvent):
            if self._resp.usage is None:
                self._resp.usage = Usage()
            self._resp.usage.merge(ev.usage)
        elif isinstance(ev, Finish):
            self._resp.finish_reason = ev.reason
            self._resp.stop_sequence = ev.stop_sequence
        elif isinstance(ev, Start):
            self._resp.id, self._resp.model, self._resp.created = ev.id, ev.model, ev.created

    def part(self, index: int) -> Part | None:
        """The part at a stream index, as received so far."""
        return self._parts.get(index)

    def response(self) -> IRResponse:
        self._resp.parts = [self._parts[i] for i in sorted(self._parts)]
        return self._resp


def fold(events: list[StreamEvent]) -> IRResponse:
    folder = StreamFolder()
    for ev in events:
        folder.add(ev)
    return folder.response()
