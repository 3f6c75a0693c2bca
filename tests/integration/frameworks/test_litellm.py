"""The LiteLLM SDK used as a client of unigate: its `openai/` provider on unigate's OpenAI surface
and its `anthropic/` provider on unigate's Anthropic surface, against every provider type.

Plain prompts with `completion` and `acompletion`, unary and streamed, a tool round trip (the tool
call reaches LiteLLM; its result reaches the provider), a pydantic `response_format`, and
`embedding` through the openai/ provider."""

from __future__ import annotations

import json
from typing import Any

import litellm
import pytest
from pydantic import BaseModel

from tests.integration.frameworks.records import landed_on, nonce, provider_requests, tool_results
from tests.integration.gateway import Gateway
from tests.mocks.replies import REPLY_PREFIX, embedding

# LiteLLM provider -> endpoints: its own format first, then translated ones
ENDPOINTS = {
    "openai": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "anthropic": ["chat-anthropic", "chat-openai", "chat-gemini"],
}
CASES = [(provider, ep) for provider, eps in ENDPOINTS.items() for ep in eps]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


class City(BaseModel):
    name: str
    population: int


def client_args(provider: str, gw: Gateway, endpoint: str) -> dict[str, Any]:
    surface = "/openai/v1" if provider == "openai" else "/anthropic"
    return {"model": f"{provider}/{endpoint}", "api_base": gw.base + surface, "api_key": gw.token,
            "max_tokens": 256, "timeout": 30, "num_retries": 0}


def _message(chunks: list[Any]) -> Any:
    """The whole message of a stream, rebuilt the way LiteLLM documents."""
    assert chunks, "the stream yielded nothing"
    return litellm.stream_chunk_builder(chunks).choices[0].message


async def _complete(args: dict[str, Any], messages: list[dict[str, Any]], call: str, **extra: Any) -> Any:
    if call == "completion":
        return litellm.completion(messages=messages, **args, **extra).choices[0].message
    if call == "completion-stream":
        return _message(list(litellm.completion(messages=messages, stream=True, **args, **extra)))
    if call == "acompletion":
        return (await litellm.acompletion(messages=messages, **args, **extra)).choices[0].message
    stream = await litellm.acompletion(messages=messages, stream=True, **args, **extra)
    return _message([chunk async for chunk in stream])


@pytest.mark.parametrize("call", ["completion", "completion-stream", "acompletion", "acompletion-stream"])
@pytest.mark.parametrize("provider,endpoint", CASES)
async def test_plain_prompt(gateway: Gateway, mock_url: str, provider: str, endpoint: str, call: str) -> None:
    n = nonce()
    message = await _complete(client_args(provider, gateway, endpoint), [{"role": "user", "content": f"Hi {n}"}],
                              call)
    assert message.content == f"{REPLY_PREFIX}Hi {n}"
    assert landed_on(provider_requests(mock_url, n), endpoint)


@pytest.mark.parametrize("call", ["completion", "acompletion-stream"])
@pytest.mark.parametrize("provider,endpoint", CASES)
async def test_tool_round_trip(gateway: Gateway, mock_url: str, provider: str, endpoint: str, call: str) -> None:
    n = nonce()
    args = client_args(provider, gateway, endpoint)
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"What is the weather in Paris? {n}"}]
    first = await _complete(args, messages, call, tools=[WEATHER_TOOL])
    calls = first.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"location": "Paris"})]
    result = f"Sunny in Paris, run {n}"
    messages += [first.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": calls[0].id, "content": result}]
    final = await _complete(args, messages, call, tools=[WEATHER_TOOL])
    assert final.content == f"{REPLY_PREFIX}tool said {result}"
    records = provider_requests(mock_url, n)
    assert len(records) == 2 and landed_on(records, endpoint)
    assert result in tool_results(records[-1]["body"]).values()


@pytest.mark.parametrize("call", ["completion", "acompletion-stream"])
@pytest.mark.parametrize("provider,endpoint", CASES)
async def test_response_format_pydantic(gateway: Gateway, mock_url: str, provider: str, endpoint: str,
                                        call: str) -> None:
    n = nonce()
    message = await _complete(client_args(provider, gateway, endpoint),
                              [{"role": "user", "content": f"Describe Paris {n}"}], call, response_format=City)
    assert City.model_validate_json(message.content) == City(name="Paris", population=1)
    assert landed_on(provider_requests(mock_url, n), endpoint)


@pytest.mark.parametrize("endpoint", ["emb-openai", "emb-compat", "emb-google"])
def test_embedding(gateway: Gateway, endpoint: str) -> None:
    texts = [f"first {nonce()}", f"second {nonce()}"]
    r = litellm.embedding(model=f"openai/{endpoint}", input=texts, api_base=f"{gateway.base}/openai/v1",
                          api_key=gateway.token, timeout=30, encoding_format="float")
    vectors = [item["embedding"] for item in r.data]
    assert len(vectors) == 2
    for text, vector in zip(texts, vectors, strict=True):  # the mock's vector for exactly this text
        assert vector == pytest.approx(embedding(text, len(vector)), rel=1e-5)
