"""A guardrail's block, answered as a success in the client's dialect (an endpoint with
`guardrail_response: content_filter`): the dialect's content-filter finish reason, no content,
and a `unigate_policy` object saying which guardrail stopped it and why."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.codecs.base import StreamEncoder
from unigate.errors import GuardrailBlocked
from unigate.ir import Finish, IRRequest, IRResponse, Start, StreamEvent, Usage
from unigate.server.attempt import Generation
from unigate.server.context import RequestContext
from unigate.server.http import AnyResponse, Response
from unigate.sse import SSEDecoder, SSEEvent


def filtered_response(ctx: RequestContext, gen: Generation, ir: IRRequest, endpoint: str,
                      blocked: GuardrailBlocked, resp: IRResponse | None = None) -> Response:
    """A unary answer whose content was withheld (`resp`: the provider's, for its id and usage)."""
    out = resp or IRResponse(id=f"blocked-{ctx.request_id}", model=endpoint, usage=Usage(0, 0))
    out.parts, out.finish_reason = [], "content_filter"
    body: dict[str, Any] = gen.client.encode_response(out, endpoint, ir)
    body["unigate_policy"] = blocked.policy
    return ctx.json_response(orjson.dumps(body))


async def filtered_stream(ctx: RequestContext, gen: Generation, ir: IRRequest, endpoint: str,
                          blocked: GuardrailBlocked) -> AnyResponse:
    """A stream blocked before anything went out: opened, and ended at once as filtered."""
    encoder = gen.client.stream_encoder(endpoint, gen.opts, ir)
    out = await ctx.open_stream()
    start = Start(id=f"blocked-{ctx.request_id}", model=endpoint)
    await ctx.write(out, end_filtered(encoder, [start], blocked))
    return out


def end_filtered(encoder: StreamEncoder, before: list[StreamEvent], blocked: GuardrailBlocked) -> bytes:
    """The events still to send (`before`), then the dialect's content-filter ending, with the
    policy object in the last JSON event (the one clients read the finish from, or after it)."""
    data = b"".join(encoder.encode(e) for e in before) + encoder.encode(Finish("content_filter"))
    return with_policy(data + encoder.close(), blocked.policy)


def with_policy(data: bytes, policy: dict[str, Any]) -> bytes:
    """SSE bytes with `unigate_policy` added to the last event whose data is a JSON object
    (unchanged when there is none: a stream that is not SSE)."""
    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.close()
    for event in reversed(events):
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            obj["unigate_policy"] = policy
            event.data = orjson.dumps(obj).decode()
            return b"".join(_frame(e) for e in events)
    return data


def _frame(event: SSEEvent) -> bytes:
    head = f"event: {event.event}\n" if event.event else ""
    return (head + "".join(f"data: {line}\n" for line in event.data.split("\n")) + "\n").encode()
