"""GET /api/v1/me: who the caller is and what it may do, for any signed-in principal. The web
console reads it at sign-in to decide which pages to show; a script can use it to check a token."""

from __future__ import annotations

from unigate import __version__
from unigate.server.admin.common import PREFIX, Caller, json_response, self_service_route
from unigate.server.http import Request, Response, Router


@self_service_route
async def me(request: Request, caller: Caller) -> Response:
    state, principal = caller.state, caller.principal
    names = sorted(state.endpoints)
    return json_response({
        "principal": principal.name,
        "principal_type": principal.type,
        "token_id": principal.token_id or None,
        "is_admin": caller.is_admin,
        "groups": sorted(state.snap.groups_of.get((principal.type, principal.name), ())),
        "can_manage": [n for n in names if state.can_manage(principal, n)],
        "can_query": [n for n in names if state.can_query(principal, n)],
        "version": __version__,
    })


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/me", me)
