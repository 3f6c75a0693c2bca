"""Runs every golden vector under tests/vectors/gemini (one file per translation rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate import errors
from unigate.codecs import gemini as g
from unigate.ir.request import EmbedRequest, EmbedResponse, IRRequest
from unigate.ir.response import IRResponse
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

VECTORS = Path(__file__).parents[2] / "vectors" / "gemini"
FILES = sorted(VECTORS.glob("*.json"))
DEFAULT_MODEL = "gemini-2.5-flash"


def _load(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())


def _make_error(spec: dict[str, Any]) -> errors.GatewayError:
    cls = getattr(errors, spec["class"])
    if cls is errors.UpstreamError:
        return cls(spec["status"], spec["message"], upstream_type=spec.get("upstream_type"))
    return cls(spec["message"], param=spec.get("param"))


def _decode_stream(v: dict[str, Any]) -> list[Any]:
    dec = g.GeminiStreamDecoder()
    out: list[Any] = []
    for ev in v["events"]:
        data = ev["data"] if isinstance(ev["data"], str) else orjson.dumps(ev["data"]).decode()
        out.extend(dec.feed(SSEEvent(data, ev.get("event"))))
    out.extend(dec.close())
    return out


def _encode_stream(v: dict[str, Any]) -> bytes:
    enc = g.GeminiStreamEncoder(v.get("model", DEFAULT_MODEL), sse=v.get("sse", True))
    raw = b"".join(enc.encode(from_dict(e["type"], e)) for e in v["ir_events"])
    if "error_after" in v:
        return raw + enc.error(_make_error(v["error_after"]))
    return raw + enc.close()


def _run(v: dict[str, Any]) -> Any:
    """The operation a vector names, applied to its input; returns comparable output."""
    kind = v["kind"] if v["kind"] != "error" else v["op"]
    model = v.get("model", DEFAULT_MODEL)
    if kind == "decode_request":
        return to_dict(g.gemini_to_ir_request(v["input"], model, v.get("stream", False)))
    if kind == "encode_request":
        return g.ir_to_gemini_request(from_dict(IRRequest, v["ir"]), model)
    if kind == "decode_response":
        return to_dict(g.gemini_to_ir_response(v["input"]))
    if kind == "encode_response":
        return g.ir_to_gemini_response(from_dict(IRResponse, v["ir"]), model)
    if kind == "decode_stream":
        return to_dict(_decode_stream(v))
    if kind == "encode_stream":
        raw = _encode_stream(v)
        if "expected_raw" in v:
            return raw.decode()
        dec = SSEDecoder()
        events = dec.feed(raw) + dec.close()
        return [{"data": orjson.loads(e.data)} for e in events]
    if kind == "error_body":
        return g.gemini_error_body(_make_error(v["error"]))
    if kind == "upstream_error":
        return list(g.gemini_upstream_error(v["status"], v["body"].encode()))
    if kind == "usage":
        return to_dict(g.gemini_usage(v["input"]))
    if kind == "stream_usage":
        data = v["data"] if isinstance(v["data"], str) else orjson.dumps(v["data"]).decode()
        return to_dict(g.gemini_stream_usage(SSEEvent(data)))
    if kind == "decode_embed":
        return to_dict(g.gemini_embed_to_ir(v["input"], model))
    if kind == "decode_batch_embed":
        return to_dict(g.gemini_batch_embed_to_ir(v["input"], model))
    if kind == "encode_embed":
        return g.ir_to_gemini_embed_request(from_dict(EmbedRequest, v["ir"]), model)
    if kind == "decode_embed_response":
        return to_dict(g.gemini_embed_to_ir_response(v["input"]))
    if kind == "encode_embed_response":
        return g.ir_to_gemini_embed_response(from_dict(EmbedResponse, v["ir"]), v["batch"])
    if kind == "decode_count_tokens":
        return to_dict(g.gemini_count_tokens_to_ir(v["input"], model))
    if kind == "encode_count_tokens":
        return g.ir_to_gemini_count_tokens_request(from_dict(IRRequest, v["ir"]), model)
    if kind == "count_tokens_response":
        return g.gemini_count_tokens_response(v["input"])
    raise AssertionError(f"unknown vector kind {kind!r}")


_EXPECTED_KEY = {
    "decode_request": "ir", "decode_response": "ir", "decode_stream": "ir_events",
    "decode_embed": "ir", "decode_batch_embed": "ir", "decode_embed_response": "ir",
    "decode_count_tokens": "ir",
}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    v = _load(path)
    if v["kind"] == "error":
        cls = getattr(errors, v.get("error", "GatewayError"))
        with pytest.raises(cls) as info:
            _run(v)
        assert v["error_contains"] in info.value.message
        return
    got = _run(v)
    if "expected_raw" in v:
        assert got == v["expected_raw"]
        return
    key = _EXPECTED_KEY.get(v["kind"], "expected_events" if v["kind"] == "encode_stream"
                            else "expected")
    assert got == v[key]


def test_there_are_vectors() -> None:
    assert len(FILES) > 50
