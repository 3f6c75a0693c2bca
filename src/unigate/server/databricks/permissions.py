"""Databricks' permissions API for serving endpoints, onto unigate's endpoint grants:

    GET, PUT, PATCH /api/2.0/permissions/serving-endpoints/{serving_endpoint_id}
    GET             /api/2.0/permissions/serving-endpoints/{serving_endpoint_id}/permissionLevels

The id is what GET /api/2.0/serving-endpoints/{name} returns as `id` (a hash of the name); the
name itself is accepted too. PUT replaces the grants, PATCH adds or updates entries, as the
admin API's /api/v1/endpoints/{name}/permissions (whose parser, store calls and audit records
these are). CAN_VIEW (see the endpoint, not query it) has no unigate equivalent: it is refused
rather than widened to CAN_QUERY. Admins and the endpoint's managers only."""

from __future__ import annotations

import asyncio
from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.server.admin.common import Caller, json_response, read_json, record, run
from unigate.server.admin.groups import member_json
from unigate.server.admin.permissions import ACL, acl_json, parse_acl
from unigate.server.databricks.serving_mapping import endpoint_id
from unigate.server.databricks.serving_route import databricks_route
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db
from unigate.store.config_store import list_rows

PATH = "/api/2.0/permissions/serving-endpoints/{serving_endpoint_id}"
_LEVELS = {"CAN_QUERY": "Can query the endpoint", "CAN_MANAGE": "Can query and manage the endpoint"}


def _resolve(store: Any, key: str) -> str | None:
    names = [r["name"] for r in list_rows(store, "endpoints")]
    if key in names:
        return key
    return next((n for n in names if endpoint_id(n) == key), None)


async def _endpoint(request: Request, caller: Caller) -> tuple[str, str]:
    """(endpoint name, the id in the path): 404 if unknown, 403 unless the caller manages it."""
    key = request.match_info["serving_endpoint_id"]
    name = await asyncio.to_thread(_resolve, caller.state.store, key)
    if name is None:
        raise NotFound(f"serving endpoint '{key}' does not exist")
    caller.require_manage(name)
    return name, key


def _answer(name: str, key: str, grants: list[tuple[db.Member, str]]) -> dict[str, Any]:
    out = acl_json(name, grants)
    for entry in out[ACL]:
        entry.pop("permission_level", None)  # Databricks answers with all_permissions only
    return {**out, "object_id": f"/serving-endpoints/{endpoint_id(name)}", "object_type": "serving-endpoint"}


def _parse(body: dict[str, Any]) -> list[tuple[db.Member, str]]:
    for i, item in enumerate(body.get(ACL) or []):
        if isinstance(item, dict) and item.get("permission_level") == "CAN_VIEW":
            where = f"{ACL}[{i}].permission_level"
            raise InvalidRequest(f"'{where}': CAN_VIEW has no unigate equivalent (grants are CAN_QUERY or "
                                 "CAN_MANAGE); it is refused rather than widened to CAN_QUERY", param=where)
    return parse_acl(body)


@databricks_route
async def get_permissions(request: Request, caller: Caller) -> Response:
    name, key = await _endpoint(request, caller)
    return json_response(_answer(name, key, await run(db.get_grants, caller.state.store, name)))


async def _write(request: Request, caller: Caller, replace: bool) -> Response:
    name, key = await _endpoint(request, caller)
    acl = _parse(await read_json(request))
    await run(db.set_grants, caller.state.store, name, acl, replace)
    await record(caller, "permissions.set" if replace else "permissions.update", name,
                 {ACL: [{**member_json(m), "permission_level": level} for m, level in acl]})
    return json_response(_answer(name, key, await run(db.get_grants, caller.state.store, name)))


@databricks_route
async def put_permissions(request: Request, caller: Caller) -> Response:
    return await _write(request, caller, replace=True)


@databricks_route
async def patch_permissions(request: Request, caller: Caller) -> Response:
    return await _write(request, caller, replace=False)


@databricks_route
async def permission_levels(request: Request, caller: Caller) -> Response:
    await _endpoint(request, caller)
    return json_response({"permission_levels": [{"permission_level": k, "description": v}
                                                for k, v in _LEVELS.items()]})


def add_routes(router: Router) -> None:
    router.add_get(f"{PATH}/permissionLevels", permission_levels)
    router.add_get(PATH, get_permissions)
    router.add_put(PATH, put_permissions)
    router.add_patch(PATH, patch_permissions)
