"""Runs every golden vector under tests/vectors/anthropic (one file per translation rule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate import errors
from unigate.codecs import anthropic as an
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

VECTORS = Path(__file__).parents[2] / "vectors" / "anthropic"
FILES = sorted(VECTORS.glob("*.json"))


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


def _run_error(v: dict[str, Any]) -> None:
    direction = v["direction"]
    if direction == "decode_request":
        an.anthropic_to_ir_request(v["input"])
    elif direction == "encode_request":
        an.ir_to_anthropic_request(from_dict("IRRequest", v["ir"]), v["model"])
    elif direction == "decode_response":
        an.anthropic_to_ir_response(v["input"])
    elif direction == "encode_response":
        an.ir_to_anthropic_response(from_dict("IRResponse", v["ir"]), v["model"])
    elif direction == "decode_stream":
        _feed_events(v["events"])
    else:
        raise AssertionError(f"unknown direction {direction}")


def _make_error(case: dict[str, Any]) -> errors.GatewayError:
    cls = getattr(errors, case["error"])
    if cls is errors.UpstreamError:
        return errors.UpstreamError(case["status"], case["message"],
                                    upstream_type=case.get("upstream_type"))
    return cls(case["message"])  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    kind = v["kind"]
    if kind == "decode_request":
        ir = an.anthropic_to_ir_request(v["input"])
        assert to_dict(ir) == v["ir"]
        if "roundtrip" in v:
            assert an.ir_to_anthropic_request(ir, v["input"]["model"]) == v["roundtrip"]
    elif kind == "encode_request":
        ir = from_dict("IRRequest", v["ir"])
        got = an.ir_to_anthropic_request(ir, v["model"], **v.get("options", {}))
        assert got == v["expected"]
    elif kind == "decode_response":
        assert to_dict(an.anthropic_to_ir_response(v["input"])) == v["ir"]
    elif kind == "encode_response":
        resp = from_dict("IRResponse", v["ir"])
        assert an.ir_to_anthropic_response(resp, v["model"]) == v["expected"]
    elif kind == "decode_stream":
        assert to_dict(_feed_events(v["events"])) == v["ir_events"]
    elif kind == "encode_stream":
        assert _encode_stream(v["model"], v["ir_events"]) == v["expected_events"]
    elif kind == "decode_count_tokens":
        assert to_dict(an.anthropic_count_tokens_to_ir(v["input"])) == v["ir"]
    elif kind == "encode_count_tokens":
        ir = from_dict("IRRequest", v["ir"])
        assert an.ir_to_anthropic_count_tokens_request(ir, v["model"]) == v["expected"]
    elif kind == "upstream_error":
        got = an.anthropic_upstream_error(v["status"], v["body"].encode())
        assert list(got) == v["expected"]
    elif kind == "error_body":
        for case in v["cases"]:
            assert an.anthropic_error_body(_make_error(case)) == case["expected"], case
    elif kind == "error":
        expected = getattr(errors, v.get("error_type", "GatewayError"))
        with pytest.raises(expected) as info:
            _run_error(v)
        assert v["error_contains"] in info.value.message
        if "status" in v:
            assert info.value.status == v["status"]
    else:
        raise AssertionError(f"unknown vector kind {kind}")
