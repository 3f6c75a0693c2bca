"""Context editing done by the gateway: Anthropic's `context_management`, applied to the IR
for a provider that has no such feature.

Two edits exist (the request's `context_management.edits`, applied in order):

* `clear_tool_uses_20250919`: once the input passes `trigger` (default 100,000 input tokens;
  or a number of tool uses), the results of the oldest tool calls are replaced by a short
  placeholder, keeping the `keep` most recent (default 3) and any tool in `exclude_tools`;
  `clear_tool_inputs` (true, or a list of tool names) also empties those calls' arguments;
  with `clear_at_least`, nothing is cleared unless that many input tokens would be freed.
* `clear_thinking_20251015`: thinking from all but the last `keep` assistant turns that
  thought (default 1; "all" keeps everything) is removed.

Token counts are the gateway's estimate (`ir.estimate`), not the provider's tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unigate.errors import InvalidRequest
from unigate.ir.estimate import CHARS_PER_TOKEN, estimate_input_tokens
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest

CLEAR_TOOL_USES = "clear_tool_uses_20250919"
CLEAR_THINKING = "clear_thinking_20251015"
PLACEHOLDER = "[tool result cleared to save context]"
DEFAULT_TRIGGER_TOKENS = 100_000
DEFAULT_KEEP_TOOL_USES = 3
DEFAULT_KEEP_THINKING_TURNS = 1


@dataclass(slots=True)
class ClearToolUses:
    trigger_type: str = "input_tokens"  # or "tool_uses"
    trigger_value: int = DEFAULT_TRIGGER_TOKENS
    keep: int = DEFAULT_KEEP_TOOL_USES
    clear_at_least: int = 0
    exclude_tools: frozenset[str] = frozenset()
    clear_inputs: bool | frozenset[str] = False


@dataclass(slots=True)
class ClearThinking:
    keep: int | None = DEFAULT_KEEP_THINKING_TURNS  # None: keep all


@dataclass(slots=True)
class AppliedEdit:
    type: str
    cleared: int = 0  # tool uses or thinking turns
    cleared_input_tokens: int = 0


@dataclass(slots=True)
class ContextEdits:
    edits: list[ClearToolUses | ClearThinking] = field(default_factory=list)


# ---- reading the request ----------------------------------------------------------------------


def _fail(path: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {why}", param=path)


def _amount(raw: Any, path: str, kinds: tuple[str, ...]) -> tuple[str, int]:
    if not isinstance(raw, dict):
        raise _fail(path, "expected an object with 'type' and 'value'")
    kind, value = raw.get("type"), raw.get("value")
    if kind not in kinds:
        raise _fail(f"{path}.type", f"must be one of {', '.join(kinds)}")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(f"{path}.value", "must be a non-negative integer")
    return kind, value


def _names(raw: Any, path: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _fail(path, "expected an array of tool names")
    return frozenset(raw)


def parse_context_management(raw: Any, path: str = "context_management") -> ContextEdits:
    """Validates the request's `context_management`; raises InvalidRequest naming the field."""
    if not isinstance(raw, dict):
        raise _fail(path, "expected an object")
    edits = raw.get("edits", [])
    if not isinstance(edits, list):
        raise _fail(f"{path}.edits", "expected an array")
    out = ContextEdits()
    for i, e in enumerate(edits):
        where = f"{path}.edits[{i}]"
        if not isinstance(e, dict):
            raise _fail(where, "expected an object")
        kind = e.get("type")
        if kind == CLEAR_TOOL_USES:
            out.edits.append(_clear_tool_uses(e, where))
        elif kind == CLEAR_THINKING:
            out.edits.append(_clear_thinking(e, where))
        else:
            raise _fail(f"{where}.type", f"unknown edit type {kind!r} (expected {CLEAR_TOOL_USES} "
                                         f"or {CLEAR_THINKING})")
    return out


