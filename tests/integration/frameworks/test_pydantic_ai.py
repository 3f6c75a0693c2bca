"""pydantic-ai agents through unigate: OpenAI (chat and Responses) and Anthropic models with a tool.

Each model class points at its own unigate surface (/openai/v1, /anthropic) and runs against every
provider type: a tool round trip with `run` and `run_stream`, and structured output both as an
output tool (the default) and as the provider's native JSON schema (`NativeOutput`)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.messages import ToolCallPart, ToolReturnPart
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.profiles.anthropic import anthropic_model_profile
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from tests.integration.frameworks.records import landed_on, nonce, provider_requests, tool_results
from tests.integration.gateway import Gateway
from tests.mocks.replies import REPLY_PREFIX

# model class -> endpoints: its own format first, then translated ones
ENDPOINTS = {
    "openai-chat": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "openai-responses": ["chat-openai", "chat-anthropic", "chat-gemini"],
    "anthropic": ["chat-anthropic", "chat-openai", "chat-gemini"],
}
CASES = [(kind, ep) for kind, eps in ENDPOINTS.items() for ep in eps]


class City(BaseModel):
    name: str
    population: int


def model_for(kind: str, gw: Gateway, endpoint: str) -> Model:
    if kind == "anthropic":
        # the endpoint name says nothing about the model: take the profile of the Claude it stands for
        return AnthropicModel(endpoint, provider=AnthropicProvider(base_url=f"{gw.base}/anthropic", api_key=gw.token),
                              profile=anthropic_model_profile("claude-sonnet-4-5"))
    provider = OpenAIProvider(base_url=f"{gw.base}/openai/v1", api_key=gw.token)
    if kind == "openai-responses":
        return OpenAIResponsesModel(endpoint, provider=provider)
    return OpenAIChatModel(endpoint, provider=provider)


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_stream"])
@pytest.mark.parametrize("kind,endpoint", CASES)
async def test_agent_tool_round_trip(gateway: Gateway, mock_url: str, kind: str, endpoint: str,
                                     stream: bool) -> None:
    n = nonce()
    agent = Agent(model_for(kind, gateway, endpoint), instructions="You are terse.")

    @agent.tool_plain
    def get_weather(location: str) -> str:
        """Weather for a city."""
        return f"Sunny in {location}, run {n}"

    prompt = f"What is the weather in Paris? {n}"
    if stream:
        async with agent.run_stream(prompt) as run:
            deltas = [d async for d in run.stream_text(delta=True)]
            output = await run.get_output()
            messages = run.all_messages()
        assert "".join(deltas) == output
    else:
        result = await agent.run(prompt)
        output, messages = result.output, result.all_messages()
    expected_result = f"Sunny in Paris, run {n}"
    assert output == f"{REPLY_PREFIX}tool said {expected_result}"
    parts = [p for m in messages for p in m.parts]
    calls = [(p.tool_name, p.args_as_dict()) for p in parts if isinstance(p, ToolCallPart)]
    assert calls == [("get_weather", {"location": "Paris"})]
    assert [p.content for p in parts if isinstance(p, ToolReturnPart)] == [expected_result]
    records = provider_requests(mock_url, n)
    assert len(records) == 2 and landed_on(records, endpoint)
    assert expected_result in tool_results(records[-1]["body"]).values()


@pytest.mark.parametrize("mode", ["tool", "native"])
@pytest.mark.parametrize("kind,endpoint", CASES)
async def test_agent_structured_output(gateway: Gateway, mock_url: str, kind: str, endpoint: str,
                                       mode: str) -> None:
    n = nonce()
    output_type = City if mode == "tool" else NativeOutput(City)
    agent = Agent(model_for(kind, gateway, endpoint), output_type=output_type)
    result = await agent.run(f"Describe Paris {n}")
    assert result.output == City(name="Paris", population=1)
    assert landed_on(provider_requests(mock_url, n), endpoint)
