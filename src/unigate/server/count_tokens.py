"""Token counting, on every surface whose format has a counting API (`WireFormat.count_tokens`):
against the provider's own counting API when it has one, otherwise a local estimate."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.registry import FORMATS, WireFormat
from unigate.errors import UpstreamBadResponse
from unigate.ir import IRRequest
from unigate.ir.estimate import estimate_input_tokens
from unigate.server import upstream
from unigate.server.attempt import Attempt
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.fastpath import rewrite_request_model
from unigate.server.guard import guarded, resolve
from unigate.server.http import AnyResponse


async def count_tokens(ctx: RequestContext, fmt: WireFormat, url_model: str | None) -> AnyResponse:
    """`fmt`'s counting request (the model from the URL when the format puts it there)."""
    counting = fmt.count_tokens
    assert counting is not None, f"{fmt.name} has no token counting"

    def decode(body: dict[str, Any]) -> IRRequest:
        return counting.decode_request(body, url_model or "")

    async def work() -> AnyResponse:
        body = await ctx.read_json()
        t = await resolve(ctx, url_model if url_model is not None else body.get("model"),
                    rate_limited=False)

        async def try_one(a: Attempt) -> AnyResponse:
            dest, provider = a.dest, a.provider
            target_name = provider.count_format
            if target_name is None:  # no counting API: a local estimate
                return ctx.json_response(orjson.dumps(counting.response(estimate_input_tokens(decode(body)))))
            target = FORMATS[target_name]
            upstream_counting = target.count_tokens
            assert upstream_counting is not None, f"{target_name} has no token counting"
            if target_name == fmt.name:  # same format: relay the body as it is
                payload = ctx.raw_body if url_model is not None else rewrite_request_model(
                    ctx.raw_body, body, dest.model)
            else:
                payload = orjson.dumps(upstream_counting.encode_request(decode(body), dest.model))
            parsed = await upstream.post_json(ctx, provider, provider.count_url(dest.model), payload,
                                              a.timeout(), target)
            count = parsed.get(upstream_counting.count_key)
            if not isinstance(count, int):
                raise UpstreamBadResponse(f"provider '{provider.name}' sent no token count")
            return ctx.json_response(orjson.dumps(counting.response(count)))

        return await try_in_order(ctx, t, try_one)

    return await guarded(ctx, fmt.error_body, work)
