"""Runs every golden vector under tests/vectors/gemini (one file per translation rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.unit.codecs.vectors import Op, check, files
from unigate import errors
from unigate.codecs import gemini as g
from unigate.ir.request import EmbedRequest, EmbedResponse, IRRequest
from unigate.ir.response import IRResponse
from unigate.ir.serde import from_dict, to_dict
from unigate.sse import SSEDecoder, SSEEvent

FILES = files("gemini")
DEFAULT_MODEL = "gemini-2.5-flash"


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


def _model(v: dict[str, Any]) -> str:
    return str(v.get("model", DEFAULT_MODEL))


def _encode_stream_events(v: dict[str, Any]) -> Any:
    raw = _encode_stream(v)
    if "expected_raw" in v:
        return raw.decode()
    dec = SSEDecoder()
    return [{"data": orjson.loads(e.data)} for e in dec.feed(raw) + dec.close()]


def _stream_usage(v: dict[str, Any]) -> Any:
    data = v["data"] if isinstance(v["data"], str) else orjson.dumps(v["data"]).decode()
    return to_dict(g.gemini_stream_usage(SSEEvent(data)))


OPS: dict[str, Op] = {
    "decode_request": lambda v: to_dict(g.gemini_to_ir_request(v["input"], _model(v), v.get("stream", False))),
    "encode_request": lambda v: g.ir_to_gemini_request(from_dict(IRRequest, v["ir"]), _model(v)),
    "decode_response": lambda v: to_dict(g.gemini_to_ir_response(v["input"])),
    "encode_response": lambda v: g.ir_to_gemini_response(from_dict(IRResponse, v["ir"]), _model(v)),
    "decode_stream": lambda v: to_dict(_decode_stream(v)),
    "encode_stream": _encode_stream_events,
    "error_body": lambda v: g.gemini_error_body(_make_error(v["error"])),
    "upstream_error": lambda v: list(g.gemini_upstream_error(v["status"], v["body"].encode())),
    "usage": lambda v: to_dict(g.gemini_usage(v["input"])),
    "stream_usage": _stream_usage,
    "decode_embed": lambda v: to_dict(g.gemini_embed_to_ir(v["input"], _model(v))),
    "decode_batch_embed": lambda v: to_dict(g.gemini_batch_embed_to_ir(v["input"], _model(v))),
    "encode_embed": lambda v: g.ir_to_gemini_embed_request(from_dict(EmbedRequest, v["ir"]), _model(v)),
    "decode_embed_response": lambda v: to_dict(g.gemini_embed_to_ir_response(v["input"])),
    "encode_embed_response": lambda v: g.ir_to_gemini_embed_response(from_dict(EmbedResponse, v["ir"]), v["batch"]),
    "decode_count_tokens": lambda v: to_dict(g.gemini_count_tokens_to_ir(v["input"], _model(v))),
    "encode_count_tokens": lambda v: g.ir_to_gemini_count_tokens_request(from_dict(IRRequest, v["ir"]),
                                                                         _model(v)),
    "count_tokens_response": lambda v: g.gemini_count_tokens_response(v["input"]),
}


def _run(v: dict[str, Any]) -> Any:
    """The operation a vector names, applied to its input (used by tools that write vectors)."""
    return OPS[v["kind"] if v["kind"] != "error" else v["op"]](v)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    check(path, OPS)


def test_there_are_vectors() -> None:
    assert len(FILES) > 50
