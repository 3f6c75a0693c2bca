"""Admin API for MCP services registered in the gateway, and their CAN_USE grants.

`/api/v1/mcp-services[/{name}]`: create, read, replace, delete (administrators). Header values
are write-only, as a provider's extra headers: reads show their names with "(hidden)", and a
write that sends "(hidden)" back keeps the stored value. `/api/v1/mcp-services/{name}/permissions`
holds the grants, in the permissions API's shape with `CAN_USE` as the only level and an optional
`tools` list that narrows a grant to those tools."""

from __future__ import annotations

from typing import Any

from unigate.config import ConfigError, parse_config
from unigate.errors import InvalidRequest, NotFound
from unigate.governance.plan import spec_diff
from unigate.server.admin.common import PREFIX, Caller, admin_route, field, json_response, read_json, record, run
from unigate.server.admin.config_api import check_name, config_invalid, get_row, stored, writable, write
from unigate.server.admin.groups import member_json, parse_member
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db
from unigate.store.config_store import (
    HIDDEN,
    delete_mcp_service_statements,
    insert,
    keep_hidden_headers,
    list_rows,
    mcp_service_spec,
    update,
)

TABLE = "mcp_services"
ACL = "access_control_list"
USE = "CAN_USE"


def valid_service(caller: Caller, spec: dict[str, Any]) -> dict[str, Any]:
    if "command" in spec and not caller.state.file_config.mcp_stdio_from_api:
        raise InvalidRequest("command: a stdio MCP service runs a command on the gateway's host, so it "
                             "is registered in the configuration file; set settings.mcp_stdio_from_api "
                             "there to allow it through the API", param="command")
    try:
        cfg = parse_config({"mcp_services": [spec]}, "request")
    except ConfigError as e:
        raise config_invalid(e, "request", keep_entry=False) from None
    return mcp_service_spec(next(iter(cfg.mcp_services.values())))


def public(row: dict[str, Any]) -> dict[str, Any]:
    """Header and environment values are write-only: reads show their names."""
    out = dict(row)
    for key in ("headers", "env"):
        if row.get(key):
            out[key] = {name: HIDDEN for name in row[key]}
    return out


def audited(spec: dict[str, Any]) -> dict[str, Any]:
    return public({k: v for k, v in spec.items() if k not in ("created_at", "updated_at")})


async def _row(caller: Caller, name: str) -> dict[str, Any]:
    return await run(get_row, caller.state.store, TABLE, name)


@admin_route
async def list_services(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    rows = await run(list_rows, caller.state.store, TABLE)
    return json_response({"mcp_services": [public(r) for r in rows]})


@admin_route
async def get_service(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    return json_response(public(await _row(caller, request.match_info["name"])))


@admin_route
async def create_service(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = writable(await read_json(request))
    field(body, "name", str)
    spec = valid_service(caller, body)
    await write(caller, [insert(TABLE, spec)], "mcp_service.create", spec["name"], {"spec": audited(spec)})
    return json_response(public(await _row(caller, spec["name"])), 201)


@admin_route
async def put_service(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    body = writable(await read_json(request))
    check_name(body, name)
    old = stored(await _row(caller, name))
    body["name"] = name
    keep_hidden_headers(body, old)
    keep_hidden_headers(body, old, "env")  # a stdio server's environment is write-only too
    spec = valid_service(caller, body)
    diff = spec_diff(old, spec)
    if diff:
        await write(caller, [update(TABLE, spec)], "mcp_service.update", name, {"diff": diff})
    return json_response(public(await _row(caller, name)))


@admin_route
async def delete_service(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    await _row(caller, name)
    await write(caller, delete_mcp_service_statements(name), "mcp_service.delete", name)
    return json_response({"deleted": name})


# --- grants -------------------------------------------------------------------------------------

def parse_acl(body: dict[str, Any]) -> list[tuple[db.Member, list[str] | None]]:
    items = field(body, ACL, list)
    acl: list[tuple[db.Member, list[str] | None]] = []
    seen: set[db.Member] = set()
    for i, item in enumerate(items):
        where = f"{ACL}[{i}]"
        member = parse_member(item, where, extra=("permission_level", "tools"))
        if item.get("permission_level", USE) != USE:
            raise InvalidRequest(f"'{where}.permission_level' must be {USE} (the only level of an MCP "
                                 "service)", param=f"{where}.permission_level")
        tools = item.get("tools")
        if tools is not None and not (isinstance(tools, list) and tools
                                      and all(isinstance(t, str) and t for t in tools)):
            raise InvalidRequest(f"'{where}.tools' must be a non-empty list of tool names (leave it "
                                 "out to grant every tool)", param=f"{where}.tools")
        if member in seen:
            raise InvalidRequest(f"'{where}' names {member.type.replace('_', ' ')} '{member.name}' twice",
                                 param=where)
        seen.add(member)
        acl.append((member, tools))
    return acl


def acl_json(service: str, grants: list[tuple[db.Member, list[str] | None]]) -> dict[str, Any]:
    entries = []
    for member, tools in grants:
        entry: dict[str, Any] = {**member_json(member), "permission_level": USE}
        if tools is not None:
            entry["tools"] = tools
        entries.append(entry)
    return {"object_id": f"/mcp-services/{service}", "object_type": "mcp_service", ACL: entries}


async def _service(request: Request, caller: Caller) -> str:
    caller.require_admin()
    name = request.match_info["name"]
    if not await run(db.mcp_service_exists, caller.state.store, name):
        raise NotFound(f"MCP service '{name}' does not exist")
    return name


@admin_route
async def get_permissions(request: Request, caller: Caller) -> Response:
    name = await _service(request, caller)
    return json_response(acl_json(name, await run(db.get_mcp_grants, caller.state.store, name)))


async def _write_permissions(request: Request, caller: Caller, replace: bool) -> Response:
    name = await _service(request, caller)
    acl = parse_acl(await read_json(request))
    await run(db.set_mcp_grants, caller.state.store, name, acl, replace)
    await record(caller, "mcp_permissions.set" if replace else "mcp_permissions.update", name,
                 acl_json(name, acl))
    return json_response(acl_json(name, await run(db.get_mcp_grants, caller.state.store, name)))


@admin_route
async def put_permissions(request: Request, caller: Caller) -> Response:
    return await _write_permissions(request, caller, replace=True)


@admin_route
async def patch_permissions(request: Request, caller: Caller) -> Response:
    return await _write_permissions(request, caller, replace=False)


def add_routes(router: Router) -> None:
    base = f"{PREFIX}/mcp-services"
    router.add_get(base, list_services)
    router.add_post(base, create_service)
    router.add_get(f"{base}/{{name}}/permissions", get_permissions)
    router.add_put(f"{base}/{{name}}/permissions", put_permissions)
    router.add_patch(f"{base}/{{name}}/permissions", patch_permissions)
    router.add_get(f"{base}/{{name}}", get_service)
    router.add_put(f"{base}/{{name}}", put_service)
    router.add_delete(f"{base}/{{name}}", delete_service)
