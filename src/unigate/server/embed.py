"""Embeddings, on every surface that has them (`codecs.registry.EMBED_DIALECTS`): find the
endpoint, then try its destinations in order. A destination that speaks the client's API gets
the body as it came; any other gets it translated."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.registry import EMBED_FORMATS
from unigate.codecs.wire_format import EmbedDialect
from unigate.errors import InvalidRequest
from unigate.ir import EmbedRequest, Usage
from unigate.server import upstream
from unigate.server.attempt import Attempt
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.fastpath import rewrite_request_model
from unigate.server.guard import guarded, resolve
from unigate.server.guardrails import RequestGuard
from unigate.server.http import AnyResponse


async def embed(ctx: RequestContext, dialect: EmbedDialect, url_model: str | None) -> AnyResponse:
    """`url_model`: the endpoint named in the URL (formats that put it there), else the body's `model`."""
    async def work() -> AnyResponse:
        body = await ctx.read_json()
        t = await resolve(ctx, url_model if url_model is not None else body.get("model"), body=body)
        decoded: list[EmbedRequest] = []

        def request() -> EmbedRequest:
            if not decoded:
                decoded.append(dialect.decode_request(body, url_model or ""))
            return decoded[0]

        sanitized = False
        rails = t.endpoint.guardrails
        if rails is not None and rails.input:  # (vectors have no text for output guardrails to read)
            sanitized = await RequestGuard(ctx, rails).check_embed_input(request())

        async def try_one(a: Attempt) -> AnyResponse:
            dest, provider = a.dest, a.provider
            if provider.embed_format is None:
                raise InvalidRequest(f"endpoint '{t.endpoint.name}' is served by provider "
                                     f"'{provider.name}' ({provider.type}), which has no embeddings API")
            fmt = EMBED_FORMATS[provider.embed_format]
            same = provider.embed_format == dialect.relay_as and not sanitized
            if same:
                payload = rewrite_request_model(ctx.raw_body, body, dest.model)
            else:
                payload = orjson.dumps(fmt.encode_request(request(), dest.model, provider))
            parsed = await upstream.post_json(ctx, provider, provider.embed_url(dest.model), payload,
                                              a.timeout(), fmt)
            result = fmt.decode_response(parsed)
            if result.input_tokens is not None:
                ctx.record.usage = Usage(input_tokens=result.input_tokens, output_tokens=0)
            if same:  # relay as it came, naming the endpoint
                parsed["model"] = t.endpoint.name
                return ctx.json_response(orjson.dumps(parsed))
            result.model = t.endpoint.name
            out: dict[str, Any] = dialect.encode_response(result, request())
            return ctx.json_response(orjson.dumps(out))

        return await try_in_order(ctx, t, try_one)

    return await guarded(ctx, dialect.error_body, work)
