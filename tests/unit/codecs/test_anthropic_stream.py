"""Anthropic streams beyond the golden vectors: byte splits, encoder→decoder round trips,
fold against the unary response, the official SDK's accumulator, and fast-path usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message

from unigate.codecs import anthropic as an
from unigate.errors import RateLimited, UpstreamBadResponse
from unigate.ir import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from unigate.ir.fold import fold
from unigate.ir.serde import to_dict
from unigate.sse import SSEDecoder, SSEEvent

MODEL = "claude-sonnet-4-5-20250929"
SIG = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"

_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "content": [], "model": MODEL,
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 0, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "thinking_delta", "thinking": "Température: 20 °C → ok ✓"}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "signature_delta", "signature": SIG}},
    {"type": "content_block_stop", "index": 0},
    {"type": "ping"},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Il fait "}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "beau ☀️."}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
        "input": {}}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Zürich\"}"}},
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 89}},
    {"type": "message_stop"},
]


def _wire(events: list[dict[str, Any]], newline: bytes = b"\r\n") -> bytes:
    out = b""
    for e in events:
        out += b"event: " + e["type"].encode() + newline + b"data: " + orjson.dumps(e) + newline
        out += newline
    return out


def _decode_bytes(chunks: list[bytes]) -> list[StreamEvent]:
    sse, dec = SSEDecoder(), an.AnthropicStreamDecoder()
    out: list[StreamEvent] = []
    for chunk in chunks:
        for ev in sse.feed(chunk):
            out.extend(dec.feed(ev))
    for ev in sse.close():
        out.extend(dec.feed(ev))
    return out + dec.close()


def test_decode_survives_every_split_point() -> None:
    raw = _wire(_EVENTS)
    whole = to_dict(_decode_bytes([raw]))
    assert whole[0] == {"type": "Start", "id": "msg_01", "model": MODEL}
    for cut in range(1, len(raw)):
        assert to_dict(_decode_bytes([raw[:cut], raw[cut:]])) == whole, cut


def test_decode_byte_by_byte_lf_only() -> None:
    raw = _wire(_EVENTS, b"\n")
    assert to_dict(_decode_bytes([raw[i:i + 1] for i in range(len(raw))])) == \
        to_dict(_decode_bytes([raw]))


def test_fold_of_stream_matches_unary_response() -> None:
    streamed = fold(_decode_bytes([_wire(_EVENTS)]))
    unary = an.anthropic_to_ir_response({
        "id": "msg_01", "type": "message", "role": "assistant", "model": MODEL,
        "content": [
            {"type": "thinking", "thinking": "Température: 20 °C → ok ✓", "signature": SIG},
            {"type": "text", "text": "Il fait beau ☀️."},
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
             "input": {"city": "Zürich"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 0, "output_tokens": 89}})
    # The unary path re-serialises tool input compactly; the stream keeps the model's text.
    for part in unary.parts + streamed.parts:
        if hasattr(part, "arguments"):
            part.arguments = orjson.dumps(orjson.loads(part.arguments)).decode()
    assert to_dict(streamed) == to_dict(unary)


def _encode(events: list[StreamEvent], model: str = "claude-proxy") -> bytes:
    enc = an.AnthropicStreamEncoder(model)
    return b"".join(enc.encode(e) for e in events) + enc.close()


_IR_STREAM: list[StreamEvent] = [
    Start("chatcmpl-1", "gpt-4o"),
    UsageEvent(Usage(input_tokens=110, cache_read_tokens=100)),
    ReasoningDelta(0, "thinking…"),
    ReasoningDelta(0, signature=SIG, signature_format="anthropic"),
    TextDelta(1, "Hello "),
    TextDelta(1, "there"),
    ToolCallDelta(2, id="call_1", name="lookup", arguments='{"q": '),
    ToolCallDelta(2, arguments='"x"}'),
    ToolCallDelta(3, id="call_2", name="lookup", arguments='{"q": "y"}'),
    Finish("tool_calls"),
    UsageEvent(Usage(input_tokens=110, output_tokens=42, cache_read_tokens=100)),
]


def test_encoder_output_decodes_back_to_the_same_response() -> None:
    raw = _encode(_IR_STREAM)
    back = fold(_decode_bytes([raw]))
    original = fold(list(_IR_STREAM))
    original.model = "claude-proxy"
    assert to_dict(back) == to_dict(original)


def test_encoder_output_accumulates_in_the_official_sdk() -> None:
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for ev in SSEDecoder().feed(_encode(_IR_STREAM)):
        assert ev.event == orjson.loads(ev.data)["type"]
        snapshot = accumulate_event(event=orjson.loads(ev.data), current_snapshot=snapshot,
                                    json_bufs=json_bufs)
    assert snapshot is not None
    msg = Message.model_validate(snapshot.to_dict())
    assert msg.stop_reason == "tool_use"
    assert msg.usage.output_tokens == 42
    assert msg.usage.input_tokens == 10 and msg.usage.cache_read_input_tokens == 100
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert msg.content[2].input == {"q": "x"}  # type: ignore[union-attr]


def test_unary_response_validates_as_sdk_message() -> None:
    resp = fold(list(_IR_STREAM))
    body = an.ir_to_anthropic_response(resp, "claude-proxy")
    msg = Message.model_validate(body)
    assert msg.model == "claude-proxy" and msg.stop_reason == "tool_use"


def test_encoder_generates_ids_and_starts_without_start_event() -> None:
    events = SSEDecoder().feed(_encode([TextDelta(0, "x"), ToolCallDelta(1, name="f")]))
    start = orjson.loads(events[0].data)
    assert start["message"]["id"].startswith("msg_")
    tool = orjson.loads(events[4].data)
    assert tool["content_block"]["id"].startswith("toolu_")


def test_encoder_error_event() -> None:
    enc = an.AnthropicStreamEncoder("claude-proxy")
    raw = enc.error(RateLimited("slow down"))
    [ev] = SSEDecoder().feed(raw)
    assert ev.event == "error"
    assert orjson.loads(ev.data) == {"type": "error", "error": {"type": "rate_limit_error",
                                                                "message": "slow down"}}


def test_decoder_rejects_non_json() -> None:
    with pytest.raises(UpstreamBadResponse):
        an.AnthropicStreamDecoder().feed(SSEEvent("not json", "message_start"))


def test_fast_path_usage() -> None:
    events = [SSEEvent(orjson.dumps(e).decode(), e["type"]) for e in _EVENTS]
    usages = [u for e in events if (u := an.anthropic_stream_usage(e)) is not None]
    assert usages == [
        Usage(input_tokens=110, output_tokens=1, cache_read_tokens=100, cache_creation_tokens=0),
        Usage(output_tokens=89),
    ]
    total = Usage()
    for u in usages:
        total.merge(u)
    assert total.input_tokens == 110 and total.output_tokens == 89
    body = {"usage": {"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 5}}
    assert an.anthropic_usage(body) == Usage(input_tokens=8, output_tokens=4,
                                             cache_creation_tokens=5)
    assert an.anthropic_usage({}) is None


def test_count_tokens_response_shapes() -> None:
    assert an.anthropic_count_tokens_response(2095) == {"input_tokens": 2095}
