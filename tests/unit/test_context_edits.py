"""Context editing done by the gateway (Anthropic `context_management` toward other providers)."""

from __future__ import annotations

import pytest

from unigate.errors import InvalidRequest
from unigate.ir.context_edits import PLACEHOLDER, apply_context_edits, parse_context_management
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest, Message


def _history(n: int, result_chars: int = 40, name: str = "Read") -> IRRequest:
    ir = IRRequest(model="m", messages=[Message("user", [TextPart("go")])])
    for i in range(n):
        ir.messages.append(Message("assistant", [ReasoningPart(f"thought {i}", signature="s"),
                                                 ToolCallPart(f"c{i}", name, '{"path": "/x"}')]))
        ir.messages.append(Message("tool", [ToolResultPart(f"c{i}", [TextPart("x" * result_chars)])]))
    return ir


def _results(ir: IRRequest) -> list[str]:
    return [p.content[0].text for m in ir.messages for p in m.parts if isinstance(p, ToolResultPart)]


def test_input_token_trigger_keeps_the_most_recent() -> None:
    ir = _history(5, result_chars=4000)  # about 5,000 tokens
    edits = parse_context_management({"edits": [{"type": "clear_tool_uses_20250919",
                                                 "trigger": {"type": "input_tokens", "value": 3000},
                                                 "keep": {"type": "tool_uses", "value": 2}}]})
    applied = apply_context_edits(ir, edits)
    assert [r == PLACEHOLDER for r in _results(ir)] == [True, True, True, False, False]
    assert applied[0].cleared == 3 and applied[0].cleared_input_tokens > 2900
    calls = [p for m in ir.messages for p in m.parts if isinstance(p, ToolCallPart)]
    assert all(c.arguments == '{"path": "/x"}' for c in calls)  # inputs kept unless asked


def test_below_the_trigger_nothing_changes() -> None:
    ir = _history(5)
    edits = parse_context_management({"edits": [{"type": "clear_tool_uses_20250919"}]})  # 100k default
    assert apply_context_edits(ir, edits) == []
    assert PLACEHOLDER not in _results(ir)


def test_excluded_tools_and_clear_at_least() -> None:
    ir = _history(4, result_chars=400, name="Bash")
    spec = {"type": "clear_tool_uses_20250919", "trigger": {"type": "tool_uses", "value": 1},
            "keep": {"type": "tool_uses", "value": 0}, "exclude_tools": ["Bash"]}
    assert apply_context_edits(ir, parse_context_management({"edits": [spec]})) == []
    spec = {**spec, "exclude_tools": [], "clear_at_least": {"type": "input_tokens", "value": 10_000}}
    assert apply_context_edits(ir, parse_context_management({"edits": [spec]})) == []  # frees too little
    spec["clear_at_least"]["value"] = 300
    assert apply_context_edits(ir, parse_context_management({"edits": [spec]}))[0].cleared == 4


def test_clear_thinking_keeps_the_last_turns() -> None:
    ir = _history(4)
    edits = parse_context_management({"edits": [{"type": "clear_thinking_20251015",
                                                 "keep": {"type": "thinking_turns", "value": 1}}]})
    assert apply_context_edits(ir, edits)[0].cleared == 3
    thinking = [any(isinstance(p, ReasoningPart) for p in m.parts) for m in ir.messages if m.role == "assistant"]
    assert thinking == [False, False, False, True]
    ir = _history(2)
    keep_all = parse_context_management({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]})
    assert apply_context_edits(ir, keep_all) == []


@pytest.mark.parametrize("bad, where", [
    ({"edits": "x"}, "context_management.edits"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "turns", "value": 1}}]},
     "context_management.edits[0].trigger.type"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "keep": {"type": "tool_uses", "value": -1}}]},
     "context_management.edits[0].keep.value"),
    ({"edits": [{"type": "clear_tool_uses_20250919", "exclude_tools": "Read"}]},
     "context_management.edits[0].exclude_tools"),
])
def test_malformed_edits_name_the_field(bad: object, where: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_context_management(bad)
    assert info.value.param == where
