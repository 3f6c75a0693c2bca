"""OpenAI embeddings codec: golden vectors in tests/vectors/openai_embeddings/, plus the
official SDK's base64 decoder reading what the gateway writes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from openai import omit
from openai.lib._parsing._embeddings import parse_embedding_response
from openai.types import CreateEmbeddingResponse

from tests.unit.codecs.vectors import Op, check, files
from unigate.codecs.openai_embeddings import (
    ir_to_openai_embeddings_request,
    ir_to_openai_embeddings_response,
    openai_embeddings_to_ir_request,
    openai_embeddings_to_ir_response,
    openai_embeddings_usage,
    vector_to_base64,
)
from unigate.ir.request import EmbedResponse
from unigate.ir.serde import from_dict, to_dict

OPS: dict[str, Op] = {
    "decode_request": lambda v: to_dict(openai_embeddings_to_ir_request(v["input"])),
    "encode_request": lambda v: ir_to_openai_embeddings_request(from_dict("EmbedRequest", v["ir"]), v["model"],
                                                                **v.get("options", {})),
    "decode_response": lambda v: to_dict(openai_embeddings_to_ir_response(v["input"])),
    "encode_response": lambda v: ir_to_openai_embeddings_response(from_dict("EmbedResponse", v["ir"]), v["model"],
                                                                  v.get("encoding_format")),
    "usage": lambda v: to_dict(openai_embeddings_usage(v["input"])),
}
FILES = files("openai_embeddings")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    check(path, OPS)


def test_official_sdk_decodes_base64_output() -> None:
    vectors = [[0.1, -0.2, 3.5e-7, 1e30], [0.0, -0.0, 42.0, -1.5]]
    body = ir_to_openai_embeddings_response(EmbedResponse("m", vectors, 3), "ep", "base64")
    # the SDK builds responses without validation (construct), then decodes base64
    parsed = parse_embedding_response(CreateEmbeddingResponse.construct(**body), encoding_format=omit)
    expected = [list(struct.unpack("<4f", struct.pack("<4f", *v))) for v in vectors]
    assert [e.embedding for e in parsed.data] == expected


def test_base64_round_trip_is_exact_for_float32() -> None:
    values = list(struct.unpack("<3f", struct.pack("<3f", 0.3, -7.25, 1e-3)))
    body = {"data": [{"index": 0, "embedding": vector_to_base64(values)}], "model": "m"}
    assert openai_embeddings_to_ir_response(body).vectors == [values]


def test_usage_missing_is_none() -> None:
    assert openai_embeddings_usage({"data": []}) is None
