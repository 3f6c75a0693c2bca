"""LangChain chat models and embeddings through unigate, on same-format and translated endpoints.

ChatOpenAI speaks chat completions (and the Responses API with `use_responses_api=True`) to
/openai/v1; ChatAnthropic speaks Messages to /anthropic. Each runs a plain prompt, a bound tool
round trip and `with_structured_output`, unary and streamed, against every provider type."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel

from tests.integration.frameworks.records import landed_on, nonce, provider_requests, tool_results
from tests.integration.gateway import Gateway
from tests.mocks.replies import REPLY_PREFIX, embedding

# client kind -> the endpoints it is run on: its own format first, then translated ones
ENDPOINTS = {
    "openai-chat": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "openai-responses": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "anthropic": ["chat-anthropic", "chat-openai", "chat-gemini"],
}
CASES = [(kind, ep) for kind, eps in ENDPOINTS.items() for ep in eps]
# with_structured_output methods per client (json_mode is JSON without a schema)
STRUCTURED = {
    "openai-chat": ["json_schema", "function_calling", "json_mode"],
    "openai-responses": ["json_schema", "function_calling"],
    "anthropic": ["function_calling", "json_schema"],
}
STRUCTURED_CASES = [(kind, ep, m) for kind, ep in CASES for m in STRUCTURED[kind]]


class City(BaseModel):
    name: str
    population: int


def chat_model(kind: str, gw: Gateway, endpoint: str) -> BaseChatModel:
    if kind == "anthropic":
        return ChatAnthropic(model_name=endpoint, base_url=f"{gw.base}/anthropic", api_key=gw.token,
                             max_retries=0, timeout=30, stop=None)
    return ChatOpenAI(model=endpoint, base_url=f"{gw.base}/openai/v1", api_key=gw.token, max_retries=0,
                      timeout=30, use_responses_api=kind == "openai-responses")


def ask(model: Any, messages: list[BaseMessage], stream: bool) -> AIMessage:
    if not stream:
        reply = model.invoke(messages)
        assert isinstance(reply, AIMessage)
        return reply
    acc = None
    for chunk in model.stream(messages):
        acc = chunk if acc is None else acc + chunk
    assert acc is not None, "the stream yielded nothing"
    return AIMessage(content=acc.content, tool_calls=acc.tool_calls, id=acc.id)


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("kind,endpoint", CASES)
def test_plain_prompt(gateway: Gateway, mock_url: str, kind: str, endpoint: str, stream: bool) -> None:
    n = nonce()
    reply = ask(chat_model(kind, gateway, endpoint), [HumanMessage(f"Say hello {n}")], stream)
    assert reply.text == f"{REPLY_PREFIX}Say hello {n}"
    assert landed_on(provider_requests(mock_url, n), endpoint)


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("kind,endpoint", CASES)
def test_bound_tool_round_trip(gateway: Gateway, mock_url: str, kind: str, endpoint: str, stream: bool) -> None:
    n = nonce()

    @tool
    def get_weather(location: str) -> str:
        """Weather for a city."""
        return f"Sunny in {location}, run {n}"

    model = chat_model(kind, gateway, endpoint).bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage(f"What is the weather in Paris? {n}")]
    first = ask(model, messages, stream)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("get_weather", {"location": "Paris"})]
    result = get_weather.invoke(first.tool_calls[0])  # a ToolMessage paired with the call
    final = ask(model, [*messages, first, result], stream)
    assert final.text == f"{REPLY_PREFIX}tool said Sunny in Paris, run {n}"
    records = provider_requests(mock_url, n)
    assert landed_on(records, endpoint)
    assert f"Sunny in Paris, run {n}" in tool_results(records[-1]["body"]).values()


@pytest.mark.parametrize("kind,endpoint,method", STRUCTURED_CASES)
def test_with_structured_output(gateway: Gateway, mock_url: str, kind: str, endpoint: str, method: str) -> None:
    n = nonce()
    structured = chat_model(kind, gateway, endpoint).with_structured_output(City, method=method)
    # json_mode sends no schema: the prompt spells it out (and OpenAI wants the word "JSON" there)
    prompt = f"Describe Paris {n}. Answer in JSON matching this schema: {json.dumps(City.model_json_schema())}"
    assert structured.invoke([HumanMessage(prompt)]) == City(name="Paris", population=1)
    assert landed_on(provider_requests(mock_url, n), endpoint)


@pytest.mark.parametrize("endpoint", ["emb-openai", "emb-compat", "emb-google"])
def test_openai_embeddings(gateway: Gateway, endpoint: str) -> None:
    # check_embedding_ctx_length=False sends text, not tiktoken ids (whose tables need the internet)
    emb = OpenAIEmbeddings(model=endpoint, base_url=f"{gateway.base}/openai/v1", api_key=gateway.token,
                           max_retries=0, check_embedding_ctx_length=False)
    texts = [f"first {nonce()}", f"second {nonce()}"]
    vectors = emb.embed_documents(texts)
    query = emb.embed_query(texts[0])
    assert len(vectors) == 2 and len(vectors[0]) >= 8
    for text, vector in zip(texts, vectors, strict=True):  # the mock's vector for exactly this text
        assert vector == pytest.approx(embedding(text, len(vector)), rel=1e-5)
    assert query == pytest.approx(vectors[0], rel=1e-6)
