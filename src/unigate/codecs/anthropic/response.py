"""Anthropic Messages response bodies ↔ IRResponse, and the stop-reason vocabulary."""

from __future__ import annotations

import secrets
from typing import Any

from unigate.codecs.anthropic.blocks import FORMAT, block_to_part, part_to_block, tool_input
from unigate.codecs.anthropic.fields import JSON, own_meta
from unigate.codecs.anthropic.usage import anthropic_usage_to_ir, ir_usage_to_anthropic
from unigate.errors import InvalidRequest, UpstreamBadResponse
from unigate.ir.parts import Part, ReasoningPart, ToolCallPart
from unigate.ir.response import FinishReason, IRResponse

STOP_TO_IR: dict[str, FinishReason] = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_calls",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    # The prompt plus output reached the context window: for the client, output was cut.
    "model_context_window_exceeded": "length",
}
IR_TO_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_calls": "tool_use",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
    "content_filter": "refusal",  # Anthropic's word for output blocked by its classifiers
    "error": "end_turn",
    "other": "end_turn",
}
# Response keys kept in IRResponse.meta so an Anthropic client gets them back.
_KEPT = ("stop_details", "container")


def stop_to_ir(reason: Any) -> FinishReason | None:
    if reason is None:
        return None
    return STOP_TO_IR.get(reason, "other") if isinstance(reason, str) else "other"


def ir_to_stop(reason: FinishReason | None, saw_tool_call: bool) -> str | None:
    if reason is None:
        return None
    # Some upstreams end a tool-calling turn with a plain "stop"; Anthropic clients loop on
    # stop_reason == "tool_use", so the calls decide.
    if saw_tool_call and reason in ("stop", "other"):
        return "tool_use"
    return IR_TO_STOP.get(reason, "end_turn")


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def anthropic_to_ir_response(body: dict[str, Any]) -> IRResponse:
    """An upstream Messages response → IR. Raises UpstreamBadResponse if it is malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise UpstreamBadResponse("Anthropic response has no content array")
    try:
        parts = [block_to_part(b, f"content[{i}]") for i, b in enumerate(body["content"])]
    except InvalidRequest as e:
        raise UpstreamBadResponse(f"Anthropic response: {e.message}") from None
    kept = {k: body[k] for k in _KEPT if body.get(k) is not None}
    return IRResponse(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=parts,
        finish_reason=stop_to_ir(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=anthropic_usage_to_ir(body.get("usage")),
        meta={"anthropic": kept} if kept else None,
    )


def ir_to_anthropic_response(resp: IRResponse, model: str) -> dict[str, Any]:
    """IR → the Messages body returned to the client; `model` is the endpoint's name."""
    content = [b for i, p in enumerate(resp.parts) if (b := _response_block(p, i, resp))]
    saw_tool = any(isinstance(p, ToolCallPart) for p in resp.parts)
    stop_reason = ir_to_stop(resp.finish_reason, saw_tool) or "end_turn"
    out: JSON = {
        "id": resp.id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": resp.stop_sequence if stop_reason == "stop_sequence" else None,
        "usage": ir_usage_to_anthropic(resp.usage),
    }
    mine = own_meta(resp.meta)
    if mine:
        for key in _KEPT:
            if key in mine:
                out[key] = mine[key]
    return out


def _response_block(part: Part, i: int, resp: IRResponse) -> JSON | None:
    path = f"content[{i}]"
    if isinstance(part, ReasoningPart):
        if part.signature_format == FORMAT:
            return part_to_block(part, path)
        # Another provider's reasoning is shown as thinking, with no signature to check:
        # sent back later, it is dropped on the way to Anthropic (see blocks.reasoning_block).
        return {"type": "thinking", "thinking": part.text, "signature": ""} if part.text else None
    if isinstance(part, ToolCallPart):
        try:
            args = tool_input(part.arguments, path)
        except InvalidRequest:
            if resp.finish_reason != "length":
                raise UpstreamBadResponse(
                    f"tool call {part.id!r}: arguments are not a JSON object") from None
            args = {}  # cut off by max_tokens mid-call; stop_reason tells the client
        block: JSON = {"type": "tool_use", "id": part.id, "name": part.name, "input": args}
        for key, value in (own_meta(part.meta) or {}).items():
            block.setdefault(key, value)
        return block
    try:
        return part_to_block(part, path)
    except InvalidRequest as e:
        raise UpstreamBadResponse(f"response part cannot be shown to an Anthropic client: "
                                  f"{e.message}") from None
