"""A Gemini stream (`streamGenerateContent?alt=sse`) → IR stream events.

Each SSE event's data is a whole GenerateContentResponse chunk. Text arrives in pieces;
function calls arrive whole, each in one part; the last chunk has `finishReason`; every
chunk repeats the running `usageMetadata`."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from unigate.codecs.gemini.errors import upstream_error_from_chunk
from unigate.codecs.gemini.parts_decode import decode_part, upstream_call_id
from unigate.codecs.gemini.response import finish_to_ir, new_response_id
from unigate.codecs.gemini.usage import usage_from_metadata
from unigate.errors import UpstreamBadResponse, UpstreamError
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart
from unigate.ir.stream import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from unigate.sse import SSEEvent


def chunk_error(event: str | None, chunk: Any) -> UpstreamError | None:
    """A chunk that is {"error": {...}}."""
    if isinstance(chunk, dict) and "error" in chunk:
        return upstream_error_from_chunk(chunk["error"])
    return None

class GeminiStreamDecoder:
    __slots__ = ("_calls", "_finished", "_index", "_last_usage", "_open", "_rid")

    def __init__(self) -> None:
        self._rid: str | None = None
        self._index = -1
        self._open: Literal["text", "reasoning"] | None = None  # kind of the part at _index
        self._calls = 0
        self._last_usage: Any = None
        self._finished = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data
        if not data or data.isspace():
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(f"Gemini stream: event data is not JSON: {data[:200]!r}") from None
        if isinstance(chunk, list):  # tolerate the array framing's elements
            return [ev for c in chunk for ev in self._chunk(c)]
        return self._chunk(chunk)

    def close(self) -> list[StreamEvent]:
        return []

    def _chunk(self, chunk: Any) -> list[StreamEvent]:
        if not isinstance(chunk, dict):
            raise UpstreamBadResponse("Gemini stream: a chunk is not a JSON object")
        err = chunk_error(None, chunk)
        if err is not None:
            raise err
        out: list[StreamEvent] = []
        if self._rid is None:
            rid = chunk.get("responseId")
            self._rid = rid if isinstance(rid, str) and rid else new_response_id()
            model = chunk.get("modelVersion")
            out.append(Start(self._rid, model if isinstance(model, str) else ""))
        cands = chunk.get("candidates")
        cand = cands[0] if isinstance(cands, list) and cands else None
        reason: str | None = None
        if isinstance(cand, dict):
            content = cand.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            if isinstance(parts, list):
                for i, raw in enumerate(parts):
                    self._part(raw, i, out)
            r = cand.get("finishReason")
            reason = r if isinstance(r, str) else None
        elif cand is not None:
            raise UpstreamBadResponse("Gemini stream: candidates[0] is not an object")
        um = chunk.get("usageMetadata")
        if um is not None and um != self._last_usage:
            self._last_usage = um
            usage = usage_from_metadata(um)
            if usage is not None:
                out.append(UsageEvent(usage))
        if reason is None and cand is None and not self._finished:
            feedback = chunk.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                reason = "SAFETY"  # the prompt was blocked: no candidate will come
        if reason is not None and not self._finished:
            self._finished = True
            out.append(Finish(finish_to_ir(reason, self._calls > 0)))
        return out

    def _part(self, raw: Any, i: int, out: list[StreamEvent]) -> None:
        part = decode_part(raw, f"candidates[0].content.parts[{i}]", UpstreamBadResponse)
        if isinstance(part, TextPart):
            if not part.text and not part.meta:
                return
            if self._open != "text":
                self._start("text")
            out.append(TextDelta(self._index, part.text, part.meta))
        elif isinstance(part, ReasoningPart):
            if self._open != "reasoning":
                self._start("reasoning")
            if part.text:
                out.append(ReasoningDelta(self._index, part.text))
            if part.signature or part.redacted:
                out.append(ReasoningDelta(self._index, signature=part.signature,
                                          signature_format=part.signature_format,
                                          redacted=part.redacted))
        elif isinstance(part, ToolCallPart):
            self._start(None)
            upstream_call_id(part, self._rid or "", self._calls)
            self._calls += 1
            out.append(ToolCallDelta(self._index, part.id, part.name, part.arguments, part.meta))
        # executableCode, codeExecutionResult, images: no stream event carries them

    def _start(self, kind: Literal["text", "reasoning"] | None) -> None:
        self._index += 1
        self._open = kind
