"""Client `input` items → IR messages.

A Responses conversation is a flat list of items; the IR is a list of turns. Consecutive
assistant-side items (reasoning, assistant message, function calls) form one assistant turn,
and consecutive tool outputs one "tool" turn, as every chat-style format expects.
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.data_url import split_data_url
from unigate.codecs.fields import array, fail, obj, opt_string, string
from unigate.codecs.openai_responses._util import FORMAT
from unigate.codecs.openai_responses.reasoning import reasoning_item_to_part
from unigate.codecs.openai_responses.tools import CUSTOM_ARG, flat_name
from unigate.ir.parts import (
    DocumentPart,
    ImagePart,
    Part,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from unigate.ir.request import Message

_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def input_to_messages(value: Any, messages: list[Message]) -> None:
    if isinstance(value, str):
        messages.append(Message("user", [TextPart(value)]))
        return
    for i, raw in enumerate(array(value, "input")):
        path = f"input[{i}]"
        item = obj(raw, path)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"  # "easy" input messages may leave the type out
        kind = string(kind, f"{path}.type")
        if kind == "message":
            message = _message(item, path)
            if message.role == "assistant":
                _turn(messages, "assistant").parts.extend(message.parts)
            else:
                messages.append(message)
        elif kind == "function_call":
            name = string(item.get("name"), f"{path}.name")
            namespace = opt_string(item.get("namespace"), f"{path}.namespace")
            _turn(messages, "assistant").parts.append(ToolCallPart(
                id=string(item.get("call_id"), f"{path}.call_id"),
                name=flat_name(namespace, name) if namespace else name,
                arguments=string(item.get("arguments", ""), f"{path}.arguments"),
                meta=_item_meta(item, path),
            ))
        elif kind == "custom_tool_call":
            _turn(messages, "assistant").parts.append(custom_call_to_part(item, path))
        elif kind == "reasoning":
            _turn(messages, "assistant").parts.append(reasoning_item_to_part(item, path))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _turn(messages, "tool").parts.append(ToolResultPart(
                tool_call_id=string(item.get("call_id"), f"{path}.call_id"),
                content=_output_parts(item.get("output"), f"{path}.output"),
            ))
        else:
            # Built-in tool calls and their outputs, item_reference: only a Responses upstream
            # understands them. Kept in place so order survives; other encoders refuse them.
            if kind.endswith("_call"):
                target = _turn(messages, "assistant")
            elif kind.endswith("_output"):
                target = _turn(messages, "tool")
            else:
                target = messages[-1] if messages else _new(messages, "user")
            target.parts.append(UnknownPart(FORMAT, item))


def custom_call_to_part(item: dict[str, Any], path: str) -> ToolCallPart:
    """A `custom_tool_call` → a call of the one-string-argument function it maps to."""
    text = string(item.get("input"), f"{path}.input")
    meta: dict[str, Any] = {"type": "custom_tool_call"}
    if item.get("id") is not None:
        meta["id"] = string(item["id"], f"{path}.id")
    name = string(item.get("name"), f"{path}.name")
    namespace = opt_string(item.get("namespace"), f"{path}.namespace")
    return ToolCallPart(
        id=string(item.get("call_id"), f"{path}.call_id"),
        name=flat_name(namespace, name) if namespace else name,
        arguments=orjson.dumps({CUSTOM_ARG: text}).decode(),
        meta={FORMAT: meta},
    )


def _item_meta(item: dict[str, Any], path: str) -> dict[str, Any] | None:
    item_id = opt_string(item.get("id"), f"{path}.id")
    return {FORMAT: {"id": item_id}} if item_id else None


def _new(messages: list[Message], role: str) -> Message:
    message = Message(role)  # type: ignore[arg-type]
    messages.append(message)
    return message


def _turn(messages: list[Message], role: str) -> Message:
    """The open turn of `role` (items of one turn arrive one after the other), or a new one."""
    if messages and messages[-1].role == role and not messages[-1].meta:
        return messages[-1]
    return _new(messages, role)


def _message(item: dict[str, Any], path: str) -> Message:
    wire_role = string(item.get("role"), f"{path}.role")
    role = _ROLES.get(wire_role)
    if role is None:
        fail(f"{path}.role", f"unknown role '{wire_role}'")
    content = item.get("content")
    if isinstance(content, str):
        parts: list[Part] = [TextPart(content)]
    else:
        parts = [_content_part(p, f"{path}.content[{j}]")
                 for j, p in enumerate(array(content, f"{path}.content"))]
    # The IR has one system role; remember "developer" so a Responses upstream gets it back.
    meta = {FORMAT: {"role": wire_role}} if wire_role == "developer" else None
    return Message(role, parts, meta=meta)  # type: ignore[arg-type]


def _content_part(raw: Any, path: str) -> Part:
    part = obj(raw, path)
    kind = string(part.get("type"), f"{path}.type")
    if kind in ("input_text", "output_text"):
        text = string(part.get("text"), f"{path}.text")
        annotations = part.get("annotations")
        return TextPart(text, {FORMAT: {"annotations": annotations}} if annotations else None)
    if kind == "refusal":
        return TextPart(string(part.get("refusal"), f"{path}.refusal"),
                        {FORMAT: {"type": "refusal"}})
    if kind == "input_image":
        url = opt_string(part.get("image_url"), f"{path}.image_url")
        if url is None:
            if part.get("file_id") is None:
                fail(path, "an input_image needs image_url or file_id")
            return UnknownPart(FORMAT, part)  # a file stored at OpenAI: no other provider has it
        return ImagePart(url=url, detail=opt_string(part.get("detail"), f"{path}.detail"))
    if kind == "input_file":
        return _file(part, path)
    fail(f"{path}.type", f"unknown content type '{kind}'")


def _file(part: dict[str, Any], path: str) -> DocumentPart:
    doc = DocumentPart(
        file_id=opt_string(part.get("file_id"), f"{path}.file_id"),
        url=opt_string(part.get("file_url"), f"{path}.file_url"),
        filename=opt_string(part.get("filename"), f"{path}.filename"),
    )
    data = opt_string(part.get("file_data"), f"{path}.file_data")
    if data is not None:
        split = split_data_url(data)
        if split is None:
            doc.data = data  # bare base64, which the API also accepts
        else:
            doc.media_type, doc.data = split
    if doc.data is None and doc.url is None and doc.file_id is None:
        fail(path, "an input_file needs file_data, file_url or file_id")
    if part.get("detail") is not None:
        doc.meta = {FORMAT: {"detail": part["detail"]}}
    return doc


def _output_parts(output: Any, path: str) -> list[Part]:
    if isinstance(output, str):
        return [TextPart(output)]
    return [_content_part(p, f"{path}[{j}]") for j, p in enumerate(array(output, path))]
