"""The pieces of guardrails that need no detector: the configuration's rules, text edits and
placeholders, and the stream window (what is held back, what is released, edited, split)."""

from __future__ import annotations

import asyncio
import re

import pytest

from unigate.errors import GuardrailBlocked
from unigate.guardrails.edits import Edit, Placeholders, apply_edits, edited_slice, non_overlapping
from unigate.guardrails.spec import GuardrailSpecError, parse_guardrails
from unigate.guardrails.stream_window import StreamWindow
from unigate.ir import Finish, Start, StreamEvent, TextDelta, ToolCallDelta, UsageEvent
from unigate.ir.usage import Usage

# --- spec ----------------------------------------------------------------------------------------

def test_spec_defaults_and_round_trip() -> None:
    [spec] = parse_guardrails([{"name": "k", "type": "keywords", "phase": "output", "words": ["x"]}])
    assert (spec.action, spec.mode) == ("block", "enforce")
    assert parse_guardrails([spec.to_spec()]) == [spec]


@pytest.mark.parametrize(("entry", "where", "says"), [
    ({"name": "a", "type": "regex", "phase": "input"}, "guardrails[0] (a)", "type: expected one of"),
    ({"name": "a", "type": "pii", "phase": "middle"}, "guardrails[0] (a)", "phase: expected one of"),
    ({"name": "a", "type": "pii", "phase": "input", "colour": 1}, "guardrails[0] (a)", "unknown field 'colour'"),
    ({"name": "a", "type": "pii", "phase": "output", "action": "sanitize", "restore": True},
     "guardrails[0] (a)", "restore:"),
    ({"name": "a", "type": "keywords", "phase": "input"}, "guardrails[0] (a)", "at least one word"),
    ({"name": "a", "type": "topics", "phase": "input", "action": "sanitize", "denied": {"x": ["y"]}},
     "guardrails[0] (a)", "can only block"),
    ({"name": "a", "type": "judge", "phase": "input", "template": "unsafe"}, "guardrails[0] (a)", "endpoint:"),
    ({"name": "a", "type": "judge", "phase": "input", "endpoint": "j", "template": "hallucination"},
     "guardrails[0] (a)", "phase output"),
    ({"name": "a", "type": "judge", "phase": "input", "endpoint": "j", "template": "custom"},
     "guardrails[0] (a)", "prompt:"),
    ({"name": "a", "type": "judge", "phase": "input", "endpoint": "j", "template": "unsafe", "threshold": 2},
     "guardrails[0] (a)", "threshold:"),
    ({"name": "a b", "type": "pii", "phase": "input"}, "guardrails[0]", "name:"),
])
def test_spec_errors_name_the_field(entry: dict, where: str, says: str) -> None:
    with pytest.raises(GuardrailSpecError) as e:
        parse_guardrails([entry])
    assert e.value.where == where and says in e.value.message


def test_spec_names_are_unique() -> None:
    rail = {"name": "a", "type": "keywords", "phase": "input", "words": ["x"]}
    with pytest.raises(GuardrailSpecError, match="used twice"):
        parse_guardrails([rail, rail])


# --- edits and placeholders ----------------------------------------------------------------------

def test_placeholders_are_stable_per_value_and_numbered_per_kind() -> None:
    p = Placeholders()
    assert [p.mask("EMAIL", "a@x.io"), p.mask("PHONE", "1"), p.mask("EMAIL", "b@x.io"), p.mask("EMAIL", "a@x.io")] \
        == ["<EMAIL_1>", "<PHONE_1>", "<EMAIL_2>", "<EMAIL_1>"]
    assert p.restore("to <EMAIL_2>, cc <EMAIL_1>, not <EMAIL_9> or <email_1>") == \
        "to b@x.io, cc a@x.io, not <EMAIL_9> or <email_1>"


def test_edits() -> None:
    text = "abcdefghij"
    edits = non_overlapping([(6, 8, "Y"), (1, 3, "X"), (2, 4, "lost")])
    assert edits == [(1, 3, "X"), (6, 8, "Y")]
    assert apply_edits(text, edits) == "aXdefYij"
    # the slices of a text, edited one by one, join to the edited text
    assert "".join(edited_slice(text, a, b, edits) for a, b in ((0, 2), (2, 7), (7, 10))) == "aXdefYij"


# --- stream window -------------------------------------------------------------------------------

