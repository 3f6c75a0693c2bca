"""Runs every golden vector in tests/vectors/openai_chat/ (one file per translation rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.codecs.vectors import Op, check, files
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


def _upstream_error(v: dict[str, Any]) -> list[Any]:
    body = v["body"] if isinstance(v["body"], str) else orjson.dumps(v["body"]).decode()
    return list(openai_chat_upstream_error(v["status"], body.encode()))


OPS: dict[str, Op] = {
    "decode_request": lambda v: to_dict(openai_chat_to_ir_request(v["input"])),
    "encode_request": lambda v: ir_to_openai_chat_request(from_dict("IRRequest", v["ir"]), v["model"],
                                                          **v.get("options", {})),
    "decode_response": lambda v: to_dict(openai_chat_to_ir_response(v["input"])),
    "encode_response": lambda v: ir_to_openai_chat_response(from_dict("IRResponse", v["ir"]), v["model"]),
    "decode_stream": lambda v: [to_dict(e) for e in _decode_stream(_events(v["events"]))],
    "encode_stream": lambda v: _sse_json(_encode_stream(v)),
    "error_body": lambda v: openai_chat_error_body(_error(v["error"])),
    "upstream_error": _upstream_error,
    "usage": lambda v: to_dict(openai_chat_usage(v["input"])),
}
FILES = files("openai_chat")


def test_vectors_exist() -> None:
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    check(path, OPS)
