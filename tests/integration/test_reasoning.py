"""Reasoning ("thinking") content and its signatures survive translation both ways, across turns.

Each case asks for thinking and offers a tool, through the official SDK of one dialect against a
provider of another; the first turn returns reasoning (where the provider shows it) and a tool
call, the follow-up sends the whole assistant turn back with the tool's result. The mocks check
the history as the real APIs do (Anthropic verifies the thinking signatures it issued and wants
the thinking block first in the tool-calling turn), and the recorded upstream request shows that
the original provider's signature came back to it unchanged.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.integration.clients import WEATHER_SCHEMA
from tests.integration.gateway import Gateway
from tests.mocks.anthropic_validate import thinking_signature
from tests.mocks.replies import REPLY_PREFIX, count_words, sign

PROMPT = "What is the weather in Paris?"
RESULT = "sunny, 21 degrees"
THOUGHT = "Thinking about: " + PROMPT  # what every mock "thinks" about the prompt
THOUGHT_WORDS = count_words(THOUGHT)
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])


# ---- the mock's recording API ----------------------------------------------------------------


def upstream_requests(mock_url: str, path_contains: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"path_contains": path_contains})
    with urllib.request.urlopen(f"{mock_url}/_mock/requests?{query}", timeout=10) as r:
        records: list[dict[str, Any]] = json.loads(r.read())
    return records


def last_upstream_body(mock_url: str, path_contains: str) -> dict[str, Any]:
    records = upstream_requests(mock_url, path_contains)
    assert records, f"no upstream request to {path_contains}"
    body: dict[str, Any] = records[-1]["body"]
    return body


ANTHROPIC_PATH = "/v1/messages"
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:"
OPENAI_CHAT_PATH = "/v1/chat/completions"


def assert_anthropic_got_its_thinking_back(mock_url: str) -> None:
    """The last Messages request sent upstream replays the thinking block, first in the
    assistant turn, with the signature the Anthropic mock issued for it."""
    body = last_upstream_body(mock_url, ANTHROPIC_PATH)
    assistant = [m for m in body["messages"] if m["role"] == "assistant"]
    assert assistant, body
    first = assistant[-1]["content"][0]
    assert first == {"type": "thinking", "thinking": THOUGHT,
                     "signature": thinking_signature(THOUGHT)}, assistant[-1]
    assert body["thinking"]["type"] == "enabled", body


def assert_gemini_got_its_signature_back(mock_url: str) -> None:
    """The last generateContent request replays the function call with the thoughtSignature
    the Gemini mock put on it."""
    body = last_upstream_body(mock_url, GEMINI_PATH)
    model_turns = [c for c in body["contents"] if c.get("role") == "model"]
    assert model_turns, body
    calls = [p for p in model_turns[-1]["parts"] if "functionCall" in p]
    assert calls and calls[0].get("thoughtSignature") == sign(THOUGHT, "gemini"), model_turns


# ---- 1. Anthropic Messages client ------------------------------------------------------------


def anthropic_client(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{gw.base}/anthropic", api_key="unused",
                               default_headers={"Authorization": f"Bearer {gw.token}"},
                               max_retries=0)


def anthropic_turn(client: anthropic.Anthropic, endpoint: str, messages: list[dict[str, Any]],
                   stream: bool) -> Any:
    kwargs: dict[str, Any] = {
        "model": endpoint, "max_tokens": 4096, "messages": messages,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "get_weather", "description": "Weather for a city",
                   "input_schema": WEATHER_SCHEMA}],
    }
    if not stream:
        return client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as s:
        for _ in s:
            pass
        return s.get_final_message()


@STREAM
@pytest.mark.parametrize("provider", ["anthropic", "gemini", "openai"])
def test_anthropic_client_thinking_round_trip(gateway: Gateway, mock_url: str, provider: str,
                                              stream: bool) -> None:
    client = anthropic_client(gateway)
    endpoint = f"chat-{provider}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    first = anthropic_turn(client, endpoint, messages, stream)
    kinds = [b.type for b in first.content]
    assert first.stop_reason == "tool_use", first
    assert kinds[-1] == "tool_use" and first.content[-1].input == {"location": "Paris"}, first
    thinking = [b for b in first.content if b.type == "thinking"]
    if provider == "anthropic":  # the same-format fast path: Anthropic's own block
        assert kinds[0] == "thinking" and thinking[0].thinking == THOUGHT, first
        assert thinking[0].signature == thinking_signature(THOUGHT), first
    elif provider == "gemini":  # Gemini's thought summaries, shown as thinking
        assert kinds[0] == "thinking" and thinking[0].thinking == THOUGHT, first
    else:  # chat completions never returns OpenAI's reasoning
        assert not thinking, first

    # The whole assistant turn goes back (thinking blocks with their signatures included).
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[-1].id,
                                      "content": RESULT}]},
    ]
    second = anthropic_turn(client, endpoint, messages, stream)
    text = "".join(b.text for b in second.content if b.type == "text")
    assert text == REPLY_PREFIX + "tool said " + RESULT, second
    assert second.stop_reason == "end_turn"
    if provider == "anthropic":
        assert_anthropic_got_its_thinking_back(mock_url)
    elif provider == "gemini":
        assert_gemini_got_its_signature_back(mock_url)
        sent = last_upstream_body(mock_url, GEMINI_PATH)["generationConfig"]["thinkingConfig"]
        assert sent["thinkingBudget"] == 1024, sent
    else:
        sent = last_upstream_body(mock_url, OPENAI_CHAT_PATH)
        assert sent.get("reasoning_effort"), sent


# ---- 2. OpenAI Responses client --------------------------------------------------------------


def responses_client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base}/openai/v1", api_key=gw.token, max_retries=0)


def responses_turn(client: openai.OpenAI, endpoint: str, items: list[Any], stream: bool) -> Any:
    kwargs: dict[str, Any] = {
        "model": endpoint, "input": items, "store": False,
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "function", "name": "get_weather",
                   "description": "Weather for a city", "parameters": WEATHER_SCHEMA}],
    }
    if not stream:
        return client.responses.create(**kwargs)
    final = None
    done: list[Any] = []  # what clients that build the turn from item events keep
    for event in client.responses.create(**kwargs, stream=True):
        if event.type == "response.output_item.done":
            done.append(event.item)
        if event.type == "response.completed":
            final = event.response
    assert final is not None, "stream ended without response.completed"
    assert [i.model_dump() for i in done] == [o.model_dump() for o in final.output]
    return final


@STREAM
@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_responses_client_reasoning_round_trip(gateway: Gateway, mock_url: str, provider: str,
                                               stream: bool) -> None:
    client = responses_client(gateway)
    endpoint = f"chat-{provider}"
    items: list[Any] = [{"role": "user", "content": PROMPT}]
    first = responses_turn(client, endpoint, items, stream)
    kinds = [o.type for o in first.output]
    assert kinds[0] == "reasoning" and kinds[-1] == "function_call", first.output
    reasoning = first.output[0]
    assert [s.text for s in reasoning.summary] == [THOUGHT], reasoning
    if provider == "anthropic":  # Anthropic's thinking signature, wrapped for the client
        assert reasoning.encrypted_content, reasoning
    # Gemini signs the function call, not its thoughts: that signature rides in the call_id.
    call = first.output[-1]
    assert json.loads(call.arguments) == {"location": "Paris"}

    items += [o.model_dump(exclude_none=True) for o in first.output]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": RESULT})
    second = responses_turn(client, endpoint, items, stream)
    assert second.output_text == REPLY_PREFIX + "tool said " + RESULT, second.output
    assert second.status == "completed"
    if provider == "anthropic":
        assert_anthropic_got_its_thinking_back(mock_url)
    else:
        assert_gemini_got_its_signature_back(mock_url)

    # A third turn: both earlier turns' reasoning goes back and still checks out.
    items += [o.model_dump(exclude_none=True) for o in second.output]
    items.append({"role": "user", "content": "And the weather in Rome?"})
    third = responses_turn(client, endpoint, items, stream)
    assert [o.type for o in third.output] == ["reasoning", "function_call"], third.output
    if provider == "anthropic":
        sent = last_upstream_body(mock_url, ANTHROPIC_PATH)["messages"]
        signed = [b for m in sent if m["role"] == "assistant" for b in m["content"]
                  if b["type"] == "thinking"]
        assert [b["signature"] == thinking_signature(b["thinking"]) for b in signed] == [True] * 2


# ---- OpenAI chat client: no field carries a signature ----------------------------------------


@STREAM
@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_openai_chat_client_tool_loop_with_reasoning(gateway: Gateway, mock_url: str,
                                                     provider: str, stream: bool) -> None:
    """Chat completions has no place for a thinking signature; the tool loop must still work.
    Gemini's signature rides in the tool call id; Anthropic, which wants signed thinking first
    in the tool-calling turn, gets the follow-up with thinking left off (its documented way)."""
    client = openai.OpenAI(base_url=f"{gateway.base}/mlflow/v1", api_key=gateway.token,
                           max_retries=0)
    kwargs: dict[str, Any] = {"model": f"chat-{provider}", "reasoning_effort": "low", "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]}

    def turn(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
        if not stream:
            msg = client.chat.completions.create(messages=messages, **kwargs).choices[0].message
            return msg.content or "", [c.model_dump() for c in msg.tool_calls or []]
        text, calls = "", {}
        for chunk in client.chat.completions.create(messages=messages, stream=True, **kwargs):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for tc in choice.delta.tool_calls or []:
                    c = calls.setdefault(tc.index, {"id": "", "type": "function",
                                                    "function": {"name": "", "arguments": ""}})
                    c["id"] += tc.id or ""
                    c["function"]["name"] += (tc.function and tc.function.name) or ""
                    c["function"]["arguments"] += (tc.function and tc.function.arguments) or ""
        return text, [calls[i] for i in sorted(calls)]

    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    _, calls = turn(messages)
    assert len(calls) == 1 and calls[0]["function"]["name"] == "get_weather", calls
    messages += [{"role": "assistant", "content": None, "tool_calls": calls},
                 {"role": "tool", "tool_call_id": calls[0]["id"], "content": RESULT}]
    text, calls = turn(messages)
    assert text == REPLY_PREFIX + "tool said " + RESULT and not calls, text
    if provider == "anthropic":
        assert "thinking" not in last_upstream_body(mock_url, ANTHROPIC_PATH)
    else:
        assert_gemini_got_its_signature_back(mock_url)


# ---- 3. Gemini client ------------------------------------------------------------------------


def gemini_client(gw: Gateway) -> genai.Client:
    return genai.Client(api_key="databricks", http_options=gt.HttpOptions(
        base_url=f"{gw.base}/gemini", headers={"Authorization": f"Bearer {gw.token}"}))


def gemini_config(budget: int | None = None) -> gt.GenerateContentConfig:
    return gt.GenerateContentConfig(
        thinking_config=gt.ThinkingConfig(include_thoughts=True, thinking_budget=budget),
        tools=[gt.Tool(function_declarations=[gt.FunctionDeclaration(
            name="get_weather", description="Weather for a city",
            parameters_json_schema=WEATHER_SCHEMA)])],
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )


def gemini_turn(client: genai.Client, endpoint: str, contents: list[gt.Content], stream: bool,
                config: gt.GenerateContentConfig) -> tuple[list[gt.Part], gt.UsageMetadata | None]:
    """The model's parts (as a client collects them) and the last usage metadata."""
    parts: list[gt.Part] = []
    usage = None
    chunks = (client.models.generate_content_stream(model=endpoint, contents=contents,
                                                    config=config) if stream else
              [client.models.generate_content(model=endpoint, contents=contents, config=config)])
    for chunk in chunks:
        usage = chunk.usage_metadata or usage
        for cand in chunk.candidates or []:
            parts.extend((cand.content.parts if cand.content else None) or [])
    return parts, usage


