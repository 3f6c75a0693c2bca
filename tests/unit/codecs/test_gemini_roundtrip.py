"""Gemini codec properties the vectors cannot show: byte splits, round trips through other
dialects, and the official SDK reading what the encoders write."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import pytest

from unigate.codecs import gemini as g
from unigate.codecs.gemini._util import (
    id_with_signature,
    pack_signature,
    split_id_signature,
    unpack_signature,
)
from unigate.errors import GatewayError, InvalidRequest
from unigate.ir.fold import fold
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest, Message
from unigate.ir.response import IRResponse
from unigate.ir.stream import Finish, ReasoningDelta, Start, TextDelta, ToolCallDelta, UsageEvent
from unigate.ir.usage import Usage
from unigate.sse import SSEDecoder

SIG = "CiQBVKhc7l5mzkoZSRQfFeCS44vjuGk3o7tGr+/Pd9aQ8w1Zlw=="
RID = "mFtVaLKfK_2Bz7IPvrz4sAQ"


def _chunk(parts: list[dict[str, Any]] | None = None, finish: str | None = None,
           usage: dict[str, int] | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"index": 0}
    if parts is not None:
        cand["content"] = {"parts": parts, "role": "model"}
    if finish:
        cand["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-2.5-flash",
                           "responseId": RID}
    if usage:
        out["usageMetadata"] = usage
    return out


CHUNKS = [
    _chunk([{"text": "Réflexion 🤔", "thought": True}]),
    _chunk([{"text": "Voilà: "}], usage={"promptTokenCount": 9, "totalTokenCount": 9}),
    _chunk([{"text": "ça marche ✅"}]),
    _chunk([{"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}},
             "thoughtSignature": SIG}], "STOP",
           {"promptTokenCount": 9, "candidatesTokenCount": 12, "thoughtsTokenCount": 30,
            "totalTokenCount": 51}),
]
STREAM_BYTES = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in CHUNKS)


def _decode_bytes(pieces: list[bytes]) -> list[Any]:
    sse, dec = SSEDecoder(), g.GeminiStreamDecoder()
    events: list[Any] = []
    for piece in pieces:
        for ev in sse.feed(piece):
            events.extend(dec.feed(ev))
    for ev in sse.close():
        events.extend(dec.feed(ev))
    return events + dec.close()


def test_stream_split_at_every_byte_gives_the_same_events() -> None:
    whole = _decode_bytes([STREAM_BYTES])
    assert isinstance(whole[0], Start) and isinstance(whole[-1], Finish)
    for i in range(1, len(STREAM_BYTES)):
        assert _decode_bytes([STREAM_BYTES[:i], STREAM_BYTES[i:]]) == whole, i


def test_folded_stream_matches_the_unary_decode() -> None:
    folded = fold(_decode_bytes([STREAM_BYTES]))
    unary = g.gemini_to_ir_response(_chunk(
        [{"text": "Réflexion 🤔", "thought": True}, {"text": "Voilà: ça marche ✅"},
         {"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}},
          "thoughtSignature": SIG}], "STOP",
        {"promptTokenCount": 9, "candidatesTokenCount": 12, "thoughtsTokenCount": 30,
         "totalTokenCount": 51}))
    assert folded.parts == unary.parts
    assert folded.usage == unary.usage
    assert folded.finish_reason == unary.finish_reason == "tool_calls"


def test_signature_survives_a_dialect_without_a_field_for_it() -> None:
    """Gemini answer → IR → (an OpenAI chat client keeps only id, name, arguments) → next
    request → Gemini gets the call back with its thoughtSignature."""
    resp = g.gemini_to_ir_response(_chunk(
        [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
          "thoughtSignature": SIG}], "STOP"))
    call = resp.parts[0]
    assert isinstance(call, ToolCallPart)
    as_seen_by_client = ToolCallPart(call.id, call.name, call.arguments)  # meta lost
    ir = IRRequest(model="m", messages=[
        Message("user", [TextPart("Weather in Oslo?")]),
        Message("assistant", [as_seen_by_client]),
        Message("tool", [ToolResultPart(call.id, [TextPart("snow")])]),
    ])
    body = g.ir_to_gemini_request(ir, "gemini-3-pro-preview")
    model_turn = body["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == SIG
    assert "id" not in model_turn["parts"][0]["functionCall"]
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"


def test_foreign_reasoning_signature_survives_a_gemini_client() -> None:
    resp = IRResponse(id="msg_1", model="claude", finish_reason="tool_calls", parts=[
        ReasoningPart("Need the weather.", signature="EqQBCkgIAR", signature_format="anthropic"),
        ToolCallPart("toolu_01A0", "get_weather", '{"city":"Oslo"}'),
    ])
    body = g.ir_to_gemini_response(resp, "ep")
    history = {"contents": [{"role": "user", "parts": [{"text": "Weather?"}]},
                            body["candidates"][0]["content"],
                            {"role": "user", "parts": [{"functionResponse": {
                                "name": "get_weather", "response": {"output": "snow"}}}]}]}
    ir = g.gemini_to_ir_request(history, "ep", False)
    reasoning, tool_call = ir.messages[1].parts
    assert reasoning == ReasoningPart("Need the weather.", signature="EqQBCkgIAR",
                                      signature_format="anthropic")
    assert isinstance(tool_call, ToolCallPart) and tool_call.id == "toolu_01A0"
    result = ir.messages[2].parts[0]
    assert isinstance(result, ToolResultPart) and result.tool_call_id == "toolu_01A0"


@pytest.mark.parametrize("size", [1, 2, 3, 31, 64, 500])
def test_id_signature_round_trip(size: int) -> None:
    sig = base64.b64encode(os.urandom(size)).decode()
    call_id = id_with_signature("call_abc_0", sig)
    assert all(c.isalnum() or c in "_-" for c in call_id)  # Anthropic's id pattern
    assert split_id_signature(call_id) == ("call_abc_0", sig)
    assert split_id_signature("call_abc_0") == ("call_abc_0", None)


def test_packed_signature_round_trip_and_real_ones_untouched() -> None:
    packed = pack_signature("openai_responses", "gAAAAABo…", None)
    assert unpack_signature(packed) == ("openai_responses", "gAAAAABo…", None)
    assert unpack_signature(SIG) is None


def test_stream_encoder_output_read_back_by_the_decoder() -> None:
    events = [Start("chatcmpl-1", "gpt-4o"), ReasoningDelta(0, "Hmm"),
              TextDelta(1, "Hi "), TextDelta(1, "there"),
              ToolCallDelta(2, "call_1", "f", '{"a"'), ToolCallDelta(2, arguments=": 1}"),
              Finish("tool_calls"), UsageEvent(Usage(input_tokens=3, output_tokens=7))]
    enc = g.GeminiStreamEncoder("ep")
    raw = b"".join(enc.encode(e) for e in events) + enc.close()
    back = fold(_decode_bytes([raw]))
    assert back.parts[1] == TextPart("Hi there")
    call = back.parts[2]
    assert isinstance(call, ToolCallPart) and call.id == "call_1"
    assert orjson.loads(call.arguments) == {"a": 1}
    assert back.finish_reason == "tool_calls"
    assert back.usage == Usage(input_tokens=3, output_tokens=7)


def test_json_array_stream_is_one_json_document() -> None:
    enc = g.GeminiStreamEncoder("ep", sse=False)
    raw = b"".join(enc.encode(e) for e in [Start("r", "m"), TextDelta(0, "a"), TextDelta(0, "b"),
                                            Finish("stop")]) + enc.close()
    doc = orjson.loads(raw)
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in doc] == ["a", "b", ""]
    assert enc.close() == b"" and enc.encode(TextDelta(0, "late")) == b""


@pytest.mark.parametrize("body", [
    [], {"contents": "hi"}, {"contents": [5]}, {"contents": [{"parts": {"text": "x"}}]},
    {"contents": [{"parts": [{"inlineData": {"data": "x"}}]}]},
    {"contents": [{"parts": [{"text": "x"}]}], "tools": {"functionDeclarations": []}},
    {"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{}]}]},
    {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"stopSequences": "END"}},
    {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 1.5}},
    {"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": 1}},
    {"contents": [{"parts": [{"text": "x"}]}],
     "generationConfig": {"responseSchema": {"type": "OBJECT", "properties": []}}},
])
def test_malformed_bodies_raise_invalid_request(body: Any) -> None:
    with pytest.raises(InvalidRequest):
        g.gemini_to_ir_request(body, "m", False)


def test_upstream_error_parser_never_raises() -> None:
    for raw in (b"", b"null", b"[]", b"[1]", b'{"error": 5}', b"\xff\xfe", b'{"error": {}}'):
        message, kind = g.gemini_upstream_error(500, raw)
        assert message and kind is None


def test_official_sdk_reads_the_encoded_response() -> None:
    types = pytest.importorskip("google.genai.types")
    resp = IRResponse(id="chatcmpl-1", model="gpt-4o", finish_reason="tool_calls",
                      usage=Usage(input_tokens=10, output_tokens=25, reasoning_tokens=20),
                      parts=[ReasoningPart("Thinking."), TextPart("Checking."),
                             ToolCallPart("call_1", "get_weather", '{"city": "Oslo"}')])
    sdk = types.GenerateContentResponse.model_validate(g.ir_to_gemini_response(resp, "ep"))
    assert sdk.text == "Checking."
    assert sdk.function_calls[0].name == "get_weather"
    assert sdk.function_calls[0].args == {"city": "Oslo"}
    assert sdk.candidates[0].finish_reason == types.FinishReason.STOP
    assert sdk.usage_metadata.thoughts_token_count == 20
    assert sdk.usage_metadata.candidates_token_count == 5


def test_error_in_stream_is_a_gemini_error_chunk() -> None:
    enc = g.GeminiStreamEncoder("ep")
    raw = enc.error(GatewayError("boom"))
    (event,) = SSEDecoder().feed(raw)
    assert orjson.loads(event.data) == {"error": {"code": 500, "message": "boom",
                                                  "status": "INTERNAL"}}
    assert enc.close() == b""
