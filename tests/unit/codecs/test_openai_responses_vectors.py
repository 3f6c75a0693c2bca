"""Runs every golden vector under tests/vectors/openai_responses/ (one file per rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.codecs.vectors import Op, check, files
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


def _error_body(vector: dict[str, Any]) -> Any:
    err = getattr(errors, vector["error"]["class"])(*vector["error"]["args"])
    return openai_responses_error_body(err)


def _stream_usage(vector: dict[str, Any]) -> Any:
    ev = vector["event"]
    return to_dict(openai_responses_stream_usage(SSEEvent(ev["data"], ev.get("event"))))


OPS: dict[str, Op] = {
    "decode_request": lambda v: to_dict(openai_responses_to_ir_request(v["input"])),
    "encode_request": lambda v: ir_to_openai_responses_request(from_dict("IRRequest", v["ir"]), v["model"]),
    "decode_response": lambda v: to_dict(openai_responses_to_ir_response(v["input"])),
    "encode_response": lambda v: ir_to_openai_responses_response(from_dict("IRResponse", v["ir"]), v["model"],
                                                                 request=_request(v)),
    "decode_stream": lambda v: to_dict(_decode_stream(v["events"])),
    "encode_stream": _encode_stream,
    "error_body": _error_body,
    "upstream_error": lambda v: list(openai_responses_upstream_error(v["status"], v["body"].encode())),
    "usage": lambda v: to_dict(openai_responses_usage(v["input"])),
    "stream_usage": _stream_usage,
}
FILES = files("openai_responses")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    check(path, OPS)


def test_there_are_vectors() -> None:
    assert len(FILES) > 50
