"""Every client dialect × every provider type × stream/unary × text/tool call, through a
running gateway, with the official SDKs."""

from __future__ import annotations

import pytest

from tests.integration.clients import DRIVERS
from tests.integration.gateway import Gateway

PROVIDERS = ["openai", "compat", "azure", "anthropic", "gemini"]


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("driver_cls", DRIVERS, ids=[d.name for d in DRIVERS])
def test_text(gateway: Gateway, driver_cls: type, provider: str, stream: bool) -> None:
    driver = driver_cls(gateway.base, gateway.token)
    endpoint = f"chat-{provider}"
    ans = driver.ask(endpoint, "Say hello to the gateway", stream, tool=False)
    assert "MOCK-UPSTREAM-OK" in ans.text and "hello to the gateway" in ans.text, ans
    assert not ans.tool_calls
    assert ans.model == endpoint
    assert ans.input_tokens and ans.input_tokens > 0 and ans.output_tokens, ans


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("driver_cls", DRIVERS, ids=[d.name for d in DRIVERS])
def test_tool_call_round_trip(gateway: Gateway, driver_cls: type, provider: str, stream: bool) -> None:
    driver = driver_cls(gateway.base, gateway.token)
    endpoint = f"chat-{provider}"
    first = driver.ask(endpoint, "What is the weather in Paris?", stream, tool=True)
    assert [c.name for c in first.tool_calls] == ["get_weather"], first
    assert first.tool_calls[0].arguments == {"location": "Paris"}
    # The tool's result goes back through the gateway; the mock checks the history is valid
    # for its provider (tool results answer the calls that asked for them).
    second = driver.follow_up(endpoint, first, "sunny, 21 degrees", stream)
    assert "tool said" in second.text and "sunny, 21 degrees" in second.text, second
    assert not second.tool_calls
