"""Where an agent loop's output items go: kept for the final Response object, and, when the
client streams, written as they happen as the Responses API's events (output_item.added,
the item's own events, output_item.done), between response.created and response.completed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson

from unigate.server.context import RequestContext
from unigate.server.http import StreamResponse
from unigate.sse import encode_event

Envelope = Callable[[str], dict[str, Any]]  # status → the Response object so far


class LoopOutput:
    def __init__(self, ctx: RequestContext, stream: StreamResponse | None, envelope: Envelope) -> None:
        self.ctx = ctx
        self.items: list[dict[str, Any]] = []
        self._out = stream
        self._envelope = envelope
        self._seq = 0

    @property
    def streaming(self) -> bool:
        return self._out is not None

    async def start(self) -> None:
        response = self._envelope("in_progress")
        await self._emit("response.created", {"response": response})
        await self._emit("response.in_progress", {"response": response})

    async def finish(self, status: str) -> None:
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status, "response.failed")
        await self._emit(kind, {"response": self._envelope(status)})

    # --- items -------------------------------------------------------------------------------

    async def open(self, item: dict[str, Any]) -> int:
        """Announce an item that is not done yet (an MCP call being made)."""
        index = len(self.items)
        self.items.append(item)
        await self._emit("response.output_item.added", {"output_index": index, "item": copy.deepcopy(item)})
        return index

    async def event(self, kind: str, index: int, **fields: Any) -> None:
        await self._emit(kind, {"item_id": self.items[index]["id"], "output_index": index, **fields})

    async def close(self, index: int) -> None:
        await self._emit("response.output_item.done", {"output_index": index, "item": self.items[index]})

    async def add(self, item: dict[str, Any]) -> None:
        """A finished item (a message, reasoning, a function call, an approval request), with
        the events the API streams for its kind."""
        if not self.streaming:
            self.items.append(item)
            return
        kind = item.get("type")
        if kind == "message":
            await self._message(item)
        elif kind == "function_call":
            index = await self.open({**item, "arguments": "", "status": "in_progress"})
            await self.event("response.function_call_arguments.delta", index, delta=item["arguments"])
            await self.event("response.function_call_arguments.done", index, arguments=item["arguments"])
            self.items[index] = item
            await self.close(index)
        else:
            index = await self.open(item)
            await self.close(index)

    async def _message(self, item: dict[str, Any]) -> None:
        index = await self.open({**item, "status": "in_progress", "content": []})
        for n, part in enumerate(item.get("content") or []):
            where = {"content_index": n}
            if part.get("type") == "refusal":
                await self.event("response.content_part.added", index, **where,
                                 part={"type": "refusal", "refusal": ""})
                await self.event("response.refusal.delta", index, **where, delta=part["refusal"])
                await self.event("response.refusal.done", index, **where, refusal=part["refusal"])
            else:
                await self.event("response.content_part.added", index, **where,
                                 part={**part, "text": "", "annotations": []})
                await self.event("response.output_text.delta", index, **where, delta=part["text"], logprobs=[])
                await self.event("response.output_text.done", index, **where, text=part["text"], logprobs=[])
            await self.event("response.content_part.done", index, **where, part=part)
        self.items[index] = item
        await self.close(index)

    async def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self._out is None:
            return
        data = {"type": kind, **payload, "sequence_number": self._seq}
        self._seq += 1
        await self.ctx.write(self._out, encode_event(orjson.dumps(data), kind))
