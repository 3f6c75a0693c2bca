"""Runs every golden vector under tests/vectors/openai_responses/ (one file per rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate import errors
from unigate.codecs.openai_responses import (
    OpenAIResponsesStreamDecoder,
    OpenAIResponsesStreamEncoder,
    ir_to_openai_responses_request,
    ir_to_openai_responses_response,
    openai_responses_error_body,
    openai_responses_stream_usage,
    openai_responses_to_ir_request,
    openai_responses_to_ir_response,
    openai_responses_upstream_error,
    openai_responses_usage,
)
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

VECTORS = Path(__file__).parents[2] / "vectors" / "openai_responses"
FILES = sorted(VECTORS.glob("*.json"))


def _request(vector: dict[str, Any]) -> Any:
    return from_dict("IRRequest", vector["request"]) if "request" in vector else None


def _decode_stream(events: list[dict[str, Any]]) -> list[Any]:
    decoder = OpenAIResponsesStreamDecoder()
    out: list[Any] = []
    for ev in events:
        data = ev["data"] if isinstance(ev["data"], str) else orjson.dumps(ev["data"]).decode()
        out.extend(decoder.feed(SSEEvent(data, ev.get("event"))))
    out.extend(decoder.close())
    return out


def _encode_stream(vector: dict[str, Any]) -> list[dict[str, Any]]:
    encoder = OpenAIResponsesStreamEncoder(vector["model"], request=_request(vector))
    raw = b"".join(encoder.encode(from_dict(e["type"], e)) for e in vector["ir_events"])
    if "error" in vector:
        err = getattr(errors, vector["error"]["class"])(vector["error"]["message"])
        raw += encoder.error(err)
    raw += encoder.close()
    sse = SSEDecoder()
    events = sse.feed(raw) + sse.close()
    return [{"event": e.event, "data": orjson.loads(e.data)} for e in events]


def _run(vector: dict[str, Any]) -> Any:
    kind = vector["kind"]
    if kind == "decode_request":
        return to_dict(openai_responses_to_ir_request(vector["input"]))
    if kind == "encode_request":
        return ir_to_openai_responses_request(from_dict("IRRequest", vector["ir"]), vector["model"])
    if kind == "decode_response":
        return to_dict(openai_responses_to_ir_response(vector["input"]))
    if kind == "encode_response":
        resp = from_dict("IRResponse", vector["ir"])
        return ir_to_openai_responses_response(resp, vector["model"], request=_request(vector))
    if kind == "decode_stream":
        return to_dict(_decode_stream(vector["events"]))
    if kind == "encode_stream":
        return _encode_stream(vector)
    if kind == "error_body":
        err = getattr(errors, vector["error"]["class"])(*vector["error"]["args"])
        return openai_responses_error_body(err)
    if kind == "upstream_error":
        return list(openai_responses_upstream_error(vector["status"], vector["body"].encode()))
    if kind == "usage":
        return to_dict(openai_responses_usage(vector["input"]))
    if kind == "stream_usage":
        ev = vector["event"]
        return to_dict(openai_responses_stream_usage(SSEEvent(ev["data"], ev.get("event"))))
    raise AssertionError(f"unknown vector kind {kind}")


_EXPECTED = {"decode_request": "ir", "decode_response": "ir", "decode_stream": "ir_events",
             "encode_stream": "expected_events"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    vector = orjson.loads(path.read_bytes())
    if "error_contains" in vector:
        call = dict(vector, kind=vector.get("call", "decode_request"))
        with pytest.raises(errors.GatewayError) as info:
            _run(call)
        assert vector["error_contains"] in info.value.message
        assert type(info.value).__name__ == vector.get("error_type", "InvalidRequest")
        if "error_status" in vector:
            assert info.value.status == vector["error_status"]
        return
    assert _run(vector) == vector[_EXPECTED.get(vector["kind"], "expected")]


def test_there_are_vectors() -> None:
    assert len(FILES) > 50
