"""GET /api/v1/endpoints/{name}/payloads: an endpoint's inference-table rows, newest first, and
GET /api/v1/mcp-services/{name}/payloads: an MCP service's tool calls when it logs them.

For admins and managers (CAN_MANAGE) of that endpoint; MCP services' rows for admins. Query parameters: limit (1..1000,
default 100), offset, start, end (unix seconds or ISO 8601), request_id (to join a usage row)."""

from __future__ import annotations

import asyncio
from typing import Any

from unigate.agent.mcp_governance import payload_key
from unigate.errors import NotFound
from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response
from unigate.server.http import AnyResponse, Request, Router
from unigate.store.payloads import payload_rows
from unigate.store.usage_query import int_param, parse_time

MAX_LIMIT = 1000


@admin_route
async def list_payloads(request: Request, caller: Caller) -> AnyResponse:
    name = request.match_info["name"]
    caller.require_manage(name)
    return json_response({"endpoint": name, "payloads": await _rows(request, caller, name)})


@admin_route
async def list_mcp_payloads(request: Request, caller: Caller) -> AnyResponse:
    """An MCP service's tool calls (arguments and results), when it logs payloads: admins."""
    caller.require_admin()
    name = request.match_info["name"]
    if name not in caller.state.config.mcp_services:
        raise NotFound(f"MCP service '{name}' does not exist")
    return json_response({"mcp_service": name, "payloads": await _rows(request, caller, payload_key(name))})


async def _rows(request: Request, caller: Caller, key: str) -> list[dict[str, Any]]:
    q = request.query
    limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
    offset = int_param(q, "offset", 0, 0, 10**12)
    start = parse_time(q["start"], "start") if q.get("start") else None
    end = parse_time(q["end"], "end") if q.get("end") else None
    return await asyncio.to_thread(payload_rows, caller.state.store, key, limit, offset, start, end,
                                   q.get("request_id") or None)


def add_routes(router: Router) -> None:
    # Endpoint names may hold '/', so the name matches across segments.
    router.add_get(f"{PREFIX}/endpoints/{{name:.+}}/payloads", list_payloads)
    router.add_get(f"{PREFIX}/mcp-services/{{name}}/payloads", list_mcp_payloads)
