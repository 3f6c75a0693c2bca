"""Runs every golden vector in tests/vectors/openai_chat/ (one file per translation rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate import errors
from unigate.codecs.openai_chat import (
    OpenAIChatStreamDecoder,
    OpenAIChatStreamEncoder,
    ir_to_openai_chat_request,
    ir_to_openai_chat_response,
    openai_chat_error_body,
    openai_chat_to_ir_request,
    openai_chat_to_ir_response,
    openai_chat_upstream_error,
    openai_chat_usage,
)
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

VECTORS = Path(__file__).parents[2] / "vectors" / "openai_chat"
FILES = sorted(VECTORS.glob("*.json"))


def _sse_json(raw: bytes) -> list[dict[str, Any]]:
    """Encoder output → [{"event": ..., "data": parsed JSON or "[DONE]"}]."""
    dec = SSEDecoder()
    events = dec.feed(raw) + dec.close()
    return [{"event": e.event, "data": e.data if e.data == "[DONE]" else orjson.loads(e.data)}
            for e in events]


def _events(raw: list[dict[str, Any]]) -> list[SSEEvent]:
    return [SSEEvent(e["data"] if isinstance(e["data"], str) else orjson.dumps(e["data"]).decode(),
                     e.get("event")) for e in raw]


def _decode_stream(events: list[SSEEvent]) -> list[Any]:
    dec = OpenAIChatStreamDecoder()
    out = [ev for e in events for ev in dec.feed(e)]
    return out + dec.close()


def _encode_stream(v: dict[str, Any]) -> bytes:
    enc = OpenAIChatStreamEncoder(v["model"], include_usage=v.get("include_usage", False))
    out = b"".join(enc.encode(from_dict(e["type"], e)) for e in v["ir_events"])
    if v.get("error"):
        return out + enc.error(_error(v["error"]))
    return out + enc.close()


def _error(spec: dict[str, Any]) -> errors.GatewayError:
    cls = getattr(errors, spec["class"])
    return cls(*spec.get("args", []), **spec.get("kwargs", {}))


def _run(v: dict[str, Any]) -> Any:
    """Runs the stage a vector names (for "error" vectors: the stage that must fail)."""
    stage = v.get("stage", v["kind"])
    if stage == "decode_request":
        return to_dict(openai_chat_to_ir_request(v["input"]))
    if stage == "encode_request":
        return ir_to_openai_chat_request(from_dict("IRRequest", v["ir"]), v["model"], **v.get("options", {}))
    if stage == "decode_response":
        return to_dict(openai_chat_to_ir_response(v["input"]))
    if stage == "encode_response":
        return ir_to_openai_chat_response(from_dict("IRResponse", v["ir"]), v["model"])
    if stage == "decode_stream":
        return [to_dict(e) for e in _decode_stream(_events(v["events"]))]
    if stage == "encode_stream":
        return _sse_json(_encode_stream(v))
    if stage == "error_body":
        return openai_chat_error_body(_error(v["error"]))
    if stage == "upstream_error":
        body = v["body"] if isinstance(v["body"], str) else orjson.dumps(v["body"]).decode()
        return list(openai_chat_upstream_error(v["status"], body.encode()))
    if stage == "usage":
        return to_dict(openai_chat_usage(v["input"]))
    raise AssertionError(f"unknown vector kind {stage}")


_EXPECTED = {"decode_request": "ir", "encode_request": "expected", "decode_response": "ir",
             "encode_response": "expected", "decode_stream": "ir_events",
             "encode_stream": "expected_events", "error_body": "expected",
             "upstream_error": "expected", "usage": "expected"}


def test_vectors_exist() -> None:
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    v = orjson.loads(path.read_bytes())
    if v["kind"] == "error":
        cls = getattr(errors, v.get("error_type", "GatewayError"))
        with pytest.raises(cls) as info:
            _run(v)
        assert v["error_contains"] in info.value.message
        if "status" in v:
            assert info.value.status == v["status"]
        return
    assert _run(v) == v[_EXPECTED[v["kind"]]]
