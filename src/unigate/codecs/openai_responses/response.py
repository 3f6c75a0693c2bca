"""Complete (non-streamed) responses: an upstream Response → IR, and IR → a client Response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.codecs.fields import array, obj, opt_string, string
from unigate.codecs.openai_responses._util import FORMAT, item_suffix, ns
from unigate.codecs.openai_responses.errors import failure_to_error
from unigate.codecs.openai_responses.items_decode import custom_call_to_part
from unigate.codecs.openai_responses.items_encode import is_custom_call, unwrap_custom_input
from unigate.codecs.openai_responses.reasoning import (
    reasoning_item_to_part,
    reasoning_part_to_client_item,
)
from unigate.codecs.openai_responses.response_object import (
    call_item,
    client_response_id,
    message_item,
    response_object,
    status_for,
    text_content,
)
from unigate.codecs.openai_responses.tools import custom_tool_names, namespace_names
from unigate.codecs.openai_responses.usage import usage_from_wire
from unigate.errors import InvalidRequest, UpstreamBadResponse
from unigate.ir.parts import ImagePart, Part, ReasoningPart, TextPart, ToolCallPart, UnknownPart
from unigate.ir.request import IRRequest
from unigate.ir.response import FinishReason, IRResponse


def finish_reason_for(status: Any, incomplete_reason: Any, has_calls: bool) -> FinishReason:
    if status == "incomplete":
        if incomplete_reason == "max_output_tokens":
            return "length"
        return "content_filter" if incomplete_reason == "content_filter" else "other"
    if status in (None, "completed"):
        return "tool_calls" if has_calls else "stop"
    return "other"  # cancelled, or a background response still queued / in progress


def openai_responses_to_ir_response(body: dict[str, Any]) -> IRResponse:
    try:
        return _decode(obj(body, "response"))
    except InvalidRequest as err:  # the validators speak for client bodies; this is upstream's
        raise UpstreamBadResponse(f"OpenAI Responses: {err.message}") from err


def _decode(body: dict[str, Any]) -> IRResponse:
    status = body.get("status")
    if status == "failed":
        raise failure_to_error(body.get("error"), "the upstream response failed")
    parts = output_items_to_parts(body.get("output") or [])
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    created = body.get("created_at")
    return IRResponse(
        id=string(body.get("id"), "id"),
        model=opt_string(body.get("model"), "model") or "",
        parts=parts,
        finish_reason=finish_reason_for(
            status, reason, any(isinstance(p, ToolCallPart) for p in parts)),
        usage=usage_from_wire(body.get("usage")),
        created=int(created) if isinstance(created, (int, float)) else None,
    )


def output_item_to_parts(item: dict[str, Any], path: str) -> list[Part]:
    kind = item.get("type")
    if kind == "message":
        return [_content_to_part(c, f"{path}.content[{j}]")
                for j, c in enumerate(array(item.get("content"), f"{path}.content"))]
    if kind == "reasoning":
        return [reasoning_item_to_part(item, path)]
    if kind == "function_call":
        item_id = opt_string(item.get("id"), f"{path}.id")
        return [ToolCallPart(
            id=string(item.get("call_id"), f"{path}.call_id"),
            name=string(item.get("name"), f"{path}.name"),
            arguments=string(item.get("arguments", ""), f"{path}.arguments"),
            meta={FORMAT: {"id": item_id}} if item_id else None,
        )]
    if kind == "custom_tool_call":
        return [custom_call_to_part(item, path)]
    return [UnknownPart(FORMAT, item)]  # built-in tool calls (web search, ...)


def output_items_to_parts(output: Any) -> list[Part]:
    parts: list[Part] = []
    for i, raw in enumerate(array(output, "output")):
        parts.extend(output_item_to_parts(obj(raw, f"output[{i}]"), f"output[{i}]"))
    return parts


def _content_to_part(raw: Any, path: str) -> Part:
    content = obj(raw, path)
    kind = content.get("type")
    if kind == "output_text":
        annotations = content.get("annotations")
        return TextPart(string(content.get("text"), f"{path}.text"),
                        {FORMAT: {"annotations": annotations}} if annotations else None)
    if kind == "refusal":
        return TextPart(string(content.get("refusal"), f"{path}.refusal"),
                        {FORMAT: {"type": "refusal"}})
    return UnknownPart(FORMAT, content)


# --- IR → client -----------------------------------------------------------------------------


def ir_to_openai_responses_response(
    resp: IRResponse, model: str, *, request: IRRequest | None = None
) -> dict[str, Any]:
    """`request` (the client's request, as decoded) fills the echo fields and tells which tool
    calls answer `custom` tools; without it the API's defaults are echoed."""
    resp_id = client_response_id(resp.id)
    status = status_for(resp.finish_reason)
    tools = request.tools if request else None
    output = parts_to_output(resp.parts, item_suffix(resp_id), custom_tool_names(tools),
                             namespace_names(tools))
    if status == "incomplete" and output and output[-1].get("type") in ("message", "function_call"):
        output[-1]["status"] = "incomplete"  # the item that was cut off
    return response_object(resp_id=resp_id, model=model, created=resp.created, status=status,
                           output=output, usage=resp.usage, request=request,
                           reason=resp.finish_reason)


def parts_to_output(parts: list[Part], stem: str, custom: frozenset[str],
                    namespaces: Mapping[str, tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    open_message: list[dict[str, Any]] | None = None  # content of the message item being built
    for part in parts:
        n = len(output)
        if isinstance(part, TextPart):
            own = ns(part.meta)
            content = text_content(part.text, own.get("type") == "refusal", own.get("annotations"))
            if open_message is None:
                open_message = []
                output.append(message_item(f"msg_{stem}_{n}", open_message, "completed"))
            open_message.append(content)
            continue
        open_message = None
        if isinstance(part, ReasoningPart):
            item_id = ns(part.meta).get("id") or f"rs_{stem}_{n}"
            output.append(reasoning_part_to_client_item(part, item_id))
        elif isinstance(part, ToolCallPart):
            output.append(tool_call_to_item(part, f"{stem}_{n}", custom, namespaces))
        elif isinstance(part, UnknownPart) and part.format == FORMAT and isinstance(part.raw, dict):
            output.append(part.raw)
        elif isinstance(part, ImagePart) and part.data is not None:
            # A generated image (Gemini): Responses returns those as image generation calls.
            output.append({"id": f"ig_{stem}_{n}", "type": "image_generation_call",
                           "status": "completed", "result": part.data})
        # Other providers' unknown parts have no Responses item a client could read: left out.
    return output


def tool_call_to_item(part: ToolCallPart, suffix: str, custom: frozenset[str],
                      namespaces: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    where = namespaces.get(part.name) if namespaces else None
    if is_custom_call(part, custom):
        item_id = ns(part.meta).get("id") or f"ctc_{suffix}"
        return call_item(item_id, part.id, part.name, unwrap_custom_input(part.arguments),
                         True, "completed", where)
    item_id = ns(part.meta).get("id") or f"fc_{suffix}"
    return call_item(item_id, part.id, part.name, part.arguments, False, "completed", where)
