"""The mock providers, checked with the official SDKs pointed straight at them (no gateway)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.mocks.server import start_mock_server

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "days": {"type": "integer"}},
                   "required": ["city"]}}}
ANT_VERSION = {"anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


def http(base: str, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(autouse=True)
def clean(base: str) -> None:
    http(base, "DELETE", "/_mock/requests")
    http(base, "DELETE", "/_mock/faults")


@pytest.fixture
def oai(base: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-mock-openai", base_url=base + "/v1", max_retries=0,
                         timeout=5)


@pytest.fixture
def ant(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-mock", base_url=base, max_retries=0, timeout=5)


@pytest.fixture
def gem(base: str) -> genai.Client:
    return genai.Client(api_key="mock-gemini-key",
                        http_options=gt.HttpOptions(base_url=base, timeout=5000))


# --- OpenAI chat completions ----------------------------------------------------------------


def test_openai_chat_text_usage_and_model(oai: openai.OpenAI) -> None:
    out = oai.chat.completions.create(model="gpt-4o-mini",
                                      messages=[{"role": "user", "content": "hello there"}])
    assert out.choices[0].message.content == "MOCK-UPSTREAM-OK: hello there"
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "gpt-4o-mini-2024-07-18"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (5, 3)
    assert out.usage.prompt_tokens_details.cached_tokens == 0


def test_openai_stream_parallel_tool_calls_then_usage_chunk(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "weather in both cities"}]))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks[:-1]:
        for tc in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"name": "", "args": ""})
            entry["name"] += tc.function.name or ""
            entry["args"] += tc.function.arguments or ""
    assert [json.loads(c["args"]) for c in calls.values()] == [{"city": "Paris"}] * 2
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


def test_openai_stream_without_include_usage_has_no_usage_chunk(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(
        model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "a b c d"}]))
    assert all(c.choices for c in chunks) and len(chunks) >= 5
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "MOCK-UPSTREAM-OK: a b c d"


def test_openai_tool_result_round_trip_and_pairing_check(oai: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}
    msgs: list[Any] = [{"role": "user", "content": "weather?"},
                       {"role": "assistant", "content": None, "tool_calls": [call]},
                       {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    out = oai.chat.completions.create(model="gpt-4o-mini", messages=msgs, tools=[WEATHER_TOOL])
    assert out.choices[0].message.content == "MOCK-UPSTREAM-OK: tool said sunny"
    with pytest.raises(openai.BadRequestError) as err:
        oai.chat.completions.create(model="gpt-4o-mini", messages=msgs[:2])
    assert "call_1" in err.value.message


def test_openai_stop_max_tokens_and_json_schema(oai: openai.OpenAI) -> None:
    msgs: Any = [{"role": "user", "content": "one two three four"}]
    out = oai.chat.completions.create(model="m", messages=msgs, stop=["three"])
    assert out.choices[0].message.content == "MOCK-UPSTREAM-OK: one two "
    out = oai.chat.completions.create(model="m", messages=msgs, max_completion_tokens=2)
    assert (out.choices[0].message.content, out.choices[0].finish_reason) == (
        "MOCK-UPSTREAM-OK: one", "length")
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    out = oai.chat.completions.create(model="m", messages=msgs, response_format={
        "type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert json.loads(out.choices[0].message.content or "") == {"ok": True}


def test_openai_embeddings_float_and_base64_agree(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"],
                                   encoding_format="float", dimensions=8)
    b64 = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
    assert [d.embedding for d in floats.data] == [d.embedding for d in b64.data]
    assert len(floats.data[0].embedding) == 8 and floats.data[0].embedding != floats.data[1]


def test_openai_auth_failure(base: str) -> None:
    client = openai.OpenAI(api_key="sk-wrong-key-123", base_url=base + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        client.models.list()
    assert err.value.code == "invalid_api_key"


# --- OpenAI Responses, Azure, compat ------------------------------------------------------


def test_responses_stream_event_order_with_reasoning(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(
        model="gpt-4o-mini", input="hi there", stream=True,
        reasoning={"effort": "low", "summary": "auto"}, include=["reasoning.encrypted_content"]))
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress",
                         "response.output_item.added"]
    text_part = kinds.index("response.content_part.added")
    assert kinds[text_part + 1] == "response.output_text.delta"
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    final = events[-1].response
    assert final.output_text == "MOCK-UPSTREAM-OK: hi there"
    assert final.usage.output_tokens_details.reasoning_tokens == 4
    assert [e.sequence_number for e in events] == list(range(len(events)))
    # The reasoning item goes back as input: its encrypted content verifies; a forged one not.
    reasoning = final.output[0].model_dump(exclude_none=True)
    again = oai.responses.create(model="gpt-4o-mini", input=[
        {"role": "user", "content": "hi"}, reasoning, {"role": "user", "content": "more"}])
    assert again.output_text == "MOCK-UPSTREAM-OK: more"
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model="gpt-4o-mini", input=[
            {**reasoning, "encrypted_content": "gAAAAAforged"}, {"role": "user", "content": "x"}])


def test_responses_function_call(oai: openai.OpenAI) -> None:
    tool = {"type": "function", "name": "get_weather",
            "parameters": WEATHER_TOOL["function"]["parameters"]}
    out = oai.responses.create(model="gpt-4o-mini", input="weather?", tools=[tool])
    call = out.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == (
        "function_call", "get_weather", {"city": "Paris"})
    events = list(oai.responses.create(model="gpt-4o-mini", input="weather?", tools=[tool],
                                       stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds
    assert kinds[-3:] == ["response.function_call_arguments.done",
                          "response.output_item.done", "response.completed"]


def test_azure_deployment_and_missing_api_version(base: str) -> None:
    client = openai.AzureOpenAI(api_key="mock-azure-key", api_version="2024-10-21",
                                azure_endpoint=base, max_retries=0)
    out = client.chat.completions.create(model="my-deploy",
                                         messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "MOCK-UPSTREAM-OK: hi"
    chunks = list(client.chat.completions.create(
        model="my-deploy", stream=True, messages=[{"role": "user", "content": "a b"}]))
    assert chunks[0].choices == [] and chunks[-1].choices[0].finish_reason == "stop"
    emb = client.embeddings.create(model="my-embed", input="hi", dimensions=4)
    assert len(emb.data[0].embedding) == 4
    status, _, body = http(base, "POST", "/openai/deployments/d/chat/completions",
                           {"messages": []}, {"api-key": "mock-azure-key"})
    assert status == 404 and json.loads(body)["error"]["code"] == "404"
    bad = openai.AzureOpenAI(api_key="nope", api_version="2024-10-21", azure_endpoint=base,
                             max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="d", messages=[{"role": "user", "content": "x"}])


def test_compat_accepts_any_key_and_has_no_responses(base: str) -> None:
    client = openai.OpenAI(api_key="anything", base_url=base + "/compat/v1", max_retries=0)
    out = client.chat.completions.create(model="llama-3",
                                         messages=[{"role": "user", "content": "yo"}])
    assert (out.model, out.choices[0].message.content) == ("llama-3", "MOCK-UPSTREAM-OK: yo")
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="llama-3", input="yo")


# --- Anthropic ----------------------------------------------------------------------------


def test_anthropic_text_and_stream_event_order(ant: anthropic.Anthropic, base: str) -> None:
    out = ant.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                              messages=[{"role": "user", "content": "hello"}])
    assert out.content[0].text == "MOCK-UPSTREAM-OK: hello" and out.stop_reason == "end_turn"
    assert out.usage.cache_read_input_tokens == 0
    body = {"model": "c", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "weather"}], "tools": [
                {"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}]}
    _, _, raw = http(base, "POST", "/v1/messages", body, {"x-api-key": "sk-ant-mock",
                                                           **ANT_VERSION})
    names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta",
                          "message_stop"]
    with ant.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as stream:
        final = stream.get_final_message()
    assert final.content[0].input == {"city": "Paris"} and final.stop_reason == "tool_use"


def test_anthropic_thinking_signature_round_trip(ant: anthropic.Anthropic) -> None:
    kwargs: Any = {"model": "c", "max_tokens": 2048,
                   "thinking": {"type": "enabled", "budget_tokens": 1024}}
    first = ant.messages.create(messages=[{"role": "user", "content": "hmm"}], **kwargs)
    assert first.content[0].type == "thinking" and first.content[0].signature
    history: Any = [{"role": "user", "content": "hmm"},
                    {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                    {"role": "user", "content": "next"}]
    assert ant.messages.create(messages=history, **kwargs).content[1].text.endswith("next")
    history[1]["content"][0]["signature"] = "forged"
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        ant.messages.create(messages=history, **kwargs)
    tools: Any = [{"name": "get_weather",
                   "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    used = ant.messages.create(messages=[{"role": "user", "content": "weather"}], tools=tools,
                               **kwargs)
    answer = [{"type": "tool_result", "tool_use_id": used.content[1].id, "content": "sunny"}]
    loop: Any = [{"role": "user", "content": "weather"},
                 {"role": "assistant", "content": [b.model_dump() for b in used.content]},
                 {"role": "user", "content": answer}]
    assert ant.messages.create(messages=loop, tools=tools, **kwargs).content[1].text.endswith(
        "tool said sunny")
    loop[1]["content"] = loop[1]["content"][1:]  # a gateway that drops thinking blocks
    with pytest.raises(anthropic.BadRequestError, match="must start with a thinking block"):
        ant.messages.create(messages=loop, tools=tools, **kwargs)
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        ant.messages.create(model="c", max_tokens=1024, messages=[{"role": "user", "content": "x"}],
                            thinking={"type": "enabled", "budget_tokens": 1024})


def test_anthropic_validation_count_tokens_models(ant: anthropic.Anthropic, base: str) -> None:
    orphan: Any = [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_x", "content": "sunny"}]}]
    with pytest.raises(anthropic.BadRequestError, match="toolu_x"):
        ant.messages.create(model="c", max_tokens=10, messages=orphan)
    status, _, body = http(base, "POST", "/v1/messages", {"model": "c", "messages": []},
                           {"x-api-key": "sk-ant-mock", **ANT_VERSION})
    assert status == 400 and json.loads(body)["error"]["message"] == "max_tokens: Field required"
    count = ant.messages.count_tokens(model="c", messages=[{"role": "user", "content": "a b"}])
    assert count.input_tokens == 5
    assert next(m.id for m in ant.models.list()).startswith("claude-")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(api_key="bad", base_url=base, max_retries=0).models.list()


# --- Gemini -------------------------------------------------------------------------------


def test_gemini_text_stream_thoughts_and_usage(gem: genai.Client) -> None:
    out = gem.models.generate_content(model="gemini-2.5-flash", contents="hi there")
    assert out.text == "MOCK-UPSTREAM-OK: hi there"
    assert out.usage_metadata.prompt_token_count == 5
    config = gt.GenerateContentConfig(thinking_config=gt.ThinkingConfig(include_thoughts=True))
    chunks = list(gem.models.generate_content_stream(model="gemini-2.5-flash", contents="hi",
                                                     config=config))
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert parts[0].thought and any(p.thought_signature for p in parts)
    assert chunks[-1].candidates[0].finish_reason == gt.FinishReason.STOP
    assert chunks[-1].usage_metadata.thoughts_token_count == 3


def test_gemini_tools_json_count_and_embed(gem: genai.Client) -> None:
    decl = gt.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_TOOL[
        "function"]["parameters"])
    config = gt.GenerateContentConfig(tools=[gt.Tool(function_declarations=[decl])])
    out = gem.models.generate_content(model="gemini-2.5-flash", contents="weather?",
                                      config=config)
    assert out.function_calls[0].args == {"city": "Paris"}
    # Gemini 3 always thinks and wants the function call's thought signature back.
    first = gem.models.generate_content(model="gemini-3-pro", contents="weather?", config=config)
    call_content = first.candidates[0].content
    answer = gt.Content(role="user", parts=[gt.Part.from_function_response(
        name="get_weather", response={"result": "sunny"})])
    history = [gt.Content(role="user", parts=[gt.Part(text="weather?")]), call_content, answer]
    out = gem.models.generate_content(model="gemini-3-pro", contents=history, config=config)
    assert out.text == "MOCK-UPSTREAM-OK: tool said sunny"
    call_content.parts[0].thought_signature = None
    with pytest.raises(genai_errors.ClientError, match="thought_signature"):
        gem.models.generate_content(model="gemini-3-pro", contents=history, config=config)
    config = gt.GenerateContentConfig(response_mime_type="application/json", response_schema={
        "type": "OBJECT", "properties": {"n": {"type": "NUMBER"}}, "required": ["n"]})
    out = gem.models.generate_content(model="gemini-2.5-flash", contents="x", config=config)
    assert json.loads(out.text or "") == {"n": 1}
    assert gem.models.count_tokens(model="gemini-2.5-flash", contents="a b c").total_tokens == 6
    emb = gem.models.embed_content(model="gemini-embedding-001", contents=["a", "b"],
                                   config=gt.EmbedContentConfig(output_dimensionality=6))
    assert [len(e.values or []) for e in emb.embeddings or []] == [6, 6]


def test_gemini_validation_and_auth(gem: genai.Client, base: str) -> None:
    with pytest.raises(genai_errors.ClientError) as err:
        gem.models.generate_content(model="gemini-2.5-flash",
                                    contents=[gt.Content(role="bot", parts=[gt.Part(text="x")])])
    assert err.value.code == 400 and "valid role" in str(err.value)
    bad = genai.Client(api_key="nope", http_options=gt.HttpOptions(base_url=base))
    with pytest.raises(genai_errors.ClientError) as err:
        bad.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert err.value.status == "INVALID_ARGUMENT"
    status, _, raw = http(base, "POST", "/v1beta/models/g:streamGenerateContent",
                                {"contents": [{"parts": [{"text": "a b"}]}]},
                                {"x-goog-api-key": "mock-gemini-key"})
    assert status == 200 and len(json.loads(raw)) == 3  # a JSON array without alt=sse


# --- Faults -------------------------------------------------------------------------------


def test_fault_429_retry_after_reaches_sdks(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    with pytest.raises(openai.RateLimitError) as err:
        oai.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "MOCK_FAULT:status=429,retry_after=7"}])
    assert err.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.OverloadedError) as aerr:
        ant.messages.create(model="c", max_tokens=10, messages=[
            {"role": "user", "content": "MOCK_FAULT:status=529"}])
    assert aerr.value.body["error"]["type"] == "overloaded_error"


def test_fault_cut_stream_and_stream_error(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    with pytest.raises(openai.APIConnectionError):
        list(oai.chat.completions.create(model="m", stream=True, messages=[
            {"role": "user", "content": "MOCK_FAULT:cut_stream=2 a b c d"}]))
    with pytest.raises(openai.APIError, match="server had an error"):
        list(oai.chat.completions.create(model="m", stream=True, messages=[
            {"role": "user", "content": "MOCK_FAULT:stream_error=2 a b c d"}]))
    with pytest.raises(anthropic.APIStatusError):
        list(ant.messages.create(model="c", max_tokens=50, stream=True, messages=[
            {"role": "user", "content": "MOCK_FAULT:stream_error=3 a b c"}]))


def test_fault_hang_reset_and_malformed(base: str, oai: openai.OpenAI) -> None:
    quick = openai.OpenAI(api_key="sk-mock-openai", base_url=base + "/v1", max_retries=0,
                          timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        quick.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "MOCK_FAULT:hang_before_headers=1"}])
    assert time.monotonic() - started < 1
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "MOCK_FAULT:reset"}])
    with pytest.raises(json.JSONDecodeError):
        oai.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "MOCK_FAULT:malformed_json"}])


def test_fault_queue_fails_only_first_attempt(base: str) -> None:
    http(base, "POST", "/_mock/faults", {"faults": ["status=503"], "path_contains": "/chat"})
    client = openai.OpenAI(api_key="sk-mock-openai", base_url=base + "/v1", max_retries=1)
    out = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert out.choices[0].message.content == "MOCK-UPSTREAM-OK: x"
    _, _, raw = http(base, "GET", "/_mock/stats")
    assert json.loads(raw)["by_path"] == {"/v1/chat/completions": 2}


# --- Recording and the CLI ----------------------------------------------------------------


def test_recording_api(base: str, oai: openai.OpenAI) -> None:
    oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    _, _, raw = http(base, "GET", "/_mock/requests/last")
    last = json.loads(raw)
    assert last["path"] == "/v1/chat/completions" and last["body"]["model"] == "gpt-4o-mini"
    assert last["headers"]["authorization"] == "Bearer sk-mock-openai"
    assert len(json.loads(http(base, "GET", "/_mock/requests")[2])) == 1
    http(base, "DELETE", "/_mock/requests")
    assert json.loads(http(base, "GET", "/_mock/requests")[2]) == []


def test_cli_starts_on_an_ephemeral_port() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.mocks.server", "--port", "0"],
                            cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("listening on http://127.0.0.1:")
        status, _, _ = http(line.split()[-1], "GET", "/_mock/stats")
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=5)
