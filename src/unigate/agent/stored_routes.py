"""`GET/DELETE .../responses/{id}`, `POST .../responses/{id}/cancel` and `GET
.../responses/{id}/input_items`: the stored responses of agent loops (`store`, `background`),
for their owner or an administrator, in the Responses API's shapes and errors."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from unigate.agent.loop import stored_for
from unigate.codecs.wire_format import WireFormat
from unigate.errors import InvalidRequest
from unigate.server.context import RequestContext
from unigate.server.guard import guarded
from unigate.server.http import AnyResponse
from unigate.store.responses import delete_response, request_cancel

MAX_ITEMS = 100


async def stored_response(ctx: RequestContext, fmt: WireFormat, action: str) -> AnyResponse:
    ctx.fmt_name = "responses_stored"  # no usage estimate: nothing was generated

    async def work() -> AnyResponse:
        stored = await stored_for(ctx, ctx.request.match_info["id"])
        ctx.record.endpoint_name = stored.endpoint_name
        response = dict(stored.response)
        response["status"] = stored.live_status()
        if action == "get":
            return ctx.json_response(orjson.dumps(response))
        if action == "delete":
            await asyncio.to_thread(delete_response, ctx.state.store, stored.response_id)
            return ctx.json_response(orjson.dumps({"id": stored.response_id, "object": "response",
                                                   "deleted": True}))
        if action == "cancel":
            if not stored.background:
                raise InvalidRequest("only background responses can be cancelled", param="response_id")
            if response["status"] in ("queued", "in_progress"):
                await asyncio.to_thread(request_cancel, ctx.state.store, stored.response_id)
                task = ctx.state.background.get(stored.response_id)
                if task is not None:  # running in this worker: stop it now (others poll the flag)
                    task.cancel()
                    await asyncio.wait([task], timeout=5)
                response["status"] = "cancelled"
            return ctx.json_response(orjson.dumps(response))
        return ctx.json_response(orjson.dumps(_items_page(stored.items, ctx.request.query)))

    return await guarded(ctx, fmt.error_body, work)


def _items_page(items: list[Any], query: Any) -> dict[str, Any]:
    """The list shape of `input_items`: newest first by default (`order=desc`), `limit`, `after`."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order: expected 'asc' or 'desc'", param="order")
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise InvalidRequest("limit: expected an integer", param="limit") from None
    if not 1 <= limit <= MAX_ITEMS:
        raise InvalidRequest(f"limit: expected 1 to {MAX_ITEMS}", param="limit")
    ordered = list(reversed(items)) if order == "desc" else list(items)
    after = query.get("after")
    if after:
        ids = [i.get("id") for i in ordered]
        if after not in ids:
            raise InvalidRequest(f"after: no input item '{after}'", param="after")
        ordered = ordered[ids.index(after) + 1:]
    page = ordered[:limit]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": len(ordered) > limit}