@STREAM
def test_gemini_client_thoughts_round_trip_to_anthropic(gateway: Gateway, mock_url: str,
                                                        stream: bool) -> None:
    client = gemini_client(gateway)
    config = gemini_config()
    contents = [gt.Content(role="user", parts=[gt.Part(text=PROMPT)])]
    parts, _ = gemini_turn(client, "chat-anthropic", contents, stream, config)
    thoughts = [p for p in parts if p.thought]
    assert "".join(p.text or "" for p in thoughts) == THOUGHT, parts
    assert any(p.thought_signature for p in thoughts), parts
    calls = [p.function_call for p in parts if p.function_call]
    assert len(calls) == 1 and calls[0].name == "get_weather", parts
    assert calls[0].args == {"location": "Paris"}

    contents += [gt.Content(role="model", parts=parts), gt.Content(role="user", parts=[
        gt.Part(function_response=gt.FunctionResponse(name="get_weather", id=calls[0].id,
                                                     response={"result": RESULT}))])]
    answer, _ = gemini_turn(client, "chat-anthropic", contents, stream, config)
    text = "".join(p.text or "" for p in answer if not p.thought)
    # Anthropic gets the function's response object as the tool result's JSON text.
    assert text.startswith(REPLY_PREFIX + "tool said ") and RESULT in text, answer
    assert_anthropic_got_its_thinking_back(mock_url)


