"""Upstream Responses stream events → IR stream events.

Each text content part, reasoning item and tool call of the output gets its own IR index, in
order of first appearance. Deltas are passed on as they come; a `.done` event only matters
when a server sent the whole value there without deltas. The final response object of
response.completed / response.incomplete gives usage and the finish reason.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.openai_responses._util import FORMAT
from unigate.codecs.openai_responses.errors import failure_to_error
from unigate.codecs.openai_responses.reasoning import apply_encrypted_content
from unigate.codecs.openai_responses.response import finish_reason_for
from unigate.codecs.openai_responses.tools import CUSTOM_ARG
from unigate.codecs.openai_responses.usage import usage_from_wire
from unigate.errors import UpstreamBadResponse, UpstreamError
from unigate.ir.parts import ReasoningPart
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

Key = tuple[int, int]  # (output_index, content_index); reasoning and calls use content -1



def event_error(event: str | None, d: Any) -> UpstreamError | None:
    """An `error` event, or `response.failed`."""
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == "response.failed":
        response = d.get("response")
        return failure_to_error(response.get("error") if isinstance(response, dict) else None,
                                "the upstream response failed")
    if kind == "error":
        return failure_to_error(d["error"] if isinstance(d.get("error"), dict) else d,
                                "the upstream stream reported an error")
    return None

class OpenAIResponsesStreamDecoder:
    __slots__ = ("_calls", "_done", "_index", "_reasoning_kind", "_sent", "_started")

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._index: dict[Key, int] = {}  # part → IR index
        self._sent: dict[Key, int] = {}  # part → characters passed on so far
        self._reasoning_kind: dict[int, str] = {}  # output_index → "summary" | "text"
        self._calls = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError as err:
            raise UpstreamBadResponse(f"OpenAI Responses: stream event is not JSON: {err}") from err
        if not isinstance(data, dict):
            raise UpstreamBadResponse("OpenAI Responses: stream event is not an object")
        kind = data.get("type") or event.event
        try:
            return self._event(kind, data)
        except (KeyError, TypeError, ValueError) as err:
            raise UpstreamBadResponse(f"OpenAI Responses: malformed '{kind}' event: {err!r}") from err

    def close(self) -> list[StreamEvent]:
        if self._started and not self._done:
            raise UpstreamBadResponse("OpenAI Responses: the stream ended before the response did")
        return []

    # --- dispatch ------------------------------------------------------------------------------

    def _event(self, kind: Any, d: dict[str, Any]) -> list[StreamEvent]:
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            return self._text(d, d["delta"], kind == "response.refusal.delta")
        if kind == "response.function_call_arguments.delta":
            return self._args((d["output_index"], -1), d["delta"])
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._reasoning_text(d["output_index"], d["delta"], kind)
        if kind == "response.reasoning_summary_part.added" and d.get("summary_index", 0) > 0:
            # Summary parts are paragraphs: join them as the unary decoder does.
            return self._reasoning_text(d["output_index"], "\n\n",
                                        "response.reasoning_summary_text.delta")
        if kind == "response.output_item.added":
            return self._item_added(d["output_index"], d["item"])
        if kind == "response.output_item.done":
            return self._item_done(d["output_index"], d["item"])
        if kind in ("response.output_text.done", "response.refusal.done"):
            text = d.get("text") if kind == "response.output_text.done" else d.get("refusal")
            if isinstance(text, str) and (d["output_index"], d["content_index"]) not in self._sent:
                return self._text(d, text, kind == "response.refusal.done")
            return []
        if kind == "response.function_call_arguments.done":
            key = (d["output_index"], -1)
            if not self._sent.get(key) and d.get("arguments") and key in self._index:
                return self._args(key, d["arguments"])
            return []
        if kind == "response.created" or kind == "response.in_progress":
            return self._start(d.get("response"))
        if kind in ("response.completed", "response.incomplete"):
            return self._end(d["response"])
        err = event_error(None, d)
        if err is not None:
            raise err
        return []  # queued, annotations, built-in tool progress: nothing the IR carries

    def _start(self, response: Any) -> list[StreamEvent]:
        if self._started or not isinstance(response, dict):
            return []
        self._started = True
        created = response.get("created_at")
        return [Start(id=str(response.get("id", "")), model=str(response.get("model", "")),
                      created=int(created) if isinstance(created, (int, float)) else None)]

    def _end(self, response: dict[str, Any]) -> list[StreamEvent]:
        self._done = True
        out: list[StreamEvent] = []
        usage = usage_from_wire(response.get("usage"))
        if usage is not None:
            out.append(UsageEvent(usage))
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        out.append(Finish(finish_reason_for(response.get("status"), reason, self._calls)))
        return out

    # --- parts ---------------------------------------------------------------------------------

    def _slot(self, key: Key) -> tuple[int, bool]:
        """The IR index of a part, and whether this is its first appearance."""
        index = self._index.get(key)
        if index is not None:
            return index, False
        index = self._index[key] = len(self._index)
        return index, True

    def _text(self, d: dict[str, Any], text: str, refusal: bool) -> list[StreamEvent]:
        key = (d["output_index"], d["content_index"])
        index, first = self._slot(key)
        self._sent[key] = self._sent.get(key, 0) + len(text)
        meta = {FORMAT: {"type": "refusal"}} if refusal and first else None
        return [TextDelta(index, text, meta)]

    def _args(self, key: Key, delta: str) -> list[StreamEvent]:
        index, _ = self._slot(key)
        self._sent[key] = self._sent.get(key, 0) + len(delta)
        return [ToolCallDelta(index, arguments=delta)]

    def _reasoning_text(self, output_index: int, delta: str, kind: str) -> list[StreamEvent]:
        # OpenAI sends summaries; open-weight servers raw text. Whichever comes first is kept,
        # as the unary decoder keeps the summary or else the text.
        source = "summary" if "summary" in kind else "text"
        if self._reasoning_kind.setdefault(output_index, source) != source:
            return []
        key = (output_index, -1)
        index, _ = self._slot(key)
        self._sent[key] = self._sent.get(key, 0) + len(delta)
        return [ReasoningDelta(index, delta)]

    def _item_added(self, output_index: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        if kind not in ("function_call", "custom_tool_call"):
            return []
        self._calls = True
        index, _ = self._slot((output_index, -1))
        own: dict[str, Any] = {"id": item["id"]} if item.get("id") else {}
        if kind == "custom_tool_call":
            own["type"] = "custom_tool_call"
        self._sent[(output_index, -1)] = len(item.get("arguments") or "")
        return [ToolCallDelta(index, id=item["call_id"], name=item["name"],
                              arguments=item.get("arguments") or "",
                              meta={FORMAT: own} if own else None)]

    def _item_done(self, output_index: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        key = (output_index, -1)
        if kind == "reasoning":
            out: list[StreamEvent] = []
            if not self._sent.get(key):
                texts = [s["text"] for s in item.get("summary") or ()] or [
                    c["text"] for c in item.get("content") or ()]
                if texts:
                    out.extend(self._reasoning_text(output_index, "\n\n".join(texts), "summary"))
            if item.get("encrypted_content"):
                index, _ = self._slot(key)
                sig = ReasoningPart()
                apply_encrypted_content(sig, item["encrypted_content"])
                out.append(ReasoningDelta(index, signature=sig.signature,
                                          signature_format=sig.signature_format,
                                          redacted=sig.redacted))
            return out
        if kind == "custom_tool_call":
            out = [] if key in self._index else self._item_added(output_index, item)
            # Custom input is free text; the IR call takes it as the function's one argument.
            out.append(ToolCallDelta(self._index[key],
                                     arguments=orjson.dumps({CUSTOM_ARG: item["input"]}).decode()))
            return out
        if kind == "function_call":
            out = [] if key in self._index else self._item_added(output_index, item)
            if not self._sent.get(key) and item.get("arguments"):
                out.extend(self._args(key, item["arguments"]))
            return out
        if kind == "message":
            out = []
            for j, content in enumerate(item.get("content") or ()):
                if (output_index, j) in self._sent:
                    continue
                if content.get("type") == "output_text" and content.get("text"):
                    out.extend(self._text({"output_index": output_index, "content_index": j},
                                          content["text"], False))
                elif content.get("type") == "refusal" and content.get("refusal"):
                    out.extend(self._text({"output_index": output_index, "content_index": j},
                                          content["refusal"], True))
            return out
        return []
