"""Databricks' permissions API for serving endpoints, onto unigate's endpoint grants:

    GET, PUT, PATCH /api/2.0/permissions/serving-endpoints/{serving_endpoint_id}
    GET             /api/2.0/permissions/serving-endpoints/{serving_endpoint_id}/permissionLevels

The id is what GET /api/2.0/serving-endpoints/{name} returns as `id` (a hash of the name); the
name itself is accepted too. PUT replaces the grants, PATCH adds or updates entries, as the
admin API's /api/v1/endpoints/{name}/permissions (whose parser, store calls and audit records
these are). CAN_VIEW (see the endpoint, not query it) has no unigate equivalent: it is refused
rather than widened to CAN_QUERY. Admins and the endpoint's managers only.

Names are resolved as Databricks resolves them for Terraform, whose provider adds the caller
(SCIM Me's `userName`) as `user_name` with CAN_MANAGE to every ACL it writes, even when the
caller is a service principal:
- a `user_name` that is no user but a service principal's application id is that service
  principal (read back as `service_principal_name`, which Terraform matches to the caller);
- emails and application ids compare case-insensitively, as in Databricks (Terraform sends
  names as the configuration spells them);
- `user_name: "admin"` is the bootstrap administrator (tokens.py's name for it): it holds every
  right already and is no principal a grant can name, so the entry is accepted and not stored;
- any other unknown user, group or service principal is a 400 INVALID_PARAMETER_VALUE naming
  the entry (a 404 would read, to the SDK, as a missing endpoint)."""

from __future__ import annotations

import asyncio
from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.server.admin.common import Caller, json_response, read_json, record, run
from unigate.server.admin.groups import KEY_OF, member_json
from unigate.server.admin.permissions import ACL, acl_json, parse_acl
from unigate.server.databricks.serving_mapping import endpoint_id
from unigate.server.databricks.serving_route import databricks_route
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db
from unigate.store.base import Store
from unigate.store.config_store import list_rows
from unigate.store.identities import ADMINS_GROUP as ADMINS

PATH = "/api/2.0/permissions/serving-endpoints/{serving_endpoint_id}"
ACLEntries = list[tuple[db.Member, str]]
BOOTSTRAP_ADMIN = "admin"  # the principal of the bootstrap administrator's tokens
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
    if not any(e.get("group_name") == ADMINS for e in out[ACL]):
        # administrators manage every endpoint; Databricks lists that as inherited (Terraform skips it)
        out[ACL].append({"group_name": ADMINS, "all_permissions": [{
            "permission_level": "CAN_MANAGE", "inherited": True, "inherited_from_object": ["/serving-endpoints/"]}]})
    return {**out, "object_id": f"/serving-endpoints/{endpoint_id(name)}", "object_type": "serving-endpoint"}


def _parse(body: dict[str, Any]) -> list[tuple[db.Member, str]]:
    for i, item in enumerate(body.get(ACL) or []):
        if isinstance(item, dict) and item.get("permission_level") == "CAN_VIEW":
            where = f"{ACL}[{i}].permission_level"
            raise InvalidRequest(f"'{where}': CAN_VIEW has no unigate equivalent (grants are CAN_QUERY or "
                                 "CAN_MANAGE); it is refused rather than widened to CAN_QUERY", param=where)
    return parse_acl(body)


def _user(store: Store, name: str) -> str | None:
    """The stored email a user_name names: emails compare case-insensitively, as in Databricks."""
    if db.get_user(store, name) is not None:
        return name
    same = [u["email"] for u in db.list_users(store) if u["email"].lower() == name.lower()]
    return same[0] if len(same) == 1 else None


def _service_principal(store: Store, name: str) -> str | None:
    for app_id in dict.fromkeys((name, name.lower())):  # application ids are lowercase UUIDs
        if db.get_service_principal(store, app_id) is not None:
            return app_id
    return None


def _member(store: Store, member: db.Member) -> db.Member | None:
    """The principal an entry names (None: the bootstrap administrator); Missing if none."""
    if member.type == "user" and member.name == BOOTSTRAP_ADMIN:
        return None
    if member.type == "user" and (email := _user(store, member.name)):
        return db.Member("user", email)
    if member.type != "group" and (app_id := _service_principal(store, member.name)):
        return db.Member("service_principal", app_id)
    db.require_exists(store, member)  # a group; else Missing, naming it
    return member


def _resolve_acl(store: Store, acl: ACLEntries) -> ACLEntries:
    """The ACL with every name resolved; 400 naming the entry of an unknown one or of a repeat."""
    out: ACLEntries = []
    for i, (member, level) in enumerate(acl):  # parse_acl keeps the body's order: i is its index
        where = f"{ACL}[{i}].{KEY_OF[member.type]}"
        try:
            resolved = _member(store, member)
        except db.Missing as e:
            raise InvalidRequest(f"'{where}': {e}", param=where) from None
        if resolved is not None and any(m == resolved for m, _ in out):
            what = f"{resolved.type.replace('_', ' ')} '{resolved.name}'"
            raise InvalidRequest(f"'{where}' names {what} twice (names compare case-insensitively)", param=where)
        if resolved is not None:
            out.append((resolved, level))
    return out


def _store_acl(store: Store, name: str, acl: ACLEntries, replace: bool) -> ACLEntries:
    resolved = _resolve_acl(store, acl)
    try:
        db.set_grants(store, name, resolved, replace)
    except db.Missing as e:  # deleted between resolving and writing
        raise InvalidRequest(str(e)) from None
    return resolved


@databricks_route
async def get_permissions(request: Request, caller: Caller) -> Response:
    name, key = await _endpoint(request, caller)
    return json_response(_answer(name, key, await run(db.get_grants, caller.state.store, name)))


async def _write(request: Request, caller: Caller, replace: bool) -> Response:
    name, key = await _endpoint(request, caller)
    acl = await run(_store_acl, caller.state.store, name, _parse(await read_json(request)), replace)
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
