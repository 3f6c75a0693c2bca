"""IR messages → `instructions` and `input` items of a Responses request."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.data_url import data_url
from unigate.codecs.openai_responses._util import FORMAT, TARGET, ns
from unigate.codecs.openai_responses.reasoning import reasoning_part_to_upstream_item
from unigate.codecs.openai_responses.tools import CUSTOM_ARG
from unigate.errors import UnsupportedParameter
from unigate.ir.parts import (
    DocumentPart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from unigate.ir.request import Message

CONTENT_TYPES = frozenset({"input_text", "input_image", "input_file", "output_text", "refusal"})


def messages_to_input(
    messages: list[Message], custom_names: frozenset[str]
) -> tuple[str | None, list[dict[str, Any]]]:
    lead = 0
    while lead < len(messages) and messages[lead].role == "system":
        lead += 1
    hoist = all(m.role != "system" for m in messages[lead:]) and all(
        isinstance(p, TextPart) for m in messages[:lead] for p in m.parts)
    instructions = None
    if hoist and lead:
        instructions = "\n\n".join(p.text for m in messages[:lead] for p in m.parts
                                   if isinstance(p, TextPart))
    out = _Items(custom_names)
    for i, message in enumerate(messages):
        if hoist and i < lead:
            continue
        out.message(message, i)
    return instructions, out.items


def unwrap_custom_input(arguments: str) -> str:
    """The free text of a custom tool call from its `{"input": "..."}` function arguments; the
    arguments themselves when a model filled them some other way."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get(CUSTOM_ARG), str):
        text: str = value[CUSTOM_ARG]
        return text
    return arguments


def is_custom_call(part: ToolCallPart, custom_names: frozenset[str]) -> bool:
    return ns(part.meta).get("type") == "custom_tool_call" or part.name in custom_names


class _Items:
    __slots__ = ("_content", "_custom", "_custom_calls", "_role", "items")

    def __init__(self, custom_names: frozenset[str]) -> None:
        self.items: list[dict[str, Any]] = []
        self._custom = custom_names
        self._custom_calls: set[str] = set()  # call ids whose outputs are custom outputs
        self._content: list[dict[str, Any]] = []
        self._role = ""

    def message(self, message: Message, i: int) -> None:
        # A stray non-result part in a tool turn goes out as user content.
        self._role = ns(message.meta).get("role") or (
            "user" if message.role == "tool" else message.role)
        for j, part in enumerate(message.parts):
            self._part(part, message.role, f"messages[{i}].content[{j}]")
        self._flush()

    def _flush(self) -> None:
        if self._content:
            self.items.append({"type": "message", "role": self._role, "content": self._content})
            self._content = []

    def _item(self, item: dict[str, Any]) -> None:
        self._flush()
        self.items.append(item)

    def _part(self, part: Part, role: str, path: str) -> None:
        if isinstance(part, TextPart):
            self._content.append(_text(part, role == "assistant"))
        elif isinstance(part, ToolCallPart):
            self._item(self._call(part))
        elif isinstance(part, ToolResultPart):
            kind = ("custom_tool_call_output" if part.tool_call_id in self._custom_calls
                    else "function_call_output")
            # Responses has no error flag for tool outputs: the output text says what failed.
            self._item({"type": kind, "call_id": part.tool_call_id,
                        "output": _output(part.content, path)})
        elif isinstance(part, ReasoningPart):
            item = reasoning_part_to_upstream_item(part)
            if item is not None:  # see reasoning_part_to_upstream_item for what is dropped
                self._item(item)
        elif isinstance(part, UnknownPart) and part.format == FORMAT and isinstance(part.raw, dict):
            if part.raw.get("type") in CONTENT_TYPES:
                self._content.append(part.raw)
            else:
                self._item(part.raw)
        elif role == "assistant":
            raise UnsupportedParameter(path, TARGET, f"{type(part).__name__} in an assistant turn")
        else:
            self._content.append(input_content(part, path))

    def _call(self, part: ToolCallPart) -> dict[str, Any]:
        # Item ids are left out: with `store: false` the server would try to look them up.
        if is_custom_call(part, self._custom):
            self._custom_calls.add(part.id)
            return {"type": "custom_tool_call", "call_id": part.id, "name": part.name,
                    "input": unwrap_custom_input(part.arguments)}
        return {"type": "function_call", "call_id": part.id, "name": part.name,
                "arguments": part.arguments}


def _text(part: TextPart, assistant: bool) -> dict[str, Any]:
    if not assistant:
        return {"type": "input_text", "text": part.text}
    own = ns(part.meta)
    if own.get("type") == "refusal":
        return {"type": "refusal", "refusal": part.text}
    return {"type": "output_text", "text": part.text, "annotations": own.get("annotations") or []}


def input_content(part: Part, path: str) -> dict[str, Any]:
    """A user-side content part → an input_text / input_image / input_file part."""
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else (
            data_url(part.media_type, part.data) if part.data is not None else None)
        if url is None:
            raise UnsupportedParameter(path, TARGET, "an image without url or data")
        return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}
    if isinstance(part, DocumentPart):
        out: dict[str, Any] = {"type": "input_file"}
        if part.file_id is not None:
            out["file_id"] = part.file_id
        elif part.data is not None:
            out["file_data"] = data_url(part.media_type or "application/pdf", part.data)
        elif part.url is not None:
            out["file_url"] = part.url
        if part.filename is not None:
            out["filename"] = part.filename
        detail = ns(part.meta).get("detail")
        if detail is not None:
            out["detail"] = detail
        return out
    if isinstance(part, UnknownPart) and part.format == FORMAT and isinstance(part.raw, dict):
        return part.raw
    what = part.format if isinstance(part, UnknownPart) else type(part).__name__
    raise UnsupportedParameter(path, TARGET, f"content of type '{what}'")


def _output(content: list[Part], path: str) -> str | list[dict[str, Any]]:
    if len(content) == 1 and isinstance(content[0], TextPart):
        return content[0].text
    if not content:
        return ""
    return [input_content(p, f"{path}.content[{k}]") for k, p in enumerate(content)]
