"""generateContent responses ↔ IR, and finish reasons both ways."""

from __future__ import annotations

import secrets
from typing import Any

from unigate.codecs.fields import array, obj
from unigate.codecs.gemini._util import FORMAT
from unigate.codecs.gemini.parts_decode import decode_part, merge_reasoning, upstream_call_id
from unigate.codecs.gemini.parts_encode import encode_response_parts
from unigate.codecs.gemini.usage import usage_from_metadata, usage_to_metadata
from unigate.errors import UpstreamBadResponse
from unigate.ir.parts import Part, ToolCallPart
from unigate.ir.response import FinishReason, IRResponse

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",  # also a stop sequence: Gemini does not tell them apart
    "MAX_TOKENS": "length",
    "MALFORMED_FUNCTION_CALL": "error", "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error", "MALFORMED_RESPONSE": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
}
_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "PUP_LIMITED_DISABLED",
})
_TO_GEMINI: dict[str, str] = {
    "stop": "STOP", "stop_sequence": "STOP", "tool_calls": "STOP", "pause_turn": "STOP",
    "length": "MAX_TOKENS", "content_filter": "SAFETY", "refusal": "SAFETY",
    "error": "OTHER", "other": "OTHER",
}
# candidate fields with no IR counterpart, kept so a Gemini client gets them back
_CANDIDATE_EXTRAS = ("groundingMetadata", "citationMetadata", "urlContextMetadata",
                     "safetyRatings")


def finish_to_ir(reason: str, has_calls: bool) -> FinishReason:
    if reason in _FILTERED:
        return "content_filter"
    ir = _FINISH.get(reason, "other")
    return "tool_calls" if ir == "stop" and has_calls else ir


def finish_to_gemini(reason: FinishReason) -> str:
    return _TO_GEMINI.get(reason, "OTHER")


def new_response_id() -> str:
    return secrets.token_urlsafe(16).replace("-", "").replace("_", "")


def gemini_to_ir_response(body: dict[str, Any]) -> IRResponse:
    """An upstream answer → IR. Only the first candidate is read: the encoder never asks for
    more. Function calls get ids that carry their thoughtSignature (see `_util`)."""
    body = obj(body, "response", UpstreamBadResponse)
    rid = body.get("responseId")
    rid = rid if isinstance(rid, str) and rid else new_response_id()
    model = body.get("modelVersion")
    resp = IRResponse(id=rid, model=model if isinstance(model, str) else "")
    resp.usage = usage_from_metadata(body.get("usageMetadata"))
    cands = array(body.get("candidates") or [], "candidates", UpstreamBadResponse)
    if not cands:
        feedback = body.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            resp.finish_reason = "content_filter"  # the prompt itself was blocked
            resp.meta = {FORMAT: {"promptFeedback": feedback}}
        return resp
    cand = obj(cands[0], "candidates[0]", UpstreamBadResponse)
    content = cand.get("content")
    raw_parts = obj(content, "candidates[0].content", UpstreamBadResponse).get("parts") \
        if content is not None else None
    resp.parts = decode_candidate_parts(raw_parts or [], rid)
    reason = cand.get("finishReason")
    if isinstance(reason, str):
        has_calls = any(isinstance(p, ToolCallPart) for p in resp.parts)
        resp.finish_reason = finish_to_ir(reason, has_calls)
    kept = {k: cand[k] for k in _CANDIDATE_EXTRAS if k in cand}
    if kept:
        resp.meta = {FORMAT: {"candidate": kept}}
    return resp


def decode_candidate_parts(raw_parts: Any, rid: str) -> list[Part]:
    parts: list[Part] = []
    calls = 0
    for i, raw in enumerate(array(raw_parts, "candidates[0].content.parts", UpstreamBadResponse)):
        part = decode_part(raw, f"candidates[0].content.parts[{i}]", UpstreamBadResponse)
        if isinstance(part, ToolCallPart):
            upstream_call_id(part, rid, calls)
            calls += 1
        if not merge_reasoning(parts, part):
            parts.append(part)
    return parts


def ir_to_gemini_response(resp: IRResponse, model: str) -> dict[str, Any]:
    """IR → the body for a Gemini client; `model` (the endpoint name) is the modelVersion."""
    g = resp.meta.get(FORMAT, {}) if resp.meta else {}
    body: dict[str, Any] = {}
    parts = encode_response_parts(resp.parts)
    if parts or "promptFeedback" not in g:  # a blocked prompt has no candidate at all
        cand: dict[str, Any] = {}
        if parts:  # Gemini leaves content out of a filtered candidate
            cand["content"] = {"parts": parts, "role": "model"}
        if resp.finish_reason is not None:
            cand["finishReason"] = finish_to_gemini(resp.finish_reason)
        cand["index"] = 0
        cand.update(g.get("candidate") or {})
        body["candidates"] = [cand]
    if "promptFeedback" in g:
        body["promptFeedback"] = g["promptFeedback"]
    if resp.usage is not None:
        body["usageMetadata"] = usage_to_metadata(resp.usage)
    body["modelVersion"] = model
    body["responseId"] = resp.id
    return body
