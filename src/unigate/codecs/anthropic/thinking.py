"""Extended thinking: Anthropic `thinking` / `output_config.effort` ↔ IR `ReasoningConfig`.

Anthropic takes either a token budget (`{"type": "enabled", "budget_tokens": n}`, older
and current models) or adaptive thinking with an effort level (`{"type": "adaptive"}` plus
`output_config.effort`, newer models). Which one a model accepts is the provider's call,
so the encoder takes `adaptive` as an argument and defaults to the budget form that every
thinking-capable model accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.codecs.anthropic.fields import JSON
from unigate.codecs.fields import integer, obj, string
from unigate.errors import InvalidRequest
from unigate.ir.request import ReasoningConfig

# OpenAI-style effort → budget_tokens. Anthropic's minimum budget is 1024; the top is kept
# below 32k so that budget + default answer room fits every thinking model's output limit.
EFFORT_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}
MIN_BUDGET = 1024
# Anthropic's own effort scale (output_config.effort); OpenAI's "minimal" has no match.
ANTHROPIC_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})

_DISPLAY_TO_INCLUDE = {"summarized": True, "omitted": False}


def anthropic_to_ir_reasoning(thinking: Any, effort: str | None) -> ReasoningConfig | None:
    """`thinking` and `output_config.effort` of a client body → ReasoningConfig."""
    if thinking is None:
        return ReasoningConfig(effort=effort) if effort else None
    t = obj(thinking, "thinking")
    kind = string(t.get("type"), "thinking.type")
    display = t.get("display")
    include = _DISPLAY_TO_INCLUDE.get(display) if isinstance(display, str) else None
    if kind == "enabled":
        budget = integer(t.get("budget_tokens"), "thinking.budget_tokens")
        # Every model that takes a budget shows (summarized) thinking unless told otherwise,
        # and the client expects that from any provider. (Adaptive thinking's default
        # depends on the model: left unsaid.)
        return ReasoningConfig(enabled=True, budget_tokens=budget, effort=effort,
                               include_thoughts=True if include is None else include)
    if kind == "adaptive":
        return ReasoningConfig(enabled=True, effort=effort, include_thoughts=include)
    if kind == "disabled":
        return ReasoningConfig(enabled=False, effort=effort)
    raise InvalidRequest(f"thinking.type: unknown thinking type '{kind}'", param="thinking.type")


@dataclass(slots=True)
class ThinkingPlan:
    thinking: JSON | None = None
    effort: str | None = None  # output_config.effort
    max_tokens: int = 0


def plan_thinking(reasoning: ReasoningConfig | None, max_tokens: int | None,
                  default_max_tokens: int, *, adaptive: bool, check_budget: bool = True,
                  ) -> ThinkingPlan:
    """The `thinking` field, `output_config.effort` and `max_tokens` for an upstream body.

    Thinking tokens count toward max_tokens and the budget must stay below it. A budget the
    client gave together with a too-small max_tokens is refused; otherwise the two are
    chosen to fit: no max_tokens → budget + default room for the answer; an effort-derived
    budget takes at most half of the client's max_tokens."""
    plan = ThinkingPlan(max_tokens=max_tokens or default_max_tokens)
    r = reasoning
    if r is None:
        return plan
    effort = r.effort
    if r.enabled is False or (effort == "none" and r.budget_tokens is None):
        plan.thinking = {"type": "disabled"}
        return plan
    if adaptive and r.budget_tokens is None:
        if r.enabled:
            plan.thinking = {"type": "adaptive"}
        if effort:
            plan.effort = effort if effort in ANTHROPIC_EFFORTS else "low"  # minimal → low
        _display(plan.thinking, r)
        return plan
    if r.budget_tokens is not None:
        budget = r.budget_tokens
        if max_tokens is None:
            plan.max_tokens = budget + default_max_tokens
        elif check_budget and budget >= max_tokens:
            raise InvalidRequest(
                f"max_tokens ({max_tokens}) must be greater than the thinking budget "
                f"({budget}) on Anthropic", param="max_tokens")
    elif r.enabled or effort:
        budget = EFFORT_BUDGETS.get(effort or "medium", EFFORT_BUDGETS["medium"])
        if max_tokens is None:
            plan.max_tokens = budget + default_max_tokens
        elif check_budget:
            budget = max(MIN_BUDGET, min(budget, max_tokens // 2))
            if budget >= max_tokens and effort is None:
                return plan  # "the model decides" (Gemini's dynamic budget): it does not think
            if budget >= max_tokens:
                raise InvalidRequest(
                    f"max_tokens ({max_tokens}) leaves no room for thinking on Anthropic "
                    f"(the minimum budget is {MIN_BUDGET})", param="max_tokens")
    else:
        return plan  # only display/summary preferences: nothing to ask for
    plan.thinking = {"type": "enabled", "budget_tokens": budget}
    _display(plan.thinking, r)
    return plan


def _display(thinking: JSON | None, r: ReasoningConfig) -> None:
    if thinking is not None and r.include_thoughts is not None:
        thinking["display"] = "summarized" if r.include_thoughts else "omitted"


def thinking_fits_history(messages: list[JSON]) -> bool:
    """Whether Anthropic takes thinking on for these (encoded) messages.

    With thinking on, Anthropic wants the assistant turn whose tool calls the final user turn
    answers to start with a thinking block, signed by Anthropic. A turn that another provider
    produced, or that came through a client format with no place for the signature (OpenAI
    chat, a Responses client that did not keep encrypted content), has none, and no block can
    be made up for it. Anthropic's documented way out is to leave thinking off for the
    request, as the gateway then does: the client still gets its answer, without thoughts."""
    if len(messages) < 2:
        return True
    answer, turn = messages[-1], messages[-2]
    if answer["role"] != "user" or turn["role"] != "assistant":
        return True
    results = answer["content"]
    if isinstance(results, str) or not any(b.get("type") == "tool_result" for b in results):
        return True
    blocks = turn["content"]
    first = "text" if isinstance(blocks, str) else blocks[0].get("type")
    return first in ("thinking", "redacted_thinking")

