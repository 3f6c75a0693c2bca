"""Token counting (POST /v1/messages/count_tokens): a Messages body without max_tokens in,
{"input_tokens": n} out."""

from __future__ import annotations

from typing import Any

from unigate.codecs.anthropic.request_decode import anthropic_to_ir_request
from unigate.codecs.anthropic.request_encode import (
    encode_messages,
    encode_tools,
    output_config_for,
)
from unigate.codecs.anthropic.thinking import plan_thinking, thinking_fits_history
from unigate.ir.request import IRRequest


def anthropic_count_tokens_to_ir(body: dict[str, Any]) -> IRRequest:
    return anthropic_to_ir_request(body, require_max_tokens=False)


def ir_to_anthropic_count_tokens_request(ir: IRRequest, model: str, *,
                                         adaptive_thinking: bool = False) -> dict[str, Any]:
    """Only what the count depends on: the prompt, tools and thinking. Sampling settings
    cannot change a count, so they are left out rather than refused."""
    body: dict[str, Any] = {"model": model}
    system, messages = encode_messages(ir.messages)
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    encode_tools(ir, body)
    plan = plan_thinking(ir.reasoning, ir.max_tokens, 0, adaptive=adaptive_thinking,
                         check_budget=False)
    if plan.thinking is not None and (plan.thinking["type"] == "disabled"
                                      or thinking_fits_history(messages)):
        body["thinking"] = plan.thinking
    output_config = output_config_for(ir, plan.effort)
    if output_config:
        body["output_config"] = output_config
    return body


def anthropic_count_tokens_response(n: int) -> dict[str, Any]:
    return {"input_tokens": n}
