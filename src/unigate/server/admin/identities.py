"""Admin API for users (by email) and service principals (by application id)."""

from __future__ import annotations

import re
from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.server.admin.common import (
    PREFIX,
    Caller,
    admin_route,
    field,
    json_response,
    read_json,
    record,
    run,
)
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db

EMAIL = re.compile(r"^[^@\s/]+@[^@\s/]+$")


def _display_name(body: dict[str, Any], required: bool) -> str | None:
    name = field(body, "display_name", str, required=required)
    if name is not None and not name.strip():
        raise InvalidRequest("'display_name' must not be empty", param="display_name")
    return name.strip() if name is not None else None


# --- users -----------------------------------------------------------------------------------

@admin_route
async def list_users(request: Request, caller: Caller) -> Response:
    return json_response({"users": await run(db.list_users, caller.state.store)})


@admin_route
async def create_user(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    email = field(body, "email", str).strip()
    if not EMAIL.match(email):
        raise InvalidRequest(f"'email' must be an email address, got '{email}'", param="email")
    user = await run(db.create_user, caller.state.store, email, _display_name(body, False))
    await record(caller, "user.create", email)
    return json_response(user, 201)


@admin_route
async def get_user(request: Request, caller: Caller) -> Response:
    email = request.match_info["email"]
    user = await run(db.get_user, caller.state.store, email)
    if user is None:
        raise NotFound(f"user '{email}' does not exist")
    return json_response(user)


@admin_route
async def delete_user(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    email = request.match_info["email"]
    revoked = await run(db.delete_principal, caller.state.store, "user", email)
    await record(caller, "user.delete", email, {"tokens_revoked": revoked})
    return json_response({"deleted": email, "tokens_revoked": revoked})


# --- service principals -------------------------------------------------------------------------

@admin_route
async def list_service_principals(request: Request, caller: Caller) -> Response:
    return json_response({"service_principals": await run(db.list_service_principals, caller.state.store)})


@admin_route
async def create_service_principal(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    name = _display_name(body, True)
    assert name is not None
    sp = await run(db.create_service_principal, caller.state.store, name)
    await record(caller, "service_principal.create", sp["application_id"], {"display_name": name})
    return json_response(sp, 201)


@admin_route
async def get_service_principal(request: Request, caller: Caller) -> Response:
    app_id = request.match_info["application_id"]
    sp = await run(db.get_service_principal, caller.state.store, app_id)
    if sp is None:
        raise NotFound(f"service principal '{app_id}' does not exist")
    return json_response(sp)


@admin_route
async def delete_service_principal(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    app_id = request.match_info["application_id"]
    revoked = await run(db.delete_principal, caller.state.store, "service_principal", app_id)
    await record(caller, "service_principal.delete", app_id, {"tokens_revoked": revoked})
    return json_response({"deleted": app_id, "tokens_revoked": revoked})


def add_routes(router: Router) -> None:
    """Reads are open to admins and endpoint managers (who need the names to grant access);
    writes are for admins."""
    router.add_get(f"{PREFIX}/users", list_users)
    router.add_post(f"{PREFIX}/users", create_user)
    router.add_get(f"{PREFIX}/users/{{email}}", get_user)
    router.add_delete(f"{PREFIX}/users/{{email}}", delete_user)
    router.add_get(f"{PREFIX}/service-principals", list_service_principals)
    router.add_post(f"{PREFIX}/service-principals", create_service_principal)
    router.add_get(f"{PREFIX}/service-principals/{{application_id}}", get_service_principal)
    router.add_delete(f"{PREFIX}/service-principals/{{application_id}}", delete_service_principal)
