"""The Response object a client receives, shared by the unary and the streamed encoders.

Besides `output` and `usage`, the official SDK's `Response` type declares request echo fields
as required (`parallel_tool_calls`, `tool_choice`, `tools`, ...); they are filled from the
client's request when the caller passes it, and from the API's defaults otherwise."""

from __future__ import annotations

import time
import uuid
from typing import Any

from unigate.codecs.openai_responses.errors import response_error_code
from unigate.codecs.openai_responses.tools import (
    response_format_to_wire,
    tool_choice_to_wire,
    tool_spec_to_wire,
)
from unigate.codecs.openai_responses.usage import usage_to_wire
from unigate.ir.parts import TextPart
from unigate.ir.request import IRRequest
from unigate.ir.response import FinishReason
from unigate.ir.usage import Usage

# IR finish reason → (status, incomplete_details.reason)
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def client_response_id(ir_id: str) -> str:
    if ir_id.startswith("resp_"):
        return ir_id
    return "resp_" + (ir_id or uuid.uuid4().hex)


def status_for(reason: FinishReason | None) -> str:
    if reason in _INCOMPLETE:
        return "incomplete"
    return "failed" if reason == "error" else "completed"


def response_object(
    *,
    resp_id: str,
    model: str,
    created: int | None,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    request: IRRequest | None,
    reason: FinishReason | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if status == "failed" and error is None:
        error = {"code": response_error_code(500), "message": "The model failed to respond."}
    incomplete = _INCOMPLETE.get(reason or "") if status == "incomplete" else None
    obj: dict[str, Any] = {
        "id": resp_id,
        "object": "response",
        "created_at": created if created is not None else int(time.time()),
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": model,
        "output": output,
        "usage": usage_to_wire(usage),
    }
    obj.update(_echo(request))
    return obj


def _echo(req: IRRequest | None) -> dict[str, Any]:
    if req is None:
        return {
            "instructions": None, "max_output_tokens": None, "metadata": {},
            "parallel_tool_calls": True, "previous_response_id": None, "reasoning": None,
            "service_tier": "default", "store": False, "temperature": None,
            "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto",
            "tools": [], "top_logprobs": None, "top_p": None, "truncation": "disabled",
            "user": None,
        }
    instructions: list[str] = []
    for message in req.messages:
        if message.role != "system":
            break
        instructions.extend(p.text for p in message.parts if isinstance(p, TextPart))
    rf = req.response_format
    return {
        "instructions": "\n\n".join(instructions) if instructions else None,
        "max_output_tokens": req.max_tokens,
        "metadata": req.metadata or {},
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": None,
        "reasoning": {"effort": req.reasoning.effort, "summary": req.reasoning.summary}
        if req.reasoning else None,
        "service_tier": "default",
        "store": False,  # nothing is stored: the gateway keeps no responses
        "temperature": req.temperature,
        "text": {"format": response_format_to_wire(rf) if rf else {"type": "text"},
                 "verbosity": "medium"},
        "tool_choice": tool_choice_to_wire(req.tool_choice, req.tools)
        if req.tool_choice else "auto",
        "tools": [tool_spec_to_wire(t) for t in req.tools or ()],
        "top_logprobs": req.top_logprobs,
        "top_p": req.top_p,
        "truncation": "disabled",
        "user": req.user,
    }


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": content}


def text_content(text: str, refusal: bool, annotations: list[Any] | None) -> dict[str, Any]:
    if refusal:
        return {"type": "refusal", "refusal": text}
    return {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}


def call_item(item_id: str, call_id: str, name: str, arguments: str, custom: bool,
              status: str, namespace: tuple[str, str] | None = None) -> dict[str, Any]:
    """`namespace`: (namespace, function) when `name` is a namespaced function's flat name."""
    item: dict[str, Any]
    if custom:
        # `arguments` is the free-text input here; custom tool calls have no status field.
        item = {"id": item_id, "type": "custom_tool_call", "call_id": call_id, "name": name,
                "input": arguments}
    else:
        item = {"id": item_id, "type": "function_call", "status": status, "arguments": arguments,
                "call_id": call_id, "name": name}
    if namespace is not None:
        item["namespace"], item["name"] = namespace
    return item
