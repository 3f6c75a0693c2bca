"""The one golden-vector runner. Each format's test module gives a table of operations
(`kind` → a function of the vector), and `check` runs a vector against it.

A vector is one JSON file in tests/vectors/<format>/, named for the rule it guards:
  {"kind": "<op>", ...inputs..., "<expected key>": ...}    the op's result must equal it
  {"kind": "error", "op": "<op>", ...inputs..., "raises": "InvalidRequest",
   "error_contains": "text", "status": 400}               the op must raise that error
The expected key is "ir" for decoders, "ir_events" for stream decoders, "expected_events" for
stream encoders, "expected" for everything else ("expected_raw" for exact bytes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from unigate import errors

ROOT = Path(__file__).parents[2] / "vectors"
Op = Callable[[dict[str, Any]], Any]
CHECKED = object()  # an op that compared its results itself (several cases in one vector)


def files(fmt: str) -> list[Path]:
    return sorted((ROOT / fmt).glob("*.json"))


def expected_key(kind: str) -> str:
    if kind == "decode_stream":
        return "ir_events"
    if kind == "encode_stream":
        return "expected_events"
    return "ir" if kind.startswith("decode_") else "expected"


def check(path: Path, ops: Mapping[str, Op]) -> None:
    v: dict[str, Any] = orjson.loads(path.read_bytes())
    if v["kind"] == "error":
        with pytest.raises(errors.GatewayError) as info:
            ops[v["op"]](v)
        assert type(info.value).__name__ == v["raises"], info.value
        assert v["error_contains"] in info.value.message
        if "status" in v:
            assert info.value.status == v["status"]
        return
    got = ops[v["kind"]](v)
    if got is CHECKED:
        return
    if "expected_raw" in v:
        assert got == v["expected_raw"]
        return
    assert got == v[expected_key(v["kind"])]
