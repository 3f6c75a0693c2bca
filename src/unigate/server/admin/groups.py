"""Admin API for groups: members are users, service principals or (nested) groups. The built-in
group "admins" makes its transitive members administrators; it cannot be deleted."""

from __future__ import annotations

from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.server.admin.common import PREFIX, Caller, admin_route, field, json_response, read_json, record, run
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db

# The API's spelling of each principal type (the Databricks permissions/SCIM shape).
MEMBER_KEYS = {"user_name": "user", "service_principal_name": "service_principal", "group_name": "group"}
KEY_OF = {t: k for k, t in MEMBER_KEYS.items()}


def parse_member(item: Any, where: str, extra: tuple[str, ...] = ()) -> db.Member:
    """`{"user_name": ...}` | `{"service_principal_name": ...}` | `{"group_name": ...}`: exactly one."""
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{where}' must be an object with one of {', '.join(MEMBER_KEYS)}", param=where)
    keys = [k for k in MEMBER_KEYS if k in item]
    unknown = sorted(set(item) - set(MEMBER_KEYS) - set(extra))
    if unknown:
        raise InvalidRequest(f"'{where}.{unknown[0]}' is not a known field", param=f"{where}.{unknown[0]}")
    if len(keys) != 1:
        raise InvalidRequest(f"'{where}' must name exactly one of {', '.join(MEMBER_KEYS)}", param=where)
    value = item[keys[0]]
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{where}.{keys[0]}' must be a non-empty string", param=f"{where}.{keys[0]}")
    return db.Member(MEMBER_KEYS[keys[0]], value.strip())


def parse_members(body: dict[str, Any], name: str) -> list[db.Member]:
    items = field(body, name, list, required=False) or []
    return [parse_member(item, f"{name}[{i}]") for i, item in enumerate(items)]


def member_json(m: db.Member) -> dict[str, str]:
    return {KEY_OF[m.type]: m.name}


def group_json(group: dict[str, Any]) -> dict[str, Any]:
    return {**group, "members": [member_json(m) for m in group["members"]]}


def _members_detail(members: list[db.Member]) -> list[dict[str, str]]:
    return [member_json(m) for m in members]


@admin_route
async def list_groups(request: Request, caller: Caller) -> Response:
    groups = await run(db.list_groups, caller.state.store)
    return json_response({"groups": [group_json(g) for g in groups]})


@admin_route
async def get_group(request: Request, caller: Caller) -> Response:
    name = request.match_info["name"]
    group = await run(db.get_group, caller.state.store, name)
    if group is None:
        raise NotFound(f"group '{name}' does not exist")
    return json_response(group_json(group))


@admin_route
async def create_group(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    name = field(body, "name", str).strip()
    if not name or "/" in name:
        raise InvalidRequest("'name' must be a non-empty name without '/'", param="name")
    members = parse_members(body, "members")
    group = await run(db.create_group, caller.state.store, name, members)
    await record(caller, "group.create", name, {"members": _members_detail(members)})
    return json_response(group_json(group), 201)


@admin_route
async def patch_group(request: Request, caller: Caller) -> Response:
    """{"add": [...], "remove": [...]}"""
    caller.require_admin()
    name = request.match_info["name"]
    body = await read_json(request)
    add, remove = parse_members(body, "add"), parse_members(body, "remove")
    if not add and not remove:
        raise InvalidRequest("give 'add' and/or 'remove': lists of members", param="add")
    group = await run(db.set_group_members, caller.state.store, name, add, remove)
    await record(caller, "group.update", name,
                 {"add": _members_detail(add), "remove": _members_detail(remove)})
    return json_response(group_json(group))


@admin_route
async def put_members(request: Request, caller: Caller) -> Response:
    """{"members": [...]}: the group's whole membership."""
    caller.require_admin()
    name = request.match_info["name"]
    body = await read_json(request)
    field(body, "members", list)
    members = parse_members(body, "members")
    group = await run(db.set_group_members, caller.state.store, name, members, [], True)
    await record(caller, "group.set_members", name, {"members": _members_detail(members)})
    return json_response(group_json(group))


@admin_route
async def delete_group(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    await run(db.delete_group, caller.state.store, name)
    await record(caller, "group.delete", name)
    return json_response({"deleted": name})


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/groups", list_groups)
    router.add_post(f"{PREFIX}/groups", create_group)
    router.add_get(f"{PREFIX}/groups/{{name}}", get_group)
    router.add_patch(f"{PREFIX}/groups/{{name}}", patch_group)
    router.add_put(f"{PREFIX}/groups/{{name}}/members", put_members)
    router.add_delete(f"{PREFIX}/groups/{{name}}", delete_group)
