"""IR stream events → a Gemini client's stream.

`sse=True` (`streamGenerateContent?alt=sse`): one `data:` event per chunk. `sse=False`
(no `alt=sse`): one JSON array written as it grows: "[" chunk ",\r\n" chunk ... "]".
Text and thoughts go out as they come; a function call is held until it is complete (Gemini
sends calls whole, with parsed `args`); finishReason and usageMetadata go in the last chunk,
written by `close()` because usage may follow the Finish event."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.gemini._util import FORMAT, ReasoningBlock, gemini_meta
from unigate.codecs.gemini.errors import gemini_error_body
from unigate.codecs.gemini.parts_encode import call_to_part, carry_reasoning, reasoning_to_part
from unigate.codecs.gemini.response import finish_to_gemini
from unigate.codecs.gemini.usage import usage_to_metadata
from unigate.errors import GatewayError
from unigate.ir.parts import Meta
from unigate.ir.stream import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from unigate.ir.usage import Usage
from unigate.sse import encode_event


class _Call:
    __slots__ = ("args", "id", "index", "meta", "name")

    def __init__(self, ev: ToolCallDelta) -> None:
        self.index, self.id, self.name = ev.index, ev.id or "", ev.name or ""
        self.args: list[str] = [ev.arguments]
        self.meta: Meta | None = ev.meta


class GeminiStreamEncoder:
    __slots__ = ("_call", "_closed", "_finish", "_held", "_id", "_model", "_opened", "_sse",
                 "_thought", "_usage")

    def __init__(self, model: str, *, sse: bool = True) -> None:
        self._model = model
        self._sse = sse
        self._id = ""
        self._call: _Call | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._opened = False  # array mode: "[" written
        self._closed = False
        # another provider's reasoning: the text of the block being streamed, and the signed
        # blocks the next call carries (parts_encode.carry_reasoning)
        self._thought: list[str] = []
        self._held: list[ReasoningBlock] = []

    def encode(self, event: StreamEvent) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, TextDelta):
            sig = gemini_meta(event.meta).get("thoughtSignature")
            part: dict[str, Any] = {"text": event.text}
            if sig:
                part["thoughtSignature"] = sig
            return self._emit(self._flush_call() + [part])
        if isinstance(event, ReasoningDelta):
            if not event.text and not event.signature and not event.redacted:
                return b""
            part = reasoning_to_part(event.text, event.signature, event.signature_format,
                                     event.redacted)
            done = self._flush_call()
            self._hold(event)
            return self._emit(done + [part])
        if isinstance(event, ToolCallDelta):
            if self._call is not None and self._call.index == event.index:
                self._call.args.append(event.arguments)
                return b""
            done = self._flush_call()
            self._call = _Call(event)
            return self._emit(done) if done else b""
        if isinstance(event, UsageEvent):
            if self._usage is None:
                self._usage = Usage()
            self._usage.merge(event.usage)
        elif isinstance(event, Finish):
            self._finish = finish_to_gemini(event.reason)
        elif isinstance(event, Start):
            self._id = event.id
        return b""

    def close(self) -> bytes:
        if self._closed:
            return b""
        parts = self._flush_call()
        cand: dict[str, Any] = {"content": {"parts": parts or [{"text": ""}], "role": "model"}}
        if self._finish is not None:
            cand["finishReason"] = self._finish
        cand["index"] = 0
        chunk: dict[str, Any] = {"candidates": [cand]}
        if self._usage is not None:
            chunk["usageMetadata"] = usage_to_metadata(self._usage)
        out = self._frame(self._with_ids(chunk))
        self._closed = True
        return out + (b"" if self._sse else b"]")

    def error(self, err: GatewayError) -> bytes:
        if self._closed:
            return b""
        out = self._frame(gemini_error_body(err))
        self._closed = True
        return out + (b"" if self._sse else b"]")

    def _hold(self, event: ReasoningDelta) -> None:
        self._thought.append(event.text)
        fmt = event.signature_format
        if event.signature or event.redacted:
            if fmt is not None and fmt != FORMAT:
                self._held.append((fmt, "".join(self._thought), event.signature, event.redacted))
            self._thought = []

    def _flush_call(self) -> list[dict[str, Any]]:
        call, self._call = self._call, None
        if call is None:
            return []
        part = carry_reasoning(call_to_part(call.id, call.name, "".join(call.args), call.meta), self._held)
        self._held = []
        return [part]

    def _emit(self, parts: list[dict[str, Any]]) -> bytes:
        cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
        return self._frame(self._with_ids({"candidates": [cand]}))

    def _with_ids(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk["modelVersion"] = self._model
        chunk["responseId"] = self._id
        return chunk

    def _frame(self, chunk: dict[str, Any]) -> bytes:
        data = orjson.dumps(chunk)
        if self._sse:
            return encode_event(data)
        if self._opened:
            return b",\r\n" + data
        self._opened = True
        return b"[" + data
