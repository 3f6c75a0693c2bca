"""IR stream events → the client's chat.completion.chunk SSE bytes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from unigate.codecs.openai_chat.content import FORMAT
from unigate.codecs.openai_chat.errors import openai_chat_error_body
from unigate.codecs.openai_chat.response import finish_from_ir, new_id
from unigate.codecs.openai_chat.usage import ir_to_usage
from unigate.errors import GatewayError
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

_DONE = b"data: [DONE]\n\n"
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'


class OpenAIChatStreamEncoder:
    """`include_usage` mirrors the client's stream_options.include_usage: a last chunk with
    `choices: []` and the usage, before [DONE]. Reasoning goes out as
    `delta.reasoning_content` (DeepSeek/vLLM style; official SDKs ignore it)."""

    __slots__ = ("_head", "_include_usage", "_model", "_role", "_tools", "_usage")

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self._model = model
        self._include_usage = include_usage
        self._head = b""  # b'data: {"id":..,"model":..,"choices":[{"index":0,"delta":' once started
        self._tools: dict[int, int] = {}  # IR part index → OpenAI tool call index
        self._usage: Usage | None = None
        # The role chunk waits for the first content: until then the client has received
        # nothing, so a provider failing early can still fall back to another destination.
        self._role = b""

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, Start):
            self._role = self._start(event.id, event.created)
            return b""
        out = b"" if self._head else self._start("", None)
        if isinstance(event, TextDelta):
            if event.text:
                refusal = event.meta and event.meta.get(FORMAT, {}).get("refusal")
                out += self._delta({"refusal" if refusal else "content": event.text})
        elif isinstance(event, ToolCallDelta):
            out += self._tool_call(event)
        elif isinstance(event, ReasoningDelta):
            if event.text:  # signatures have no place in chat completions
                out += self._delta({"reasoning_content": event.text})
        elif isinstance(event, Finish):
            reason = finish_from_ir(event.reason, bool(self._tools))
            out += self._head + b'{},"logprobs":null,"finish_reason":"' + reason.encode() + b'"}]}\n\n'
        elif isinstance(event, UsageEvent):
            if self._usage is None:
                self._usage = Usage()
            self._usage.merge(event.usage)
        if out and self._role:
            out, self._role = self._role + out, b""
        return out

    def close(self) -> bytes:
        role, self._role = self._role, b""
        if not (self._include_usage and self._usage is not None):
            return role + _DONE
        out = role if self._head else self._start("", None)
        fixed = self._head[:self._head.rindex(b',"choices":')]
        return out + fixed + b',"choices":[],"usage":' + orjson.dumps(ir_to_usage(self._usage)) \
            + b"}\n\n" + _DONE

    def error(self, err: GatewayError) -> bytes:
        return b"data: " + orjson.dumps(openai_chat_error_body(err)) + b"\n\n"

    def _start(self, id: str, created: int | None) -> bytes:
        # Every chunk repeats id, object, created and model: serialise them once.
        fixed = orjson.dumps({
            "id": id or new_id(),
            "object": "chat.completion.chunk",
            "created": created if created is not None else int(time.time()),
            "model": self._model,
        })
        self._head = b"data: " + fixed[:-1] + b',"choices":[{"index":0,"delta":'
        return self._delta({"role": "assistant", "content": ""})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._head + orjson.dumps(delta) + _TAIL

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        out = b""
        k = self._tools.get(event.index)
        if k is None:
            k = self._tools[event.index] = len(self._tools)
            out = self._delta({"tool_calls": [{
                "index": k,
                "id": event.id or "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {"name": event.name or "", "arguments": ""},
            }]})
        if event.arguments:
            out += self._delta({"tool_calls": [{"index": k, "function": {"arguments": event.arguments}}]})
        return out
