"""Admin API for service principals' OAuth secrets (the client secret of OAuth M2M, see
server/databricks/oauth.py): created, listed and deleted by administrators. A secret is shown
once, in the creation answer; only its hash is stored. Deleting one revokes the access tokens
it bought."""

from __future__ import annotations

from unigate.errors import InvalidRequest
from unigate.server.admin.common import (
    PREFIX,
    Caller,
    admin_json,
    admin_route,
    field,
    json_response,
    record,
    run,
)
from unigate.server.http import Request, Response, Router
from unigate.store import sp_secrets as db

BASE = f"{PREFIX}/service-principals/{{application_id}}/secrets"


@admin_route
async def create_secret(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    app_id = request.match_info["application_id"]
    raw = await request.read()
    body = admin_json(raw) if raw.strip() else {}  # no body: a secret that does not expire
    lifetime = field(body, "lifetime_seconds", (int, float), required=False)
    if isinstance(lifetime, bool) or (lifetime is not None and lifetime <= 0):
        raise InvalidRequest("'lifetime_seconds' must be a positive number", param="lifetime_seconds")
    secret = await run(db.create_secret, caller.state.store, app_id, lifetime)
    await record(caller, "service_principal_secret.create", secret["secret_id"],
                 {"application_id": app_id, "expire_time": secret["expire_time"]})
    return json_response(secret, 201)


@admin_route
async def list_secrets(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    app_id = request.match_info["application_id"]
    return json_response({"secrets": await run(db.list_secrets, caller.state.store, app_id)})


@admin_route
async def delete_secret(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    app_id, secret_id = request.match_info["application_id"], request.match_info["secret_id"]
    revoked = await run(db.delete_secret, caller.state.store, app_id, secret_id)
    await record(caller, "service_principal_secret.delete", secret_id,
                 {"application_id": app_id, "tokens_revoked": revoked})
    return json_response({"deleted": secret_id, "tokens_revoked": revoked})


def add_routes(router: Router) -> None:
    router.add_post(BASE, create_secret)
    router.add_get(BASE, list_secrets)
    router.add_delete(f"{BASE}/{{secret_id}}", delete_secret)
