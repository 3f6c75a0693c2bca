"""OpenAI Embeddings (`POST /v1/embeddings`), both directions.

Vectors travel either as JSON float lists or, with encoding_format "base64", as base64 of
little-endian float32 (the official openai SDK asks for base64 by default and decodes it).
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from typing import Any, Literal, cast

from unigate.codecs.fields import bad
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamBadResponse
from unigate.ir.request import EmbedRequest, EmbedResponse
from unigate.ir.usage import Usage

_KNOWN = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
_LITTLE = sys.byteorder == "little"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def openai_embeddings_to_ir_request(body: dict[str, Any]) -> EmbedRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise bad("model", "is required and must be a string")
    req = EmbedRequest(model=model, inputs=_inputs_to_ir(body.get("input")))
    dims = body.get("dimensions")
    if dims is not None:
        if not _is_int(dims) or dims < 1:
            raise bad("dimensions", "must be a positive integer")
        req.dimensions = dims
    fmt = body.get("encoding_format")
    if fmt is not None:
        if fmt not in ("float", "base64"):
            raise bad("encoding_format", "must be 'float' or 'base64'")
        req.encoding_format = cast(Literal["float", "base64"], fmt)
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise bad("user", "must be a string")
        req.user = user
    for key, value in body.items():
        if key not in _KNOWN and value is not None:
            req.extra[key] = value  # the gateway refuses these by name
    return req


def _inputs_to_ir(value: Any) -> list[str | list[int]]:
    """string | list[str] | list[int] (one tokenised input) | list[list[int]]."""
    if isinstance(value, str):
        if not value:
            raise bad("input", "must not be an empty string")
        return [value]
    if not isinstance(value, list) or not value:
        raise bad("input", "is required: a string, an array of strings or of token arrays")
    if all(_is_int(v) for v in value):
        return [value]
    out: list[str | list[int]] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise bad(f"input[{i}]", "must not be an empty string")
        elif not (isinstance(item, list) and item and all(_is_int(t) for t in item)):
            raise bad(f"input[{i}]", "must be a non-empty string or a non-empty array of token ids")
        out.append(item)
    return out


def ir_to_openai_embeddings_request(req: EmbedRequest, model: str, *, compat: bool = False,
                                    ) -> dict[str, Any]:
    """Upstream OpenAI is asked for base64 (a quarter of the bytes, and faster to read than
    JSON floats); compatible servers get "float", which they all implement. What the client
    asked for is applied when the response is encoded."""
    target = "an OpenAI-compatible server" if compat else "OpenAI"
    if req.task_type is not None:
        raise UnsupportedParameter("task_type", target)
    if req.title is not None:
        raise UnsupportedParameter("title", target)
    body: dict[str, Any] = {"model": model, "input": req.inputs,
                            "encoding_format": "float" if compat else "base64"}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return body


def openai_embeddings_to_ir_response(body: dict[str, Any]) -> EmbedResponse:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UpstreamBadResponse("embeddings response: no data array")
    items = body["data"]
    vectors: list[list[float] | None] = [None] * len(items)
    for pos, item in enumerate(items):
        if not isinstance(item, dict):
            raise UpstreamBadResponse(f"embeddings response: data[{pos}] is not an object")
        index = item.get("index", pos)
        if not _is_int(index) or not 0 <= index < len(items) or vectors[index] is not None:
            raise UpstreamBadResponse(f"embeddings response: data[{pos}].index is wrong")
        vectors[index] = _vector_to_ir(item.get("embedding"), pos)
    usage = openai_embeddings_usage(body)
    return EmbedResponse(
        model=str(body.get("model") or ""),
        vectors=cast(list[list[float]], vectors),  # every slot filled: indexes are distinct
        input_tokens=usage.input_tokens if usage else None,
    )


def _vector_to_ir(value: Any, pos: int) -> list[float]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise UpstreamBadResponse(f"embeddings response: data[{pos}].embedding is not base64") from None
        if len(raw) % 4:
            raise UpstreamBadResponse(f"embeddings response: data[{pos}].embedding is not float32")
        floats = array("f", raw)
        if not _LITTLE:
            floats.byteswap()
        return floats.tolist()
    raise UpstreamBadResponse(f"embeddings response: data[{pos}].embedding is missing")


def vector_to_base64(vector: list[float]) -> str:
    floats = array("f", vector)
    if not _LITTLE:
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


def ir_to_openai_embeddings_response(resp: EmbedResponse, model: str,
                                     encoding_format: str | None) -> dict[str, Any]:
    as_base64 = encoding_format == "base64"
    tokens = resp.input_tokens or 0
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i,
             "embedding": vector_to_base64(v) if as_base64 else v}
            for i, v in enumerate(resp.vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def openai_embeddings_usage(body: dict[str, Any]) -> Usage | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict) or not _is_int(usage.get("prompt_tokens")):
        return None
    # Embeddings generate nothing: output is a true 0, not "not reported".
    return Usage(input_tokens=usage["prompt_tokens"], output_tokens=0)
