"""A streamed model call inside a streamed loop: text goes to the client delta by delta as
the provider sends it; every other part (reasoning, a client's function call) becomes its
item once it is complete, in the order the model produced them. The MCP calls among the
parts are left to the loop, which turns them into `mcp_call` items as it runs them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from unigate.agent.events import LoopOutput
from unigate.codecs.openai_responses.response import parts_to_output
from unigate.ir import StreamEvent, TextDelta, ToolCallPart
from unigate.ir.fold import StreamFolder
from unigate.ir.stream import ReasoningDelta, ToolCallDelta, UnknownPartDelta

_PART_EVENTS = (TextDelta, ReasoningDelta, ToolCallDelta, UnknownPartDelta)


class LiveParts:
    def __init__(self, out: LoopOutput, stem: str, loop_tools: Collection[str], custom: frozenset[str]) -> None:
        self._out, self._stem, self._loop_tools, self._custom = out, stem, loop_tools, custom
        self._folder = StreamFolder()
        self._seen: list[int] = []  # part indexes, in order of arrival
        self._done: set[int] = set()  # parts already given to the client
        self._message: int | None = None  # output index of the open message item
        self._text: int | None = None  # stream index of the text part being streamed
        self._content: list[dict[str, Any]] = []

    async def feed(self, ev: StreamEvent) -> None:
        self._folder.add(ev)
        index = getattr(ev, "index", None) if isinstance(ev, _PART_EVENTS) else None
        if index is None:
            return
        if index not in self._seen:
            await self._complete_before(index)
            self._seen.append(index)
        if isinstance(ev, TextDelta) and ev.text:
            await self._text_delta(index, ev.text)

    async def finish(self) -> None:
        """After the call: close the message and give out the parts not given yet."""
        await self._complete_before(None)

    async def _complete_before(self, new_index: int | None) -> None:
        """A new part started (or the call ended): the ones before it are complete."""
        for index in self._seen:
            if index in self._done or index == new_index:
                continue
            part = self._folder.part(index)
            if index == self._text:
                await self._close_text()
                continue
            self._done.add(index)
            if part is None or (isinstance(part, ToolCallPart) and part.name in self._loop_tools):
                continue
            await self._close_message()
            for item in parts_to_output([part], f"{self._stem}_{index}", self._custom):
                await self._out.add(item)
        if new_index is None:
            await self._close_message()

    async def _text_delta(self, index: int, text: str) -> None:
        out = self._out
        if self._message is None:
            item = {"id": f"msg_{self._stem}_{index}", "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []}
            self._message = await out.open(item)
            self._content = []
        if self._text != index:
            self._text = index
            self._content.append({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
            await out.event("response.content_part.added", self._message, content_index=len(self._content) - 1,
                            part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        self._content[-1]["text"] += text
        await out.event("response.output_text.delta", self._message, content_index=len(self._content) - 1,
                        delta=text, logprobs=[])

    async def _close_text(self) -> None:
        if self._text is None or self._message is None:
            return
        self._done.add(self._text)
        self._text = None
        part, n = self._content[-1], len(self._content) - 1
        await self._out.event("response.output_text.done", self._message, content_index=n,
                              text=part["text"], logprobs=[])
        await self._out.event("response.content_part.done", self._message, content_index=n, part=part)

    async def _close_message(self) -> None:
        await self._close_text()
        if self._message is None:
            return
        index, self._message = self._message, None
        self._out.items[index] = {**self._out.items[index], "status": "completed", "content": self._content}
        await self._out.close(index)
