"""Admin API for the audit log: who changed what, when. Administrators only."""

from __future__ import annotations

from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response, run
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db
from unigate.store.usage_query import int_param, parse_time

DEFAULT_LIMIT, MAX_LIMIT = 100, 10000


@admin_route
async def list_audit(request: Request, caller: Caller) -> Response:
    """?limit=&offset=&actor=&action=&target=&start=&end= ; `action=token.` (or `token.*`) matches
    every token change; start and end are unix seconds or ISO 8601 (start inclusive, end not)."""
    caller.require_admin()
    q = request.query
    limit = int_param(q, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = int_param(q, "offset", 0, 0, 10**12)
    start = parse_time(q["start"], "start") if q.get("start") else None
    end = parse_time(q["end"], "end") if q.get("end") else None
    entries = await run(db.audit_entries, caller.state.store, limit, q.get("actor"), q.get("action"),
                        q.get("target"), offset, start, end)
    return json_response({"entries": entries, "limit": limit, "offset": offset})


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/audit", list_audit)
