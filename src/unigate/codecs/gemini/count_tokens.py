"""countTokens: `models/{model}:countTokens` ↔ IR."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import obj
from unigate.codecs.gemini._util import get
from unigate.codecs.gemini.request_decode import gemini_to_ir_request
from unigate.codecs.gemini.request_encode import encode_prompt
from unigate.errors import InvalidRequest
from unigate.ir.request import IRRequest


def gemini_count_tokens_to_ir(body: dict[str, Any], model: str) -> IRRequest:
    """Either `{"contents": [...]}` or `{"generateContentRequest": {...}}` (which also
    counts the system instruction and tools)."""
    body = obj(body, "request body")
    full = get(body, "generateContentRequest")
    if full is not None:
        return gemini_to_ir_request(obj(full, "generateContentRequest"), model, False)
    if get(body, "contents") is None:
        raise InvalidRequest("contents or generateContentRequest: required", param="contents")
    return gemini_to_ir_request({"contents": get(body, "contents")}, model, False)


def ir_to_gemini_count_tokens_request(ir: IRRequest, model: str) -> dict[str, Any]:
    """Always the generateContentRequest form, so the system prompt and tools count too
    (generation settings do not change the count and are left out)."""
    request = encode_prompt(ir)
    name = model if model.startswith("models/") else f"models/{model}"
    return {"generateContentRequest": {"model": name, **request}}


def gemini_count_tokens_response(n: int) -> dict[str, Any]:
    return {"totalTokens": n}
