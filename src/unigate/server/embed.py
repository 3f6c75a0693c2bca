"""Embeddings: the OpenAI embeddings surface and Gemini's embedContent / batchEmbedContents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from unigate.codecs import gemini as gm
from unigate.codecs import openai_embeddings as oe
from unigate.codecs.openai_chat import openai_chat_error_body
from unigate.codecs.registry import EMBED_FORMATS
from unigate.config import Destination
from unigate.errors import GatewayError, InvalidRequest
from unigate.ir import EmbedRequest, EmbedResponse, Usage
from unigate.providers import Provider
from unigate.server import upstream
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.fastpath import rewrite_request_model
from unigate.server.guard import guarded, resolve

Decode = Callable[[dict[str, Any]], EmbedRequest]
Encode = Callable[[EmbedResponse], dict[str, Any]]


async def _embed(ctx: RequestContext, name: str | None, decode: Decode, encode: Encode,
                 same_format: str | None, render_error: Callable[[GatewayError], dict[str, Any]]
                 ) -> web.StreamResponse:
    async def work() -> web.StreamResponse:
        body = await ctx.read_json()
        t = resolve(ctx, name if name is not None else body.get("model"), body=body)

        async def attempt(dest: Destination, provider: Provider) -> web.StreamResponse:
            if provider.embed_format is None:
                raise InvalidRequest(f"endpoint '{t.endpoint.name}' is served by provider "
                                     f"'{provider.name}' ({provider.type}), which has no embeddings API")
            fmt = EMBED_FORMATS[provider.embed_format]
            same = provider.embed_format == same_format
            if same:
                payload = rewrite_request_model(ctx.raw_body, body, dest.model)
            else:
                payload = orjson.dumps(fmt.encode_request(decode(body), dest.model, provider))
            parsed = await upstream.post_json(ctx.state, provider, provider.embed_url(dest.model), payload,
                                              ctx.attempt_timeout(t.endpoint.timeout), fmt.upstream_error)
            result = fmt.decode_response(parsed)
            if result.input_tokens is not None:
                ctx.record.usage = Usage(input_tokens=result.input_tokens, output_tokens=0)
            if same:  # relay as it came, naming the endpoint
                parsed["model"] = t.endpoint.name
                return ctx.json_response(orjson.dumps(parsed))
            result.model = t.endpoint.name
            return ctx.json_response(orjson.dumps(encode(result)))

        return await try_in_order(ctx, t, attempt)

    return await guarded(ctx, render_error, work)


async def openai_embeddings(ctx: RequestContext) -> web.StreamResponse:
    encoding: dict[str, Any] = {}

    def decode(body: dict[str, Any]) -> EmbedRequest:
        req = oe.openai_embeddings_to_ir_request(body)
        encoding["format"] = req.encoding_format
        return req

    def encode(resp: EmbedResponse) -> dict[str, Any]:
        return oe.ir_to_openai_embeddings_response(resp, resp.model, encoding.get("format") or "float")

    return await _embed(ctx, None, decode, encode, "openai_embeddings", openai_chat_error_body)


async def gemini_embeddings(ctx: RequestContext, model: str, batch: bool) -> web.StreamResponse:
    def decode(body: dict[str, Any]) -> EmbedRequest:
        return gm.gemini_batch_embed_to_ir(body, model) if batch else gm.gemini_embed_to_ir(body, model)

    def encode(resp: EmbedResponse) -> dict[str, Any]:
        return gm.ir_to_gemini_embed_response(resp, batch)

    # Gemini clients are always translated: the upstream call is always batchEmbedContents.
    return await _embed(ctx, model, decode, encode, None, gm.gemini_error_body)