def masking(pattern: str, blocked_by: str | None = None):
    calls: list[tuple[str, bool]] = []

    async def check(text: str, final: bool) -> list[Edit]:
        calls.append((text, final))
        if blocked_by and blocked_by in text:
            raise GuardrailBlocked("kw", "output", f"matched {blocked_by!r}")
        return [(m.start(), m.end(), "<X>") for m in re.finditer(pattern, text)]
    return check, calls


def run(window: StreamWindow, pieces: list[list[StreamEvent]]) -> list[list[StreamEvent]]:
    async def go() -> list[list[StreamEvent]]:
        out = [await window.feed(p, False) for p in pieces]
        out.append(await window.feed([], True))
        return out
    return asyncio.run(go())


def text_of(batches: list[list[StreamEvent]]) -> str:
    return "".join(e.text for b in batches for e in b if isinstance(e, TextDelta))


def words(text: str) -> list[list[StreamEvent]]:
    return [[TextDelta(0, w)] for w in re.findall(r"\S+\s*", text)]


def test_a_value_split_across_deltas_is_masked_whole() -> None:
    check, _ = masking(r"secret-\d+")
    text = "one two three secret-" + "" + "12345 four five six seven eight nine ten"
    pieces = [[Start("id", "m")]] + [[TextDelta(0, text[i:i + 3])] for i in range(0, len(text), 3)]
    out = run(StreamWindow(check, window=8, margin=12), pieces + [[Finish("stop")]])
    assert text_of(out) == text.replace("secret-12345", "<X>")
    assert isinstance(out[-1][-1], Finish)


def test_nothing_goes_out_before_the_first_check_and_start_waits_with_it() -> None:
    check, calls = masking(r"zzz")
    w = StreamWindow(check, window=10, margin=5)
    out = run(w, [[Start("id", "m")], [TextDelta(0, "short ")], [TextDelta(0, "text")]])
    assert out[0] == [] and out[1] == [] and out[2] == []
    assert isinstance(out[3][0], Start) and text_of(out) == "short text"
    assert calls == [("short text", True)]


def test_released_in_windows_keeping_the_margin_back() -> None:
    check, calls = masking(r"zzz")
    w = StreamWindow(check, window=10, margin=5)
    out = run(w, [[Start("id", "m")]] + words("a" * 4 + " " + "b" * 10 + " " + "c" * 10 + " end"))
    assert text_of(out) == "aaaa bbbbbbbbbb cccccccccc end"
    assert len(calls) >= 3  # at least two windows before the final check
    # each check but the last left its final 5 characters for the next
    for text, final in calls[:-1]:
        assert not final and len(text) >= 15
    assert calls[-1][1] is True


def test_the_release_point_never_cuts_an_edit() -> None:
    check, _ = masking(r"secret-\d+")
    w = StreamWindow(check, window=4, margin=2)
    out = run(w, [[Start("id", "m")], [TextDelta(0, "xx secret-123456789")], [TextDelta(0, "0 tail")]])
    assert text_of(out) == "xx <X> tail"


def test_events_without_text_pass_once_no_text_is_held_before_them() -> None:
    check, _ = masking(r"zzz")
    w = StreamWindow(check, window=100, margin=10)
    call = ToolCallDelta(1, id="c1", name="f", arguments="{}")
    out = run(w, [[Start("id", "m")], [call], [TextDelta(2, "hi")], [UsageEvent(Usage(1, 2))]])
    assert out[0] == [] and out[1][0].__class__ is Start and out[1][1] is call
    assert text_of(out) == "hi" and isinstance(out[-1][-1], UsageEvent)


def test_text_of_different_parts_is_not_joined() -> None:
    check, calls = masking(r"ab")
    w = StreamWindow(check, window=100, margin=10)
    out = run(w, [[TextDelta(0, "xa")], [TextDelta(1, "bx")]])
    assert calls == [("xa\nbx", True)] and text_of(out) == "xabx"


def test_a_block_raises_and_keeps_the_start_for_the_ending() -> None:
    check, _ = masking(r"zzz", blocked_by="bad")
    w = StreamWindow(check, window=4, margin=2)

    async def go() -> None:
        await w.feed([Start("id", "m"), TextDelta(0, "this is bad")], False)
    with pytest.raises(GuardrailBlocked):
        asyncio.run(go())
    assert w.held_start() is not None and not w.started


def test_whole_holds_everything_to_the_end() -> None:
    check, calls = masking(r"zzz")
    w = StreamWindow(check, window=2, margin=1, whole=True)
    out = run(w, [[Start("id", "m")]] + words("many words in this answer"))
    assert all(b == [] for b in out[:-1]) and text_of(out) == "many words in this answer"
    assert len(calls) == 1