# ---- 4. Reasoning token usage, in each dialect's own field -----------------------------------


@STREAM
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_openai_chat_client_reasoning_tokens(gateway: Gateway, provider: str,
                                             stream: bool) -> None:
    client = openai.OpenAI(base_url=f"{gateway.base}/mlflow/v1", api_key=gateway.token,
                           max_retries=0)
    kwargs: dict[str, Any] = {"model": f"chat-{provider}", "reasoning_effort": "low",
                              "messages": [{"role": "user", "content": "Say hello"}]}
    if stream:
        usage = None
        for chunk in client.chat.completions.create(**kwargs, stream=True,
                                                    stream_options={"include_usage": True}):
            usage = chunk.usage or usage
    else:
        usage = client.chat.completions.create(**kwargs).usage
    assert usage is not None and usage.completion_tokens_details is not None, usage
    assert usage.completion_tokens_details.reasoning_tokens == count_words(
        "Thinking about: Say hello"), usage
    assert usage.completion_tokens > usage.completion_tokens_details.reasoning_tokens


@STREAM
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_responses_client_reasoning_tokens(gateway: Gateway, provider: str,
                                           stream: bool) -> None:
    client = responses_client(gateway)
    r = responses_turn(client, f"chat-{provider}", [{"role": "user", "content": PROMPT}], stream)
    assert r.usage is not None, r
    assert r.usage.output_tokens_details.reasoning_tokens == THOUGHT_WORDS, r.usage
    assert r.usage.output_tokens > THOUGHT_WORDS


@STREAM
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_gemini_client_thoughts_token_count(gateway: Gateway, provider: str,
                                            stream: bool) -> None:
    client = gemini_client(gateway)
    contents = [gt.Content(role="user", parts=[gt.Part(text=PROMPT)])]
    _, usage = gemini_turn(client, f"chat-{provider}", contents, stream, gemini_config(1024))
    assert usage is not None and usage.thoughts_token_count == THOUGHT_WORDS, usage
    # Gemini counts thoughts apart from the answer.
    assert usage.candidates_token_count is not None
    assert usage.total_token_count == (usage.prompt_token_count or 0) + \
        usage.candidates_token_count + THOUGHT_WORDS, usage
