"""Embeddings: `models/{model}:embedContent` and `:batchEmbedContents` ↔ IR.

Upstream, the gateway always sends batchEmbedContents (one call for any number of
inputs) and reads either response shape."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import array, obj, string
from unigate.codecs.gemini._util import get, integer, known_keys
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamBadResponse
from unigate.ir.request import EmbedRequest, EmbedResponse

_ONE_KEYS = known_keys("content", "taskType", "title", "outputDimensionality", "model")


def gemini_embed_to_ir(body: dict[str, Any], model: str) -> EmbedRequest:
    body = obj(body, "request body")
    req = EmbedRequest(model=model)
    _read_one(body, "", req, first=True)
    return req


def gemini_batch_embed_to_ir(body: dict[str, Any], model: str) -> EmbedRequest:
    body = obj(body, "request body")
    requests = array(get(body, "requests"), "requests")
    if not requests:
        raise InvalidRequest("requests: must not be empty", param="requests")
    req = EmbedRequest(model=model)
    for i, raw in enumerate(requests):
        _read_one(obj(raw, f"requests[{i}]"), f"requests[{i}].", req, first=i == 0)
    for key, value in body.items():
        if key != "requests":
            req.extra[key] = value
    return req


def _read_one(one: dict[str, Any], prefix: str, req: EmbedRequest, *, first: bool) -> None:
    """One EmbedContentRequest into `req`. The IR has one taskType, title and dimension
    for all inputs, so a batch must agree on them."""
    content = obj(one.get("content"), f"{prefix}content")
    texts: list[str] = []
    for j, raw in enumerate(array(content.get("parts"), f"{prefix}content.parts")):
        path = f"{prefix}content.parts[{j}]"
        part = obj(raw, path)
        if "text" not in part:
            raise InvalidRequest(f"{path}: only text parts can be embedded", param=path)
        texts.append(string(part["text"], f"{path}.text"))
    # several text parts make one embedding of their joined text
    req.inputs.append("\n".join(texts))
    dims = get(one, "outputDimensionality")
    settings = (
        get(one, "taskType"),
        one.get("title"),
        integer(dims, f"{prefix}outputDimensionality") if dims is not None else None,
    )
    if first:
        req.task_type, req.title, req.dimensions = settings
    elif settings != (req.task_type, req.title, req.dimensions):
        raise InvalidRequest(f"{prefix[:-1]}: taskType, title and outputDimensionality must be "
                             "the same in every request of a batch", param=prefix[:-1])
    if req.task_type is not None:
        string(req.task_type, f"{prefix}taskType")
    if req.title is not None:
        string(req.title, f"{prefix}title")
    for key, value in one.items():
        if key not in _ONE_KEYS:
            req.extra[key] = value


def ir_to_gemini_embed_request(req: EmbedRequest, model: str) -> dict[str, Any]:
    """The batchEmbedContents body (each entry names the model, as the API requires)."""
    name = model if model.startswith("models/") else f"models/{model}"
    requests: list[dict[str, Any]] = []
    for i, text in enumerate(req.inputs):
        if not isinstance(text, str):
            raise UnsupportedParameter(f"input[{i}]", "gemini", "token arrays cannot be embedded")
        one: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if req.task_type is not None:
            one["taskType"] = req.task_type
        if req.title is not None:
            one["title"] = req.title
        if req.dimensions is not None:
            one["outputDimensionality"] = req.dimensions
        requests.append(one)
    # encoding_format is the client dialect's business (Gemini returns floats); user: no field
    return {"requests": requests}


def gemini_embed_to_ir_response(body: dict[str, Any]) -> EmbedResponse:
    body = obj(body, "response", UpstreamBadResponse)
    if "embeddings" in body:
        items = array(body["embeddings"], "embeddings", UpstreamBadResponse)
    elif "embedding" in body:
        items = [body["embedding"]]
    else:
        raise UpstreamBadResponse("Gemini embedding response has neither embedding nor embeddings")
    vectors = []
    for i, item in enumerate(items):
        values = obj(item, f"embeddings[{i}]", UpstreamBadResponse).get("values")
        vectors.append(array(values, f"embeddings[{i}].values", UpstreamBadResponse))
    resp = EmbedResponse(model="", vectors=vectors)
    um = body.get("usageMetadata")
    if isinstance(um, dict) and isinstance(um.get("promptTokenCount"), int):
        resp.input_tokens = um["promptTokenCount"]
    return resp


def ir_to_gemini_embed_response(resp: EmbedResponse, batch: bool) -> dict[str, Any]:
    if batch:
        return {"embeddings": [{"values": v} for v in resp.vectors]}
    if len(resp.vectors) != 1:
        raise UpstreamBadResponse(f"expected one embedding, got {len(resp.vectors)}")
    return {"embedding": {"values": resp.vectors[0]}}
