"""Complete (non-streamed) responses: an upstream chat.completion → IR, and IR → the client's."""

from __future__ import annotations

import time
import uuid
from typing import Any

from unigate.codecs.data_url import data_url
from unigate.codecs.openai_chat.content import FORMAT
from unigate.codecs.openai_chat.usage import ir_to_usage, usage_to_ir
from unigate.errors import UpstreamBadResponse
from unigate.ir.parts import ImagePart, Part, ReasoningPart, TextPart, ToolCallPart, UnknownPart
from unigate.ir.response import FinishReason, IRResponse

_FINISH_TO_IR: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter", "function_call": "tool_calls",
}
# IR → OpenAI. A matched stop sequence is "stop" in OpenAI's vocabulary. Anthropic's
# "refusal" (its safety classifiers ended the turn) is what OpenAI calls "content_filter".
# pause_turn, error and other have no OpenAI counterpart: the turn ended, so "stop".
_FINISH_FROM_IR: dict[str, str] = {
    "stop": "stop", "stop_sequence": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter", "refusal": "content_filter",
}


def finish_to_ir(reason: Any, stop_reason: Any = None) -> tuple[FinishReason | None, str | None]:
    """OpenAI's finish_reason (and vLLM's `stop_reason`, the matched stop string) → IR."""
    if reason is None:
        return None, None
    if reason == "stop" and isinstance(stop_reason, str):
        return "stop_sequence", stop_reason
    return _FINISH_TO_IR.get(reason, "other"), None


def finish_from_ir(reason: FinishReason | None, called_tools: bool = False) -> str:
    out = _FINISH_FROM_IR.get(reason or "stop", "stop")
    # OpenAI always says "tool_calls" when the message calls tools, and clients loop on it;
    # Gemini, for one, ends such turns with a plain STOP.
    return "tool_calls" if called_tools and out == "stop" else out


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def _bad(what: str) -> UpstreamBadResponse:
    return UpstreamBadResponse(f"chat completion response: {what}")


def openai_chat_to_ir_response(body: dict[str, Any]) -> IRResponse:
    if not isinstance(body, dict):
        raise _bad("not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _bad("no choices")
    # Only one choice: the encoder refuses n > 1 on the translated path.
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _bad("choices[0].message is missing")
    reason, stop_seq = finish_to_ir(choice.get("finish_reason"), choice.get("stop_reason"))
    resp = IRResponse(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=message_to_parts(message),
        finish_reason=reason,
        stop_sequence=stop_seq,
        usage=usage_to_ir(body.get("usage")),
        created=body.get("created") if isinstance(body.get("created"), int) else None,
    )
    if body.get("system_fingerprint"):
        resp.meta = {FORMAT: {"system_fingerprint": body["system_fingerprint"]}}
    return resp


def message_to_parts(message: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ReasoningPart(reasoning))
    content = message.get("content")
    if isinstance(content, list):
        # A few compatible servers (Mistral) answer with content parts: keep their text.
        content = "".join(c["text"] for c in content
                          if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str))
    if isinstance(content, str) and content:
        parts.append(TextPart(content))
    elif content is not None and not isinstance(content, str):
        raise _bad("message.content is not a string")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(TextPart(refusal, {FORMAT: {"refusal": True}}))
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict) and call.get("type") == "custom":
            parts.append(UnknownPart(FORMAT, call))  # a custom (grammar) tool's call
            continue
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _bad("a tool call without function.name")
        args = fn.get("arguments")
        parts.append(ToolCallPart(str(call.get("id") or ""), fn["name"],
                                  args if isinstance(args, str) else ""))
    return parts


def ir_to_openai_chat_response(resp: IRResponse, model: str) -> dict[str, Any]:
    text: list[str] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for p in resp.parts:
        if isinstance(p, TextPart):
            (refusal if p.meta and p.meta.get(FORMAT, {}).get("refusal") else text).append(p.text)
        elif isinstance(p, ToolCallPart):
            calls.append({"id": p.id, "type": "function",
                          "function": {"name": p.name, "arguments": p.arguments or "{}"}})
        elif isinstance(p, ReasoningPart):
            reasoning.append(p.text)
        elif isinstance(p, UnknownPart) and p.format == FORMAT and isinstance(p.raw, dict) \
                and p.raw.get("type") == "custom":
            calls.append(p.raw)
        elif isinstance(p, ImagePart):
            url = p.url or data_url(p.media_type or "image/png", p.data or "")
            images.append({"type": "image_url", "image_url": {"url": url}})
        # Other parts (documents, other formats' unknown parts) have no place in a chat
        # completion message.
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(text) if text else None,
        "refusal": "".join(refusal) if refusal else None,
    }
    # Chat completions has no standard reasoning field: `reasoning_content` is what
    # DeepSeek/vLLM/OpenRouter-style clients read; official SDK clients ignore it.
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    if images:
        message["images"] = images  # OpenRouter's field for generated images
    out: dict[str, Any] = {
        "id": resp.id or new_id(),
        "object": "chat.completion",
        "created": resp.created if resp.created is not None else int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": finish_from_ir(resp.finish_reason, bool(calls)),
        }],
    }
    if resp.usage is not None:
        out["usage"] = ir_to_usage(resp.usage)
    fingerprint = (resp.meta or {}).get(FORMAT, {}).get("system_fingerprint")
    if fingerprint:
        out["system_fingerprint"] = fingerprint
    return out
