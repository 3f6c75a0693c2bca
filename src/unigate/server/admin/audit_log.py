"""Admin API for the audit log: who changed what, when. Administrators only."""

from __future__ import annotations

from unigate.errors import InvalidRequest
from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response, run
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db

DEFAULT_LIMIT, MAX_LIMIT = 100, 10000


@admin_route
async def list_audit(request: Request, caller: Caller) -> Response:
    """?limit=&actor=&action=&target= ; `action=token.` (or `token.*`) matches every token change."""
    caller.require_admin()
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidRequest(f"'limit' must be an integer, got '{raw}'", param="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"'limit' must be between 1 and {MAX_LIMIT}", param="limit")
    q = request.query
    entries = await run(db.audit_entries, caller.state.store, limit, q.get("actor"), q.get("action"),
                        q.get("target"))
    return json_response({"entries": entries})


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/audit", list_audit)
