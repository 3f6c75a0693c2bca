"""`IRRequest` → the body of a Responses request sent upstream."""

from __future__ import annotations

from typing import Any

from unigate.codecs.openai_responses._util import FORMAT, TARGET
from unigate.codecs.openai_responses.items_encode import messages_to_input
from unigate.codecs.openai_responses.tools import (
    custom_tool_names,
    response_format_to_wire,
    tool_choice_to_wire,
    tool_spec_to_wire,
)
from unigate.ir.parameters import offerable_tools
from unigate.ir.request import IRRequest, ReasoningConfig


def ir_to_openai_responses_request(ir: IRRequest, model: str) -> dict[str, Any]:
    _unsupported(ir)
    if ir.tools:
        ir.tools = offerable_tools(ir, FORMAT, TARGET) or None
    body: dict[str, Any] = {"model": model}
    instructions, items = messages_to_input(ir.messages, custom_tool_names(ir.tools))
    if instructions is not None:
        body["instructions"] = instructions
    body["input"] = items
    if ir.tools:
        body["tools"] = [tool_spec_to_wire(t) for t in ir.tools]
    if ir.tool_choice is not None:
        body["tool_choice"] = tool_choice_to_wire(ir.tool_choice, ir.tools)
    if ir.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = ir.parallel_tool_calls
    if ir.response_format is not None:
        body["text"] = {"format": response_format_to_wire(ir.response_format)}
    reasoning = reasoning_to_wire(ir.reasoning)
    if reasoning:
        body["reasoning"] = reasoning
    for key, value in (("max_output_tokens", ir.max_tokens), ("temperature", ir.temperature),
                       ("top_p", ir.top_p), ("metadata", ir.metadata), ("user", ir.user)):
        if value is not None:
            body[key] = value
    body["stream"] = ir.stream
    # The gateway keeps no server-side state: every request carries its whole history, and
    # nothing needs to be stored at OpenAI (nor may be, for privacy).
    body["store"] = False
    if reasoning.get("effort") not in (None, "none") or any(
            i.get("type") == "reasoning" for i in items):
        # Without storage, reasoning only survives to the next turn in encrypted form.
        body["include"] = ["reasoning.encrypted_content"]
    return body


def _unsupported(ir: IRRequest) -> None:
    """What Responses cannot honour: refused, or dropped by the policy (`ir.parameters`)."""
    report = ir.report
    for name, value in (("top_k", ir.top_k), ("seed", ir.seed)):
        if value is not None:
            report.unsupported(name, TARGET)
    # A zero penalty is the default many SDKs send: nothing to honour.
    for name, num in (("presence_penalty", ir.presence_penalty),
                      ("frequency_penalty", ir.frequency_penalty)):
        if num:
            report.unsupported(name, TARGET)
    if ir.stop:
        report.unsupported("stop", TARGET, "Responses has no stop sequences")
    if ir.n not in (None, 1):
        report.unsupported("n", TARGET, "Responses returns one answer per request")
    if ir.logprobs or ir.top_logprobs:
        # The IR response has no place for log probabilities, so they could not reach the client.
        report.unsupported("logprobs" if ir.logprobs else "top_logprobs", TARGET,
                           "log probabilities are not carried across formats")


def _effort_for_budget(budget: int) -> str:
    # Thinking budgets (Anthropic, Gemini) on OpenAI's effort scale; the bounds are where the
    # documented effort levels spend roughly that many reasoning tokens.
    if budget <= 2048:
        return "low"
    if budget <= 12288:
        return "medium"
    return "high"


def reasoning_to_wire(rc: ReasoningConfig | None) -> dict[str, Any]:
    """`reasoning` for a Responses request; {} when nothing was asked.

    Thinking switched off (`enabled` false without an effort) sends nothing: the lowest effort
    differs between OpenAI models ("none" vs "minimal") and an unknown value is a 400."""
    if rc is None or (rc.enabled is False and rc.effort is None):
        return {}
    out: dict[str, Any] = {}
    if rc.effort is not None:
        out["effort"] = rc.effort
    elif rc.budget_tokens is not None and rc.budget_tokens > 0:
        out["effort"] = _effort_for_budget(rc.budget_tokens)
    summary = rc.summary or ("auto" if rc.include_thoughts else None)
    if summary is not None:
        out["summary"] = summary
    return out
