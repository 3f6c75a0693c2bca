"""Stream and SDK-compatibility tests for the openai_chat codec beyond the golden vectors:
byte streams split everywhere, encoder → decoder round trips, the official SDK reading what
the encoders write, and the cheap fast-path usage reader."""

from __future__ import annotations

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from unigate.codecs.openai_chat import (
    OpenAIChatStreamDecoder,
    OpenAIChatStreamEncoder,
    ir_to_openai_chat_request,
    ir_to_openai_chat_response,
    openai_chat_stream_usage,
    openai_chat_to_ir_request,
)
from unigate.errors import UpstreamError
from unigate.ir.fold import fold
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart
from unigate.ir.response import IRResponse
from unigate.ir.stream import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from unigate.ir.usage import Usage
from unigate.sse import SSEDecoder, SSEEvent

# A realistic upstream stream: CRLF line ends, a comment line, multi-byte UTF-8 characters,
# reasoning, text, two tool calls and the usage-only last chunk.
_CHUNKS = [
    {"delta": {"role": "assistant", "content": ""}},
    {"delta": {"reasoning_content": "Thinking about 日本…"}},
    {"delta": {"content": "Voilà — "}},
    {"delta": {"content": "résumé 🎉"}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "search", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":\"Zürich\"}"}}]}},
    {"delta": {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "time", "arguments": "{}"}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
]


def _raw_stream() -> bytes:
    out = b": keep-alive\r\n\r\n"
    for c in _CHUNKS:
        choice = {"index": 0, "logprobs": None, "finish_reason": None, **c}
        chunk = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
                 "model": "gpt-4o", "choices": [choice], "usage": None}
        out += b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"
    usage = {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50,
             "completion_tokens_details": {"reasoning_tokens": 5}}
    last = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o", "choices": [], "usage": usage}
    return out + b"data: " + orjson.dumps(last) + b"\r\n\r\ndata: [DONE]\r\n\r\n"


def _decode(pieces: list[bytes]) -> list[StreamEvent]:
    sse, dec = SSEDecoder(), OpenAIChatStreamDecoder()
    events: list[StreamEvent] = []
    for piece in pieces:
        for e in sse.feed(piece):
            events += dec.feed(e)
    for e in sse.close():
        events += dec.feed(e)
    return events + dec.close()


def test_decode_split_at_every_byte() -> None:
    raw = _raw_stream()
    whole = _decode([raw])
    for cut in range(1, len(raw)):
        assert _decode([raw[:cut], raw[cut:]]) == whole, cut
    resp = fold(whole)
    assert resp.parts == [
        ReasoningPart("Thinking about 日本…"),
        TextPart("Voilà — résumé 🎉"),
        ToolCallPart("call_a", "search", "{\"q\":\"Zürich\"}"),
        ToolCallPart("call_b", "time", "{}"),
    ]
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == Usage(input_tokens=30, output_tokens=20, reasoning_tokens=5)


def test_decode_byte_by_byte() -> None:
    raw = _raw_stream()
    assert _decode([raw[i:i + 1] for i in range(len(raw))]) == _decode([raw])


_IR_EVENTS: list[StreamEvent] = [
    Start("chatcmpl-7", "gpt-4o", 1700000000),
    ReasoningDelta(0, "Plan: call tools."),
    TextDelta(1, "Let me look "), TextDelta(1, "that up."),
    ToolCallDelta(2, "call_1", "get_weather", "{\"city\":"), ToolCallDelta(2, arguments="\"Oslo\"}"),
    ToolCallDelta(3, "call_2", "get_time", ""),
    Finish("tool_calls"),
    UsageEvent(Usage(input_tokens=10, output_tokens=7, cache_read_tokens=4, reasoning_tokens=3)),
]


def _encode(events: list[StreamEvent], include_usage: bool = True) -> bytes:
    enc = OpenAIChatStreamEncoder("my-endpoint", include_usage=include_usage)
    return b"".join(enc.encode(e) for e in events) + enc.close()


def test_encoder_then_decoder_round_trip() -> None:
    again = fold(_decode([_encode(_IR_EVENTS)]))
    original = fold(_IR_EVENTS)
    assert again.parts == original.parts
    assert (again.finish_reason, again.usage, again.id) == ("tool_calls", original.usage, "chatcmpl-7")
    assert again.model == "my-endpoint"


