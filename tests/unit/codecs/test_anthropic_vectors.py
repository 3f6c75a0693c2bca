"""Runs every golden vector under tests/vectors/anthropic (one file per translation rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.codecs.vectors import CHECKED, Op, check, files
from unigate import errors
from unigate.codecs import anthropic as an
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

FILES = files("anthropic")


def _feed_events(events: list[dict[str, Any]]) -> list[Any]:
    dec = an.AnthropicStreamDecoder()
    out = []
    for e in events:
        out.extend(dec.feed(SSEEvent(orjson.dumps(e["data"]).decode(), e["event"])))
    out.extend(dec.close())
    return out


def _encode_stream(model: str, ir_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    enc = an.AnthropicStreamEncoder(model)
    raw = b"".join(enc.encode(from_dict("Start", e)) for e in ir_events) + enc.close()
    return [{"event": e.event, "data": orjson.loads(e.data)} for e in SSEDecoder().feed(raw)]


def _make_error(case: dict[str, Any]) -> errors.GatewayError:
    cls = getattr(errors, case["error"])
    if cls is errors.UpstreamError:
        return errors.UpstreamError(case["status"], case["message"],
                                    upstream_type=case.get("upstream_type"))
    return cls(case["message"])  # type: ignore[no-any-return]


def _decode_request(v: dict[str, Any]) -> Any:
    ir = an.anthropic_to_ir_request(v["input"])
    if "roundtrip" in v:
        assert an.ir_to_anthropic_request(ir, v["input"]["model"]) == v["roundtrip"]
    return to_dict(ir)


def _error_bodies(v: dict[str, Any]) -> object:
    for case in v["cases"]:
        assert an.anthropic_error_body(_make_error(case)) == case["expected"], case
    return CHECKED


OPS: dict[str, Op] = {
    "decode_request": _decode_request,
    "encode_request": lambda v: an.ir_to_anthropic_request(from_dict("IRRequest", v["ir"]), v["model"],
                                                           **v.get("options", {})),
    "decode_response": lambda v: to_dict(an.anthropic_to_ir_response(v["input"])),
    "encode_response": lambda v: an.ir_to_anthropic_response(from_dict("IRResponse", v["ir"]), v["model"]),
    "decode_stream": lambda v: to_dict(_feed_events(v["events"])),
    "encode_stream": lambda v: _encode_stream(v["model"], v["ir_events"]),
    "decode_count_tokens": lambda v: to_dict(an.anthropic_count_tokens_to_ir(v["input"])),
    "encode_count_tokens": lambda v: an.ir_to_anthropic_count_tokens_request(from_dict("IRRequest", v["ir"]),
                                                                             v["model"]),
    "upstream_error": lambda v: list(an.anthropic_upstream_error(v["status"], v["body"].encode())),
    "error_body": _error_bodies,
}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    check(path, OPS)
