"""GET /api/v1/endpoints/{name}/payloads: an endpoint's inference-table rows, newest first.

For admins and managers (CAN_MANAGE) of that endpoint. Query parameters: limit (1..1000,
default 100), offset, start, end (unix seconds or ISO 8601), request_id (to join a usage row)."""

from __future__ import annotations

import asyncio

from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response
from unigate.server.http import Request, Router, StreamResponse
from unigate.store.payloads import payload_rows
from unigate.store.usage_query import int_param, parse_time

MAX_LIMIT = 1000


@admin_route
async def list_payloads(request: Request, caller: Caller) -> StreamResponse:
    name = request.match_info["name"]
    caller.require_manage(name)
    q = request.query
    limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
    offset = int_param(q, "offset", 0, 0, 10**12)
    start = parse_time(q["start"], "start") if q.get("start") else None
    end = parse_time(q["end"], "end") if q.get("end") else None
    rows = await asyncio.to_thread(payload_rows, caller.state.store, name, limit, offset, start, end,
                                   q.get("request_id") or None)
    return json_response({"endpoint": name, "payloads": rows})


def add_routes(router: Router) -> None:
    # Endpoint names may hold '/', so the name matches across segments.
    router.add_get(f"{PREFIX}/endpoints/{{name:.+}}/payloads", list_payloads)
