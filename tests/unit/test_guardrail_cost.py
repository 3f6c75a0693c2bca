"""What the built-in guardrails cost per request, measured on the pieces the request path runs
(printed, never asserted: targets belong in benchmarks), plus the engine's behaviour on a
request and an answer without a running gateway."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from unigate.accounting.usage import UsageRecord
from unigate.errors import GuardrailBlocked
from unigate.guardrails.rails import EndpointGuardrails
from unigate.guardrails.spec import parse_guardrails
from unigate.ir import IRRequest, IRResponse, Message, Start, TextDelta, TextPart
from unigate.server.context import RequestContext
from unigate.server.guardrails import RequestGuard

PROMPT = ("Please summarise the quarterly report for the board. Revenue grew 12% to $4.2M in Q3 2026, "
          "driven by the new enterprise tier (v2.3.1 shipped on 2026-08-14). Churn fell to 1.8%. ") * 8
RAILS = [
    {"name": "pii", "type": "pii", "phase": "input", "action": "sanitize", "restore": True},
    {"name": "kw", "type": "keywords", "phase": "input", "words": [f"codename{i}" for i in range(50)]},
    {"name": "out-pii", "type": "pii", "phase": "output", "action": "sanitize"},
]


def guard(specs: list[dict[str, Any]]) -> RequestGuard:
    ctx = SimpleNamespace(record=UsageRecord("r1", 0.0, "chat", "/x"), request_id="r1")
    return RequestGuard(cast(RequestContext, ctx), EndpointGuardrails(parse_guardrails(specs)))


def chat(text: str) -> IRRequest:
    return IRRequest("m", [Message("system", [TextPart("You are terse.")]), Message("user", [TextPart(text)])])


def test_masks_and_restores_through_one_request() -> None:
    g = guard(RAILS)
    ir = chat("write to jane.doe@example.com and jane.doe@example.com, or +44 20 7946 0958")
    assert asyncio.run(g.check_input(ir)) is True
    assert ir.messages[1].parts[0].text == "write to <EMAIL_1> and <EMAIL_1>, or <PHONE_1>"  # type: ignore[union-attr]
    answer = IRResponse("a", "m", [TextPart("Mailed <EMAIL_1>; my own is bob@corp.example.org")])
    asyncio.run(g.check_output(answer))
    # the model's own address is masked, the user's given back
    assert answer.parts[0].text == "Mailed jane.doe@example.com; my own is <EMAIL_2>"  # type: ignore[union-attr]
    outcomes = {v["name"]: v["outcome"] for v in g.ctx.record.guardrails or []}
    assert outcomes == {"pii": "sanitized", "kw": "passed", "out-pii": "sanitized"}


def test_a_block_names_the_guardrail_and_keeps_the_value_out() -> None:
    g = guard([{"name": "no-cards", "type": "pii", "phase": "input", "entities": ["credit_card"]}])
    with pytest.raises(GuardrailBlocked) as e:
        asyncio.run(g.check_input(chat("card 4111 1111 1111 1111")))
    assert e.value.policy == {"name": "no-cards", "action": "block", "phase": "input", "reason": "found CREDIT_CARD"}
    assert "4111" not in e.value.message


def test_log_mode_changes_nothing() -> None:
    g = guard([{"name": "p", "type": "pii", "phase": "input", "action": "sanitize", "mode": "log"}])
    ir = chat("mail jane.doe@example.com")
    assert asyncio.run(g.check_input(ir)) is False
    assert ir.messages[1].parts[0].text == "mail jane.doe@example.com"  # type: ignore[union-attr]
    assert (g.ctx.record.guardrails or [{}])[0]["outcome"] == "flagged"


def test_cost_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    n = 300
    g = guard(RAILS)

    async def inputs() -> float:
        t = time.perf_counter()
        for _ in range(n):
            await g.check_input(chat(PROMPT))
        return (time.perf_counter() - t) / n

    async def stream() -> float:
        answer = PROMPT[:1000]
        deltas = [answer[i:i + 5] for i in range(0, len(answer), 5)]
        t = time.perf_counter()
        for _ in range(n // 10):
            w = g.stream_window()
            await w.feed([Start("s", "m")], False)
            for d in deltas:
                await w.feed([TextDelta(0, d)], False)
            await w.feed([], True)
        return (time.perf_counter() - t) / (n // 10)

    per_input = asyncio.run(inputs())
    per_stream = asyncio.run(stream())
    with capsys.disabled():
        print(f"\nguardrails: input pii (sanitize) + 50 keywords on a {len(PROMPT)}-char prompt "
              f"{per_input * 1e6:.0f} us/request; output pii on a 1,000-char answer streamed in 5-char "
              f"deltas (window 128) {per_stream * 1e6:.0f} us/stream")