def test_official_sdk_accumulates_encoder_output() -> None:
    state = ChatCompletionStreamState()
    sse = SSEDecoder()
    events = sse.feed(_encode(_IR_EVENTS))
    assert events[-1].data == "[DONE]"
    for e in events[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(e.data))
    final = state.get_final_completion()
    msg = final.choices[0].message
    assert msg.content == "Let me look that up."
    assert [(c.id, c.function.name, c.function.arguments) for c in msg.tool_calls or []] == [
        ("call_1", "get_weather", "{\"city\":\"Oslo\"}"), ("call_2", "get_time", "")]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == 17


def test_official_sdk_parses_response() -> None:
    resp = IRResponse("msg_1", "claude", [TextPart("hi"), ToolCallPart("t1", "f", "{}")],
                      "tool_calls", usage=Usage(input_tokens=3, output_tokens=2), created=1)
    parsed = ChatCompletion.model_validate(ir_to_openai_chat_response(resp, "ep"))
    assert parsed.choices[0].message.tool_calls is not None
    assert parsed.usage is not None and parsed.usage.total_tokens == 5


def test_encoder_without_start_still_writes_valid_chunks() -> None:
    enc = OpenAIChatStreamEncoder("ep")
    raw = enc.encode(TextDelta(0, "x")) + enc.close()
    events = SSEDecoder().feed(raw)
    first = ChatCompletionChunk.model_validate_json(events[0].data)
    assert first.id.startswith("chatcmpl-") and first.choices[0].delta.role == "assistant"


def test_decoder_in_stream_error_raises_upstream_error() -> None:
    dec = OpenAIChatStreamDecoder()
    with pytest.raises(UpstreamError) as info:
        dec.feed(SSEEvent('{"error": {"message": "boom", "type": "server_error", "code": null}}'))
    assert info.value.upstream_type == "server_error"


@pytest.mark.parametrize("data, expected", [
    ('{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}', None),
    ('{"id":"c","choices":[{"index":0,"delta":{"content":"\\"usage\\": 1"}}]}', None),
    ("[DONE]", None),
    ('{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}',
     Usage(input_tokens=9, output_tokens=1)),
    ('{"id":"c","choices":[], "usage": {"prompt_tokens":2,"completion_tokens":0}}',
     Usage(input_tokens=2, output_tokens=0)),
])
def test_stream_usage_fast_path(data: str, expected: Usage | None) -> None:
    assert openai_chat_stream_usage(SSEEvent(data)) == expected


def test_request_round_trip_through_ir() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "Be terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "f", "description": "F", "parameters": {"type": "object"}, "strict": True}}],
        "tool_choice": "auto", "parallel_tool_calls": True, "max_completion_tokens": 50,
        "temperature": 0.5, "stop": ["x"], "seed": 1, "reasoning_effort": "low",
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {}, "strict": True}},
        "stream": True,
    }
    out = ir_to_openai_chat_request(openai_chat_to_ir_request(body), "gpt-4o")
    assert out == {**body, "stream_options": {"include_usage": True}}


def test_role_chunk_waits_for_the_first_content() -> None:
    """Nothing reaches the client on Start alone, so a provider that fails before its first
    content can still fall back; the role chunk then leads the first content chunk."""
    from unigate.codecs.openai_chat import OpenAIChatStreamEncoder
    from unigate.ir import Start, TextDelta, Usage, UsageEvent

    enc = OpenAIChatStreamEncoder("my-endpoint")
    assert enc.encode(Start("chatcmpl-1", "m", 1)) == b""
    assert enc.encode(UsageEvent(Usage(input_tokens=3))) == b""
    first = enc.encode(TextDelta(0, "hi")).decode()
    assert first.index('"role":"assistant"') < first.index('"content":"hi"')
    assert first.count("data: ") == 2
    empty = OpenAIChatStreamEncoder("e")
    empty.encode(Start("c2", "m", 1))
    closing = empty.close().decode()  # a stream with no content still says who is speaking
    assert '"role":"assistant"' in closing and closing.endswith("data: [DONE]\n\n")
