"""IR stream events → a client's Responses event stream.

The sequence follows the API: response.created and response.in_progress, then per output item
output_item.added, its content events (content_part.added, output_text.delta, ... .done) and
output_item.done, and last response.completed (or .incomplete / .failed) carrying the whole
response object. That last event is written in `close()`, because usage may arrive after the
finish reason. Every event has an `event:` line and an increasing `sequence_number`.

Consecutive text parts share one message item (as content parts), like the unary encoder.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from unigate.codecs.openai_responses._util import item_suffix, ns
from unigate.codecs.openai_responses.errors import response_error_code
from unigate.codecs.openai_responses.items_encode import unwrap_custom_input
from unigate.codecs.openai_responses.reasoning import reasoning_part_to_client_item
from unigate.codecs.openai_responses.response_object import (
    call_item,
    client_response_id,
    message_item,
    response_object,
    status_for,
    text_content,
)
from unigate.codecs.openai_responses.tools import custom_tool_names, namespace_names
from unigate.errors import GatewayError
from unigate.ir.parts import ReasoningPart
from unigate.ir.request import IRRequest
from unigate.ir.response import FinishReason
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


class _Part:
    """The part being streamed: a text content part, a reasoning item or a tool call."""

    __slots__ = (
        "call_id",
        "content_index",
        "delta_prefix",
        "delta_suffix",
        "index",
        "item_id",
        "kind",
        "name",
        "output_index",
        "reasoning",
        "refusal",
        "text",
    )

    def __init__(self, index: int, kind: str, output_index: int, item_id: str) -> None:
        self.index, self.kind, self.output_index, self.item_id = index, kind, output_index, item_id
        self.content_index = 0
        self.text: list[str] = []
        self.refusal = False
        self.call_id = self.name = ""
        self.reasoning: ReasoningPart | None = None
        self.delta_prefix = self.delta_suffix = b""

    def set_delta(self, kind: str, where: dict[str, Any], extra: bytes = b"") -> None:
        head = orjson.dumps({"type": kind, **where})
        self.delta_prefix = b"event: " + kind.encode() + b"\ndata: " + head[:-1] + b',"delta":'
        self.delta_suffix = extra + b',"sequence_number":'


class OpenAIResponsesStreamEncoder:
    """`request` (the client's request, as decoded) fills the echo fields of the response
    objects and tells which tool calls answer `custom` tools."""

    def __init__(self, model: str, *, request: IRRequest | None = None) -> None:
        self._model = model
        self._request = request
        self._custom = custom_tool_names(request.tools if request else None)
        self._namespaces = namespace_names(request.tools if request else None)
        self._seq = 0
        self._id = ""
        self._stem = ""
        self._created: int | None = None
        self._items: list[dict[str, Any]] = []  # finished output items, by output_index
        self._added = 0  # output items announced so far
        self._part: _Part | None = None
        self._message: dict[str, Any] | None = None  # the open message item
        self._message_index = 0
        self._usage: Usage | None = None
        self._reason: FinishReason | None = None
        self._finished = False
        # response.created / in_progress wait for the first content: until then the client
        # has received nothing, so a provider failing early can still fall back.
        self._held = b""

    # --- contract ------------------------------------------------------------------------------

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, Start):
            self._held += self._start(event.id, event.created)
            return b""
        out = self._encode(event)
        if out and self._held:
            out, self._held = self._held + out, b""
        return out

    def close(self) -> bytes:
        held, self._held = self._held, b""
        return held + self._close()

    def error(self, err: GatewayError) -> bytes:
        """An `error` event, then response.failed, as the API ends a stream that failed."""
        held, self._held = self._held, b""
        return held + self._error(err)

    # --- events --------------------------------------------------------------------------------

    def _encode(self, event: StreamEvent) -> bytes:
        out = self._start("", None) if not self._id else b""
        if isinstance(event, TextDelta):
            return out + self._text(event)
        if isinstance(event, ReasoningDelta):
            return out + self._reasoning(event)
        if isinstance(event, ToolCallDelta):
            return out + self._call(event)
        if isinstance(event, UsageEvent):
            if self._usage is None:
                self._usage = Usage()
            self._usage.merge(event.usage)
        elif isinstance(event, Finish):
            self._reason = event.reason
            out += self._close_part() + self._close_message()
        return out

    def _close(self) -> bytes:
        if self._finished:
            return b""
        out = self._start("", None) if not self._id else b""
        out += self._close_part() + self._close_message()
        self._finished = True
        status = status_for(self._reason)
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status, "response.failed")
        return out + self._emit(kind, {"response": self._response(status)})

    def _error(self, err: GatewayError) -> bytes:
        out = self._start("", None) if not self._id else b""
        out += self._emit("error", {"code": err.code, "message": err.message, "param": err.param})
        if not self._finished:
            self._finished = True
            error = {"code": response_error_code(err.status), "message": err.message}
            out += self._emit("response.failed",
                              {"response": self._response("failed", error)})
        return out

    # --- plumbing ------------------------------------------------------------------------------

    def _emit(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = {"type": kind, **payload, "sequence_number": self._seq}
        self._seq += 1
        return encode_event(orjson.dumps(data), kind)

    def _delta(self, part: _Part, delta: str) -> bytes:
        """A delta event, the hot path of a stream: only the delta and the sequence number are
        serialized per token; the rest was built once for the part. Same bytes as `_emit`."""
        seq = self._seq
        self._seq += 1
        return b"".join((part.delta_prefix, orjson.dumps(delta), part.delta_suffix,
                         str(seq).encode(), b"}\n\n"))

    def _response(self, status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(
            resp_id=self._id, model=self._model, created=self._created, status=status,
            output=list(self._items), usage=self._usage if status != "in_progress" else None,
            request=self._request, reason=self._reason, error=error)

    def _start(self, ir_id: str, created: int | None) -> bytes:
        if self._id:
            return b""  # a second Start (a fallback attempt) continues the same response
        self._id = client_response_id(ir_id or uuid.uuid4().hex)
        self._stem = item_suffix(self._id)
        self._created = created if created is not None else int(time.time())
        response = self._response("in_progress")
        return (self._emit("response.created", {"response": response})
                + self._emit("response.in_progress", {"response": response}))

    def _item_status(self) -> str:
        return "incomplete" if status_for(self._reason) == "incomplete" else "completed"

    def _new_item(self, item: dict[str, Any]) -> bytes:
        output_index = self._added
        self._added += 1
        return self._emit("response.output_item.added", {"output_index": output_index,
                                                         "item": item})

    # --- text ----------------------------------------------------------------------------------

    def _text(self, ev: TextDelta) -> bytes:
        out = b""
        part = self._part
        if part is None or part.index != ev.index:
            out += self._close_part()
            if self._message is None:
                self._message_index = self._added
                self._message = message_item(f"msg_{self._stem}_{self._added}", [], "in_progress")
                out += self._new_item(self._message)
            part = self._part = _Part(ev.index, "text", self._message_index, self._message["id"])
            part.content_index = len(self._message["content"])
            part.refusal = ns(ev.meta).get("type") == "refusal"
            self._message["content"].append(None)  # reserved until the part is done
            out += self._emit("response.content_part.added", {
                **self._where(part), "part": text_content("", part.refusal, None)})
        part.text.append(ev.text)
        if not part.delta_prefix:
            kind = "response.refusal.delta" if part.refusal else "response.output_text.delta"
            part.set_delta(kind, self._where(part), b"" if part.refusal else b',"logprobs":[]')
        return out + self._delta(part, ev.text)

    @staticmethod
    def _where(part: _Part) -> dict[str, Any]:
        return {"item_id": part.item_id, "output_index": part.output_index,
                "content_index": part.content_index}

    def _close_text(self, part: _Part) -> bytes:
        text = "".join(part.text)
        content = text_content(text, part.refusal, None)
        assert self._message is not None
        self._message["content"][part.content_index] = content
        if part.refusal:
            out = self._emit("response.refusal.done", {**self._where(part), "refusal": text})
        else:
            out = self._emit("response.output_text.done", {**self._where(part), "text": text,
                                                           "logprobs": []})
        return out + self._emit("response.content_part.done", {**self._where(part),
                                                               "part": content})

    def _close_message(self) -> bytes:
        message, self._message = self._message, None
        if message is None:
            return b""
        message["status"] = self._item_status()
        self._items.append(message)
        return self._emit("response.output_item.done", {"output_index": self._message_index,
                                                        "item": message})

    # --- reasoning and tool calls --------------------------------------------------------------

    def _begin_item(self, index: int, kind: str, item_id: str) -> tuple[_Part, bytes]:
        out = self._close_part() + self._close_message()
        part = self._part = _Part(index, kind, self._added, item_id)
        return part, out

    def _reasoning(self, ev: ReasoningDelta) -> bytes:
        out = b""
        part = self._part
        if part is None or part.index != ev.index:
            part, out = self._begin_item(ev.index, "reasoning", f"rs_{self._stem}_{self._added}")
            part.reasoning = ReasoningPart()
            out += self._new_item({"id": part.item_id, "type": "reasoning", "summary": []})
        reasoning = part.reasoning
        assert reasoning is not None
        if ev.text:
            if not part.text:
                out += self._emit("response.reasoning_summary_part.added", {
                    **self._summary_where(part), "part": {"type": "summary_text", "text": ""}})
            part.text.append(ev.text)
            if not part.delta_prefix:
                part.set_delta("response.reasoning_summary_text.delta", self._summary_where(part))
            out += self._delta(part, ev.text)
        if ev.signature is not None:
            reasoning.signature = (reasoning.signature or "") + ev.signature
            reasoning.signature_format = ev.signature_format
        if ev.redacted is not None:
            reasoning.redacted = ev.redacted
            reasoning.signature_format = ev.signature_format or reasoning.signature_format
        return out

    @staticmethod
    def _summary_where(part: _Part) -> dict[str, Any]:
        return {"item_id": part.item_id, "output_index": part.output_index, "summary_index": 0}

    def _close_reasoning(self, part: _Part) -> bytes:
        reasoning = part.reasoning
        assert reasoning is not None
        out = b""
        if part.text:
            reasoning.text = "".join(part.text)
            out += self._emit("response.reasoning_summary_text.done", {
                **self._summary_where(part), "text": reasoning.text})
            out += self._emit("response.reasoning_summary_part.done", {
                **self._summary_where(part),
                "part": {"type": "summary_text", "text": reasoning.text}})
        item = reasoning_part_to_client_item(reasoning, part.item_id)
        return out + self._done_item(part, item)

    def _call(self, ev: ToolCallDelta) -> bytes:
        out = b""
        part = self._part
        if part is None or part.index != ev.index:
            own = ns(ev.meta)
            custom = own.get("type") == "custom_tool_call" or ev.name in self._custom
            prefix = "ctc" if custom else "fc"
            item_id = own.get("id") or f"{prefix}_{self._stem}_{self._added}"
            part, out = self._begin_item(ev.index, "custom" if custom else "call", item_id)
            part.call_id, part.name = ev.id or "", ev.name or ""
            item = call_item(item_id, part.call_id, part.name, "", custom, "in_progress",
                             self._namespaces.get(part.name))
            out += self._new_item(item)
        if not ev.arguments:
            return out
        part.text.append(ev.arguments)
        if part.kind == "custom":
            return out  # the free text is known once the JSON arguments are complete
        if not part.delta_prefix:
            part.set_delta("response.function_call_arguments.delta",
                           {"item_id": part.item_id, "output_index": part.output_index})
        return out + self._delta(part, ev.arguments)

    def _close_call(self, part: _Part) -> bytes:
        where = {"item_id": part.item_id, "output_index": part.output_index}
        arguments = "".join(part.text)
        if part.kind == "custom":
            text = unwrap_custom_input(arguments)
            out = b""
            if text:
                out += self._emit("response.custom_tool_call_input.delta", {**where, "delta": text})
            out += self._emit("response.custom_tool_call_input.done", {**where, "input": text})
            item = call_item(part.item_id, part.call_id, part.name, text, True, "",
                             self._namespaces.get(part.name))
            return out + self._done_item(part, item)
        out = self._emit("response.function_call_arguments.done", {**where, "arguments": arguments})
        item = call_item(part.item_id, part.call_id, part.name, arguments, False,
                         self._item_status(), self._namespaces.get(part.name))
        return out + self._done_item(part, item)

    def _done_item(self, part: _Part, item: dict[str, Any]) -> bytes:
        self._items.append(item)
        return self._emit("response.output_item.done", {"output_index": part.output_index,
                                                        "item": item})

    def _close_part(self) -> bytes:
        part, self._part = self._part, None
        if part is None:
            return b""
        if part.kind == "text":
            return self._close_text(part)
        if part.kind == "reasoning":
            return self._close_reasoning(part)
        return self._close_call(part)

