"""Databricks' SCIM "who am I", the one SCIM route clients need:

    GET /api/2.0/preview/scim/v2/Me   (databricks-sdk `w.current_user.me()`)

Terraform's Databricks provider calls it before every permissions create, read, update and
delete, and adds `user_name: <userName>` with CAN_MANAGE to the ACL it writes (permissions.py
resolves that name). The caller is answered as a SCIM User, as Databricks does for every kind
of principal:

- a user: `userName` and `emails` are its email, `displayName` its display name;
- a service principal: `userName` is its application id (Databricks' own answer for an SP);
- the bootstrap administrator (the first-start or UNIGATE_ADMIN_TOKEN token): `userName`
  "admin", and it is listed in the `admins` group, since it holds every administrator right.

`groups` are the unigate groups the principal is in, nesting followed (`type` says direct or
indirect). unigate keys principals and groups by name, so `id` and a group's `value` are stable
numbers derived from the names, as Databricks' SCIM ids are numbers. unigate has no
entitlements or roles: they are never listed. `attributes` and `excludedAttributes` narrow the
answer as SCIM says (`id` and `schemas` always stay)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from unigate.server.admin.common import Caller, json_response
from unigate.server.databricks.serving_route import databricks_route
from unigate.server.http import Request, Response, Router
from unigate.server.state import Principal
from unigate.store import identities as db
from unigate.store.base import Store

ME = "/api/2.0/preview/scim/v2/Me"
USER_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"]
_ALWAYS = ("id", "schemas")  # returned whatever `attributes` asks (RFC 7644 §3.9)


def scim_id(kind: str, name: str) -> str:
    """A stable numeric id for a principal or group that unigate keys by name."""
    return str(int(hashlib.sha256(f"{kind}:{name}".encode()).hexdigest()[:13], 16))


def _display_name(store: Store, p: Principal) -> str:
    row = db.get_user(store, p.name) if p.type == "user" else (
        db.get_service_principal(store, p.name) if p.type == "service_principal" else None)
    return str((row or {}).get("display_name") or p.name)


def _groups(store: Store, groups: frozenset[str], p: Principal) -> list[dict[str, str]]:
    """The SCIM `groups` of a principal in `groups` (every group it is in, nesting followed)."""
    direct = {g for g, t, m in db.all_memberships(store) if (t, m) == (p.type, p.name)}
    if p.type == "admin":  # the bootstrap administrator is an administrator by its token
        groups, direct = groups | {db.ADMINS_GROUP}, direct | {db.ADMINS_GROUP}
    return [{"display": g, "value": scim_id("group", g), "type": "direct" if g in direct else "indirect"}
            for g in sorted(groups)]


def me_json(store: Store, p: Principal, groups: frozenset[str]) -> dict[str, Any]:
    """The caller as a SCIM User (synchronous: it reads the store)."""
    body: dict[str, Any] = {"schemas": USER_SCHEMAS, "id": scim_id(p.type, p.name), "userName": p.name,
                            "displayName": _display_name(store, p), "active": True}
    if p.type == "user":
        body["emails"] = [{"value": p.name, "type": "work", "primary": True}]
    body["groups"] = _groups(store, groups, p)
    return body


def _names(value: str | None) -> set[str]:
    return {a.strip().lower() for a in (value or "").split(",") if a.strip()}


def select_attributes(body: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """The answer narrowed by SCIM's `attributes` / `excludedAttributes` (names are case-insensitive)."""
    wanted, dropped = _names(attributes), _names(excluded)
    return {k: v for k, v in body.items()
            if k in _ALWAYS or ((not wanted or k.lower() in wanted) and k.lower() not in dropped)}


@databricks_route
async def me(request: Request, caller: Caller) -> Response:
    p = caller.principal
    groups = caller.state.snap.groups_of.get((p.type, p.name), frozenset())
    body = await asyncio.to_thread(me_json, caller.state.store, p, groups)
    return json_response(select_attributes(body, request.query.get("attributes"),
                                           request.query.get("excludedAttributes")))


def add_routes(router: Router) -> None:
    router.add_get(ME, me)
