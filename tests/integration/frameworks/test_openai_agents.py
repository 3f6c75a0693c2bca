"""The OpenAI Agents SDK through unigate: an agent with a function tool, on both model classes.

`OpenAIChatCompletionsModel` speaks chat completions and `OpenAIResponsesModel` the Responses API,
both to /openai/v1; each runs with `Runner.run` and `Runner.run_streamed` against every provider
type. The mock calls the tool, the SDK runs it, and the mock's final text quotes its result."""

from __future__ import annotations

import json

import pytest
from agents.items import ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel

from agents import (
    Agent,
    Model,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from tests.integration.frameworks.records import landed_on, nonce, provider_requests, tool_results
from tests.integration.gateway import Gateway
from tests.mocks.replies import REPLY_PREFIX

ENDPOINTS = ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"]  # same format first
MODELS = ["chat_completions", "responses"]
RUN = RunConfig(tracing_disabled=True)  # traces would go to api.openai.com


class City(BaseModel):
    name: str
    population: int


def model_for(kind: str, gw: Gateway, endpoint: str) -> Model:
    client = AsyncOpenAI(base_url=f"{gw.base}/openai/v1", api_key=gw.token, max_retries=0, timeout=30)
    if kind == "responses":
        return OpenAIResponsesModel(model=endpoint, openai_client=client)
    return OpenAIChatCompletionsModel(model=endpoint, openai_client=client)


@pytest.mark.parametrize("stream", [False, True], ids=["run", "streamed"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", MODELS)
async def test_agent_with_function_tool(gateway: Gateway, mock_url: str, kind: str, endpoint: str,
                                        stream: bool) -> None:
    n = nonce()

    @function_tool
    def get_weather(location: str) -> str:
        """Weather for a city."""
        return f"Sunny in {location}, run {n}"

    agent = Agent(name="weather", instructions="You are terse.", tools=[get_weather],
                  model=model_for(kind, gateway, endpoint))
    prompt = f"What is the weather in Paris? {n}"
    if stream:
        result = Runner.run_streamed(agent, prompt, run_config=RUN)
        deltas = [e.data.delta async for e in result.stream_events()
                  if e.type == "raw_response_event" and isinstance(e.data, ResponseTextDeltaEvent)]
        assert "".join(deltas) == result.final_output
    else:
        result = await Runner.run(agent, prompt, run_config=RUN)  # type: ignore[assignment]
    expected_result = f"Sunny in Paris, run {n}"
    assert result.final_output == f"{REPLY_PREFIX}tool said {expected_result}"
    calls = [i.raw_item for i in result.new_items if isinstance(i, ToolCallItem)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"location": "Paris"})]
    assert [i.output for i in result.new_items if isinstance(i, ToolCallOutputItem)] == [expected_result]
    records = provider_requests(mock_url, n)
    assert len(records) == 2 and landed_on(records, endpoint)
    assert expected_result in tool_results(records[-1]["body"]).values()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", MODELS)
async def test_agent_output_type(gateway: Gateway, mock_url: str, kind: str, endpoint: str) -> None:
    n = nonce()
    agent = Agent(name="cities", instructions="Describe the city.", output_type=City,
                  model=model_for(kind, gateway, endpoint), model_settings=ModelSettings(temperature=0))
    result = await Runner.run(agent, f"Paris {n}", run_config=RUN)
    assert result.final_output == City(name="Paris", population=1)
    assert landed_on(provider_requests(mock_url, n), endpoint)
