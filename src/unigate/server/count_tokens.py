"""Token counting: Anthropic's /v1/messages/count_tokens and Gemini's :countTokens, against a
provider's own counting API when it has one, otherwise a local estimate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from unigate.codecs import anthropic as an
from unigate.codecs import gemini as gm
from unigate.codecs.registry import FORMATS
from unigate.config import Destination
from unigate.errors import UpstreamBadResponse
from unigate.ir import IRRequest
from unigate.ir.estimate import estimate_input_tokens
from unigate.providers import Provider
from unigate.server import upstream
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.fastpath import rewrite_request_model
from unigate.server.guard import guarded, resolve

# Per wire format: IR → the counting request body, and the count read from its answer.
_ENCODE: dict[str, Callable[[IRRequest, str], dict[str, Any]]] = {
    "anthropic": an.ir_to_anthropic_count_tokens_request,
    "gemini": gm.ir_to_gemini_count_tokens_request,
}
_READ: dict[str, str] = {"anthropic": "input_tokens", "gemini": "totalTokens"}


async def count_tokens(ctx: RequestContext, client_fmt: str, url_model: str | None,
                       decode: Callable[[dict[str, Any]], IRRequest],
                       render: Callable[[int], dict[str, Any]]) -> web.StreamResponse:
    async def work() -> web.StreamResponse:
        body = await ctx.read_json()
        t = resolve(ctx, url_model if url_model is not None else body.get("model"),
                    rate_limited=False)

        async def attempt(dest: Destination, provider: Provider) -> web.StreamResponse:
            target = provider.count_format
            if target is None:  # no counting API: a local estimate
                return ctx.json_response(orjson.dumps(render(estimate_input_tokens(decode(body)))))
            if target == client_fmt:  # same format: relay the body as it is
                payload = ctx.raw_body if url_model is not None else rewrite_request_model(
                    ctx.raw_body, body, dest.model)
            else:
                payload = orjson.dumps(_ENCODE[target](decode(body), dest.model))
            parsed = await upstream.post_json(ctx.state, provider, provider.count_url(dest.model), payload,
                                              ctx.attempt_timeout(t.endpoint.timeout),
                                              FORMATS[target].upstream_error)
            count = parsed.get(_READ[target])
            if not isinstance(count, int):
                raise UpstreamBadResponse(f"provider '{provider.name}' sent no token count")
            return ctx.json_response(orjson.dumps(render(count)))

        return await try_in_order(ctx, t, attempt)

    return await guarded(ctx, FORMATS[client_fmt].error_body, work)


async def anthropic_count_tokens(ctx: RequestContext) -> web.StreamResponse:
    return await count_tokens(ctx, "anthropic", None, an.anthropic_count_tokens_to_ir,
                              an.anthropic_count_tokens_response)


async def gemini_count_tokens(ctx: RequestContext, model: str) -> web.StreamResponse:
    return await count_tokens(ctx, "gemini", model, lambda b: gm.gemini_count_tokens_to_ir(b, model),
                              gm.gemini_count_tokens_response)
