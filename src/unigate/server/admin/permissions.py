"""Admin API for endpoint grants, in the shape of Databricks' permissions API:
`{"access_control_list": [{"user_name" | "group_name" | "service_principal_name", "permission_level"}]}`.
PUT replaces an endpoint's grants, PATCH adds or updates entries, GET lists them. Admins and the
endpoint's managers (CAN_MANAGE) may do this."""

from __future__ import annotations

from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.server.admin.common import PREFIX, Caller, admin_route, field, json_response, read_json, record, run
from unigate.server.admin.groups import member_json, parse_member
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db

ACL = "access_control_list"


def parse_acl(body: dict[str, Any]) -> list[tuple[db.Member, str]]:
    items = field(body, ACL, list)
    acl: list[tuple[db.Member, str]] = []
    seen: set[db.Member] = set()
    for i, item in enumerate(items):
        where = f"{ACL}[{i}]"
        member = parse_member(item, where, extra=("permission_level",))
        level = item.get("permission_level")
        if level not in db.LEVELS:
            raise InvalidRequest(f"'{where}.permission_level' must be one of {', '.join(db.LEVELS)}",
                                 param=f"{where}.permission_level")
        if member in seen:
            raise InvalidRequest(f"'{where}' names {member.type.replace('_', ' ')} '{member.name}' twice",
                                 param=where)
        seen.add(member)
        acl.append((member, level))
    return acl


def acl_json(endpoint: str, grants: list[tuple[db.Member, str]]) -> dict[str, Any]:
    entries = [{**member_json(m), "permission_level": level,
                "all_permissions": [{"permission_level": level, "inherited": False}]} for m, level in grants]
    return {"object_id": f"/endpoints/{endpoint}", "object_type": "endpoint", ACL: entries}


async def _endpoint(request: Request, caller: Caller) -> str:
    """The endpoint in the path: 404 if unknown, 403 unless the caller may manage it."""
    name = request.match_info["name"]
    if not await run(db.endpoint_exists, caller.state.store, name):
        raise NotFound(f"endpoint '{name}' does not exist")
    caller.require_manage(name)
    return name


@admin_route
async def get_permissions(request: Request, caller: Caller) -> Response:
    name = await _endpoint(request, caller)
    return json_response(acl_json(name, await run(db.get_grants, caller.state.store, name)))


async def _write(request: Request, caller: Caller, replace: bool) -> Response:
    name = await _endpoint(request, caller)
    acl = parse_acl(await read_json(request))
    await run(db.set_grants, caller.state.store, name, acl, replace)
    await record(caller, "permissions.set" if replace else "permissions.update", name,
                 {ACL: [{**member_json(m), "permission_level": level} for m, level in acl]})
    return json_response(acl_json(name, await run(db.get_grants, caller.state.store, name)))


@admin_route
async def put_permissions(request: Request, caller: Caller) -> Response:
    return await _write(request, caller, replace=True)


@admin_route
async def patch_permissions(request: Request, caller: Caller) -> Response:
    return await _write(request, caller, replace=False)


def add_routes(router: Router) -> None:
    path = f"{PREFIX}/endpoints/{{name:.+}}/permissions"
    router.add_get(path, get_permissions)
    router.add_put(path, put_permissions)
    router.add_patch(path, patch_permissions)
