"""Properties of the Responses codec beyond the golden vectors: the official SDK parses what
the encoders write, streams survive any byte split, and round trips keep what they must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from unigate.codecs.openai_responses import (
    OpenAIResponsesStreamDecoder,
    OpenAIResponsesStreamEncoder,
    ir_to_openai_responses_request,
    ir_to_openai_responses_response,
    openai_responses_to_ir_request,
    openai_responses_to_ir_response,
)
from unigate.errors import UpstreamTimeout
from unigate.ir import (
    Finish,
    IRResponse,
    ReasoningDelta,
    ReasoningPart,
    Start,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    UsageEvent,
)
from unigate.ir.fold import fold
from unigate.ir.serde import to_dict
from unigate.sse import SSEDecoder, SSEEvent

VECTORS = Path(__file__).parents[2] / "vectors" / "openai_responses"
EVENTS: list[StreamEvent] = [
    Start("msg_01XFDUDYJgAACzvnptvVoYEL", "claude-sonnet-4", 1741290958),
    ReasoningDelta(0, "Weather in "), ReasoningDelta(0, "Bogotá…"),
    ReasoningDelta(0, signature="EqQBCgIYAhIM", signature_format="anthropic"),
    TextDelta(1, "Let me check "), TextDelta(1, "🌦️ now."),
    ToolCallDelta(2, "toolu_01A", "get_weather", '{"city": '), ToolCallDelta(2, arguments='"Bogotá"}'),
    Finish("tool_calls"),
    UsageEvent(Usage(input_tokens=472, output_tokens=89, cache_read_tokens=100)),
]


def _stream_bytes(events: list[StreamEvent]) -> bytes:
    encoder = OpenAIResponsesStreamEncoder("my-endpoint")
    return b"".join(encoder.encode(e) for e in events) + encoder.close()


def _sse(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


def _decode(events: list[SSEEvent]) -> list[StreamEvent]:
    decoder = OpenAIResponsesStreamDecoder()
    out: list[StreamEvent] = []
    for ev in events:
        out.extend(decoder.feed(ev))
    return out + decoder.close()


def test_stream_events_validate_against_sdk_types() -> None:
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    events = _sse(_stream_bytes(EVENTS))
    for i, ev in enumerate(events):
        data = orjson.loads(ev.data)
        assert ev.event == data["type"] and data["sequence_number"] == i
        adapter.validate_python(data)
    final = Response.model_validate(orjson.loads(events[-1].data)["response"])
    assert final.output_text == "Let me check 🌦️ now."
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 100


def test_every_response_vector_validates_against_sdk_type() -> None:
    for path in sorted(VECTORS.glob("encode_response_*.json")):
        Response.model_validate(orjson.loads(path.read_bytes())["expected"])


def _client(handler: Any) -> openai.OpenAI:
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1",
                         http_client=httpx.Client(transport=transport))


def test_sdk_client_parses_unary_response() -> None:
    resp = IRResponse(id="msg_01", model="claude", created=1741290958, finish_reason="stop",
                      parts=[ReasoningPart("think", "sig", "anthropic"), TextPart("Hello!")],
                      usage=Usage(10, 3))

    def handler(request: httpx.Request) -> httpx.Response:
        ir = openai_responses_to_ir_request(orjson.loads(request.content))
        body = ir_to_openai_responses_response(resp, ir.model, request=ir)
        return httpx.Response(200, content=orjson.dumps(body),
                              headers={"content-type": "application/json"})

    out = _client(handler).responses.create(model="my-endpoint", input="hi", temperature=0.3)
    assert out.output_text == "Hello!"
    assert out.model == "my-endpoint" and out.temperature == 0.3
    assert out.usage is not None and out.usage.total_tokens == 13


def test_sdk_client_parses_stream() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_stream_bytes(EVENTS),
                              headers={"content-type": "text/event-stream"})

    client = _client(handler)
    with client.responses.stream(model="my-endpoint", input="hi") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "Let me check 🌦️ now."
    calls = [item for item in final.output if item.type == "function_call"]
    assert calls[0].arguments == '{"city": "Bogotá"}'


def test_stream_decodes_the_same_at_every_byte_split() -> None:
    raw = _stream_bytes(EVENTS).replace(b"\n", b"\r\n")
    expected = to_dict(_decode(_sse(raw)))
    for cut in range(1, len(raw)):
        decoder = SSEDecoder()
        events = decoder.feed(raw[:cut]) + decoder.feed(raw[cut:]) + decoder.close()
        assert to_dict(_decode(events)) == expected, cut


def test_stream_round_trip_folds_to_the_unary_encoding() -> None:
    """Encode a stream, decode it again: the folded result encodes like the unary path."""
    decoded = fold(_decode(_sse(_stream_bytes(EVENTS))))
    assert decoded.finish_reason == "tool_calls"
    assert [type(p).__name__ for p in decoded.parts] == ["ReasoningPart", "TextPart",
                                                         "ToolCallPart"]
    reasoning = decoded.parts[0]
    assert isinstance(reasoning, ReasoningPart)
    # The Anthropic signature travelled through encrypted_content and came back unwrapped.
    assert (reasoning.signature, reasoning.signature_format) == ("EqQBCgIYAhIM", "anthropic")
    folded = fold(EVENTS)
    unary = ir_to_openai_responses_response(folded, "my-endpoint")
    streamed = orjson.loads(_sse(_stream_bytes(EVENTS))[-1].data)["response"]
    assert streamed == unary


def test_foreign_reasoning_survives_a_client_round_trip() -> None:
    resp = IRResponse(id="msg_01", model="claude", created=1, finish_reason="tool_calls", parts=[
        ReasoningPart("thinking", "EqQBsig", "anthropic"), ReasoningPart(redacted="EmwKdata"),
        ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}')])
    body = ir_to_openai_responses_response(resp, "ep")
    history = [{"role": "user", "content": "weather?"}, *body["output"],
               {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"}]
    ir = openai_responses_to_ir_request({"model": "ep", "input": history})
    parts = ir.messages[1].parts
    assert isinstance(parts[0], ReasoningPart) and isinstance(parts[1], ReasoningPart)
    assert (parts[0].signature, parts[0].signature_format) == ("EqQBsig", "anthropic")
    assert (parts[1].redacted, parts[1].signature_format) == ("EmwKdata", "anthropic")
    # and a Responses upstream is never sent another provider's signature
    upstream = ir_to_openai_responses_request(ir, "gpt-5")
    assert [i["type"] for i in upstream["input"]] == ["message", "function_call",
                                                      "function_call_output"]


def test_codex_style_request_round_trips_through_ir() -> None:
    body = {
        "model": "gpt-5-codex", "instructions": "You are Codex.", "stream": True, "store": False,
        "include": ["reasoning.encrypted_content"], "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"}, "tool_choice": "auto",
        "tools": [{"type": "function", "name": "shell", "description": "Run a command.",
                   "strict": False, "parameters": {"type": "object", "properties": {
                       "command": {"type": "array", "items": {"type": "string"}}}}},
                  {"type": "custom", "name": "apply_patch", "description": "Edit files."}],
        "input": [
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [],
             "encrypted_content": "gAAAAB"},
            {"type": "function_call", "call_id": "call_1", "name": "shell",
             "arguments": '{"command":["ls"]}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "README.md"},
            {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch",
             "input": "*** Begin Patch\n*** End Patch"},
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "ok"},
        ],
    }
    out = ir_to_openai_responses_request(openai_responses_to_ir_request(body), "gpt-5-codex")
    expected = dict(body, tool_choice="auto")
    expected["input"] = [body["input"][0], {"type": "reasoning", "id": "rs_1", "summary": [],
                                            "encrypted_content": "gAAAAB"}, *body["input"][2:]]
    assert out == expected


def test_error_after_close_writes_only_the_error_event() -> None:
    encoder = OpenAIResponsesStreamEncoder("ep")
    encoder.encode(Start("r", "m", 1))
    encoder.close()
    events = _sse(encoder.error(UpstreamTimeout("late")))
    assert [e.event for e in events] == ["error"]


def test_unary_decode_of_encoded_response_keeps_parts() -> None:
    resp = fold(EVENTS)
    body = ir_to_openai_responses_response(resp, "ep")
    back = openai_responses_to_ir_response(body)
    assert [to_dict(p)["type"] for p in back.parts] == ["ReasoningPart", "TextPart",
                                                        "ToolCallPart"]
    assert back.finish_reason == "tool_calls" and back.usage is not None
    assert (back.usage.input_tokens, back.usage.output_tokens, back.usage.cache_read_tokens) == (
        472, 89, 100)


@pytest.mark.parametrize("status", ["failed"])
def test_failed_stream_response_in_encoder_output_parses(status: str) -> None:
    encoder = OpenAIResponsesStreamEncoder("ep")
    raw = encoder.encode(Start("r", "m", 1)) + encoder.error(UpstreamTimeout("timed out"))
    last = orjson.loads(_sse(raw)[-1].data)
    assert last["response"]["status"] == status
    Response.model_validate(last["response"])


def test_created_events_wait_for_the_first_content() -> None:
    """Nothing reaches the client on Start alone (a failing provider can still fall back);
    response.created and response.in_progress then lead the first content, in order."""
    from unigate.codecs.openai_responses import OpenAIResponsesStreamEncoder
    from unigate.ir import Start, TextDelta

    enc = OpenAIResponsesStreamEncoder("my-endpoint")
    assert enc.encode(Start("abc", "m", 1)) == b""
    first = enc.encode(TextDelta(0, "hi")).decode()
    assert first.index("response.created") < first.index("response.in_progress") \
        < first.index("response.output_text.delta")
    assert '"sequence_number":0' in first


# Codex sends each MCP server's tools as a `namespace` tool; providers without namespaces see
# `<namespace>__<function>`, and the call goes back to the client namespaced.
NAMESPACED = {
    "model": "ep",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "add"}]},
        {"type": "function_call", "call_id": "call_1", "name": "add", "namespace": "mcp__calc",
         "arguments": '{"a":1,"b":2}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "3"},
    ],
    "tools": [{"type": "namespace", "name": "mcp__calc", "description": "calc server", "tools": [
        {"type": "function", "name": "add", "description": "Add", "strict": False,
         "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}]}],
}


def test_namespaced_functions_are_flattened_for_the_provider() -> None:
    ir = openai_responses_to_ir_request(NAMESPACED)
    assert [t.name for t in ir.tools or []] == ["mcp__calc__add"]
    assert ir.tools[0].parameters == {"type": "object", "properties": {"a": {"type": "integer"}}}  # type: ignore[index]
    calls = [p for m in ir.messages for p in m.parts if isinstance(p, ToolCallPart)]
    assert [c.name for c in calls] == ["mcp__calc__add"]
    upstream = ir_to_openai_responses_request(ir, "gpt-5")  # a Responses provider: flat functions
    assert upstream["tools"][0]["name"] == "mcp__calc__add"
    assert upstream["input"][1]["name"] == "mcp__calc__add" and "namespace" not in upstream["input"][1]


def test_calls_of_namespaced_functions_go_back_namespaced() -> None:
    request = openai_responses_to_ir_request(NAMESPACED)
    resp = IRResponse(id="r1", model="m", parts=[ToolCallPart("toolu_1", "mcp__calc__add", '{"a":2}')],
                      finish_reason="tool_calls")
    item = ir_to_openai_responses_response(resp, "ep", request=request)["output"][0]
    assert (item["type"], item["name"], item["namespace"]) == ("function_call", "add", "mcp__calc")
    Response.model_validate(ir_to_openai_responses_response(resp, "ep", request=request))
    encoder = OpenAIResponsesStreamEncoder("ep", request=request)
    raw = b"".join(encoder.encode(e) for e in [
        Start("r1", "m", 1), ToolCallDelta(0, "toolu_1", "mcp__calc__add", '{"a":2}'),
        Finish("tool_calls")]) + encoder.close()
    done = [orjson.loads(e.data) for e in _sse(raw) if e.event == "response.output_item.done"]
    assert [(d["item"]["name"], d["item"]["namespace"]) for d in done] == [("add", "mcp__calc")]
    added = [orjson.loads(e.data) for e in _sse(raw) if e.event == "response.output_item.added"]
    assert added[0]["item"]["namespace"] == "mcp__calc"
