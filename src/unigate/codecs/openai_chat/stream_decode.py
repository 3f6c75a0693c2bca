"""Upstream chat.completion.chunk events → IR stream events."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.openai_chat.content import FORMAT
from unigate.codecs.openai_chat.errors import upstream_stream_error
from unigate.codecs.openai_chat.response import finish_to_ir
from unigate.codecs.openai_chat.usage import usage_to_ir
from unigate.errors import UpstreamBadResponse, UpstreamError
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

_REFUSAL_META = {FORMAT: {"refusal": True}}



def chunk_error(event: str | None, chunk: Any) -> UpstreamError | None:
    """An {"error": {...}} chunk without choices (vLLM and other servers send these)."""
    if isinstance(chunk, dict) and chunk.get("error") is not None and "choices" not in chunk:
        return upstream_stream_error(chunk["error"])
    return None

class OpenAIChatStreamDecoder:
    """Part indexes: text, reasoning and refusal runs each open a new IR part when they start
    again after another part; each OpenAI tool call (`tool_calls[].index`) is one IR part.
    A tool call that resumes after another part keeps its first index (OpenAI never does
    this; a few compatible servers might) so that its arguments stay whole."""

    __slots__ = ("_call_ids", "_current", "_done", "_finished", "_index_of", "_next", "_started")

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._done = False
        self._next = 0  # the next IR part index
        self._current: str | int | None = None  # "text" | "reasoning" | "refusal" | tool index
        self._index_of: dict[str | int, int] = {}
        self._call_ids: dict[int, str] = {}  # OpenAI tool index → the id its call started with

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data
        if data == "[DONE]" or data.strip() == "[DONE]":
            self._done = True
            return []
        if not data.strip():
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(f"stream chunk is not JSON: {data[:200]!r}") from None
        if not isinstance(chunk, dict):
            raise UpstreamBadResponse("stream chunk is not a JSON object")
        err = chunk_error(None, chunk)
        if err is not None:
            raise err
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            created = chunk.get("created")
            out.append(Start(str(chunk.get("id") or ""), str(chunk.get("model") or ""),
                             created if isinstance(created, int) else None))
        choices = chunk.get("choices")
        if choices:
            if not isinstance(choices, list):
                raise UpstreamBadResponse("stream chunk: choices is not an array")
            for choice in choices:
                # one choice only: n > 1 is refused before the request goes out
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice, out)
        usage = chunk.get("usage")
        if usage is not None:
            parsed = usage_to_ir(usage)
            if parsed is not None:
                out.append(UsageEvent(parsed))
        return out

    def close(self) -> list[StreamEvent]:
        # Without [DONE] or a finish_reason the upstream connection broke mid-answer: say so
        # rather than pass a truncated answer off as complete.
        if not self._finished and not self._done:
            raise UpstreamBadResponse("the upstream stream ended before the answer finished")
        return []

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out.append(ReasoningDelta(self._index("reasoning")[0], reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                out.append(TextDelta(self._index("text")[0], content))
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                out.append(TextDelta(self._index("refusal")[0], refusal, _REFUSAL_META))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for position, call in enumerate(calls):
                    if isinstance(call, dict):
                        self._tool_call(call, position, out)
        reason = choice.get("finish_reason")
        if reason is not None and not self._finished:
            self._finished = True
            finish, stop_sequence = finish_to_ir(reason, choice.get("stop_reason"))
            out.append(Finish(finish or "other", stop_sequence))

    def _tool_call(self, call: dict[str, Any], position: int, out: list[StreamEvent]) -> None:
        key = call.get("index")
        if not isinstance(key, int) or isinstance(key, bool):
            key = position  # some compatible servers leave `index` out
        call_id = call.get("id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        if call_id is not None and self._call_ids.get(key, call_id) != call_id:
            # The same index with a new id is a new call: some compatible servers (Gemini's)
            # number parallel calls this way. Merging them would corrupt both.
            del self._index_of[key]
            self._current = None
        index, new = self._index(key)
        fn = call.get("function")
        fn = fn if isinstance(fn, dict) else {}
        args = fn.get("arguments")
        args = args if isinstance(args, str) else ""
        if new:
            if call_id is not None:
                self._call_ids[key] = call_id
            name = fn.get("name")
            out.append(ToolCallDelta(index, call_id, name if isinstance(name, str) else None, args))
        elif args:  # later chunks: arguments only (a repeated id or name is not news)
            out.append(ToolCallDelta(index, arguments=args))

    def _index(self, key: str | int) -> tuple[int, bool]:
        """The IR index for this kind of delta, and whether it starts a new part."""
        if key == self._current or (isinstance(key, int) and key in self._index_of):
            self._current = key
            return self._index_of[key], False
        index = self._index_of[key] = self._next
        self._next += 1
        self._current = key
        return index, True