def _clear_tool_uses(e: dict[str, Any], where: str) -> ClearToolUses:
    edit = ClearToolUses()
    if e.get("trigger") is not None:
        edit.trigger_type, edit.trigger_value = _amount(e["trigger"], f"{where}.trigger",
                                                        ("input_tokens", "tool_uses"))
    if e.get("keep") is not None:
        edit.keep = _amount(e["keep"], f"{where}.keep", ("tool_uses",))[1]
    if e.get("clear_at_least") is not None:
        edit.clear_at_least = _amount(e["clear_at_least"], f"{where}.clear_at_least",
                                      ("input_tokens",))[1]
    if e.get("exclude_tools") is not None:
        edit.exclude_tools = _names(e["exclude_tools"], f"{where}.exclude_tools")
    inputs = e.get("clear_tool_inputs")
    if isinstance(inputs, bool):
        edit.clear_inputs = inputs
    elif inputs is not None:
        edit.clear_inputs = _names(inputs, f"{where}.clear_tool_inputs")
    return edit


def _clear_thinking(e: dict[str, Any], where: str) -> ClearThinking:
    keep = e.get("keep")
    if keep is None:
        return ClearThinking()
    if keep == "all":
        return ClearThinking(None)
    return ClearThinking(_amount(keep, f"{where}.keep", ("thinking_turns",))[1])


# ---- applying it ------------------------------------------------------------------------------


def apply_context_edits(ir: IRRequest, edits: ContextEdits) -> list[AppliedEdit]:
    """Edits `ir` in place, as the provider would have before reading it; returns what each
    edit that took effect cleared."""
    applied = []
    for edit in edits.edits:
        done = _apply_clear_tool_uses(ir, edit) if isinstance(edit, ClearToolUses) \
            else _apply_clear_thinking(ir, edit)
        if done is not None:
            applied.append(done)
    return applied


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def _result_chars(result: ToolResultPart) -> int:
    return sum(len(p.text) for p in result.content if isinstance(p, TextPart))


def _apply_clear_tool_uses(ir: IRRequest, edit: ClearToolUses) -> AppliedEdit | None:
    calls = [p for m in ir.messages if m.role == "assistant"
             for p in m.parts if isinstance(p, ToolCallPart)]
    if edit.trigger_type == "tool_uses":
        if len(calls) <= edit.trigger_value:
            return None
    elif estimate_input_tokens(ir) <= edit.trigger_value:
        return None
    results = {p.tool_call_id: p for m in ir.messages for p in m.parts
               if isinstance(p, ToolResultPart)}
    oldest = calls[:len(calls) - edit.keep] if edit.keep else calls
    targets = [c for c in oldest if c.name not in edit.exclude_tools and not _cleared(results.get(c.id))]
    freed = 0
    plan: list[tuple[ToolCallPart, ToolResultPart | None, bool]] = []
    for call in targets:
        result = results.get(call.id)
        clear_input = edit.clear_inputs is True or (
            isinstance(edit.clear_inputs, frozenset) and call.name in edit.clear_inputs)
        if result is not None:
            freed += _tokens(_result_chars(result)) - _tokens(len(PLACEHOLDER))
        if clear_input:
            freed += _tokens(len(call.arguments)) - 1
        plan.append((call, result, clear_input))
    if not plan or (edit.clear_at_least and freed < edit.clear_at_least):
        return None
    for call, result, clear_input in plan:
        if result is not None:
            result.content = [TextPart(PLACEHOLDER)]
        if clear_input:
            call.arguments = "{}"
    return AppliedEdit(CLEAR_TOOL_USES, len(plan), max(freed, 0))


def _cleared(result: ToolResultPart | None) -> bool:
    return result is not None and len(result.content) == 1 and isinstance(result.content[0], TextPart) \
        and result.content[0].text == PLACEHOLDER


def _apply_clear_thinking(ir: IRRequest, edit: ClearThinking) -> AppliedEdit | None:
    if edit.keep is None:
        return None
    thinking_turns = [m for m in ir.messages if m.role == "assistant"
                      and any(isinstance(p, ReasoningPart) for p in m.parts)]
    older = thinking_turns[:len(thinking_turns) - edit.keep] if edit.keep else thinking_turns
    if not older:
        return None
    chars = 0
    for m in older:
        chars += sum(len(p.text) for p in m.parts if isinstance(p, ReasoningPart))
        m.parts = [p for p in m.parts if not isinstance(p, ReasoningPart)]
    return AppliedEdit(CLEAR_THINKING, len(older), _tokens(chars))


def emulate_context_management(ir: IRRequest, value: Any) -> None:
    """The `Emulator` for Anthropic's `context_management` (its value as the client sent it,
    already validated by the decoder)."""
    apply_context_edits(ir, parse_context_management(value))
