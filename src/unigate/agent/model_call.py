"""One model call of an agent loop: the loop's conversation (IR) to the endpoint's destinations
in order, through the same attempt path as a client's request (fallbacks, passive health,
parameter policy, routing entries on the usage row), answered as an IR response."""

from __future__ import annotations

import copy

import orjson

from unigate.codecs.registry import FORMATS, WireFormat
from unigate.ir import IRRequest, IRResponse
from unigate.server import upstream
from unigate.server.attempt import Attempt
from unigate.server.attempts import try_in_order
from unigate.server.context import RequestContext
from unigate.server.guard import Target
from unigate.server.translate import encode_with_policy


async def call_model(ctx: RequestContext, t: Target, client: WireFormat, ir: IRRequest) -> IRResponse:
    async def try_one(a: Attempt) -> IRResponse:  # type: ignore[return]
        provider = a.provider
        # the parameter policy applies emulations to the IR: each attempt gets its own copy
        attempt_ir = copy.deepcopy(ir)
        attempt_ir.stream = False
        target = FORMATS[provider.formats[0]]
        body = encode_with_policy(attempt_ir, client, target, a.endpoint, a.dest.model, provider)
        ctx.report = attempt_ir.report
        url = provider.generate_url(target.name, a.dest.model, False)
        assert ctx.state.session is not None
        resp = await upstream.post(ctx.state.session, provider, url, orjson.dumps(body),
                                   provider.headers(), a.timeout(False))
        try:
            await upstream.raise_for_upstream_status(resp, provider, target)
            try:
                data = await resp.read()
            except Exception as e:
                raise upstream.map_read_error(e, provider) from None
            return target.decode_response(upstream.parse_object(data, provider))
        finally:
            resp.close()

    return await try_in_order(ctx, t, try_one)  # type: ignore[arg-type, return-value]
