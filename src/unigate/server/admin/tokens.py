"""Admin API for personal access tokens. A token is shown once, in the creation answer; only its
hash is stored. Admins manage everyone's tokens; every other signed-in principal (an endpoint
manager, a plain user, a service principal) may create, list, read and revoke its own only."""

from __future__ import annotations

from typing import Any

from unigate.errors import InvalidRequest, NotFound, PermissionDenied
from unigate.server.admin.common import (
    PREFIX,
    Caller,
    Conflict,
    field,
    json_response,
    read_json,
    record,
    run,
    self_service_route,
)
from unigate.server.http import Request, Response, Router
from unigate.store import identities as db
from unigate.store.base import ENV_ADMIN_TOKEN_ID
from unigate.store.usage_query import bool_param

MAX_COMMENT = 1000


def _owns(caller: Caller, token: dict[str, Any]) -> bool:
    return bool(token["principal"] == caller.name and token["principal_type"] == caller.principal.type)


async def _principal_type(caller: Caller, principal: str) -> str:
    if principal == "admin":  # a further bootstrap-administrator token
        caller.require_admin()
        return "admin"
    ptype = await run(db.principal_type_of, caller.state.store, principal)
    if ptype is None:
        raise NotFound(f"no user or service principal '{principal}'", param="principal")
    return ptype


@self_service_route
async def create_token(request: Request, caller: Caller) -> Response:
    body = await read_json(request)
    principal = field(body, "principal", str).strip()
    lifetime = field(body, "lifetime_seconds", (int, float), required=False)
    if isinstance(lifetime, bool) or (lifetime is not None and lifetime <= 0):
        raise InvalidRequest("'lifetime_seconds' must be a positive number", param="lifetime_seconds")
    comment = field(body, "comment", str, required=False)
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidRequest(f"'comment' is longer than {MAX_COMMENT} characters", param="comment")
    # A non-admin is refused before the lookup, so it cannot probe which principals exist.
    if not caller.is_admin and principal != caller.name:
        raise PermissionDenied("only administrators may create tokens for someone else")
    ptype = await _principal_type(caller, principal)
    if not caller.is_admin and ptype != caller.principal.type:
        raise PermissionDenied("only administrators may create tokens for someone else")
    token = await run(db.create_token, caller.state.store, principal, ptype, comment, lifetime)
    await record(caller, "token.create", token["token_id"],
                 {"principal": principal, "principal_type": ptype, "expires_at": token["expires_at"]})
    return json_response(token, 201)


@self_service_route
async def list_tokens(request: Request, caller: Caller) -> Response:
    principal = request.query.get("principal")
    include_revoked = bool_param(request.query, "include_revoked")
    tokens = await run(db.list_tokens, caller.state.store, principal, include_revoked)
    if not caller.is_admin:
        tokens = [t for t in tokens if _owns(caller, t)]
    return json_response({"tokens": tokens})


async def _visible_token(caller: Caller, token_id: str) -> dict[str, Any]:
    token = await run(db.get_token, caller.state.store, token_id)
    if token is None or not (caller.is_admin or _owns(caller, token)):
        raise NotFound(f"token '{token_id}' does not exist")
    return token


@self_service_route
async def get_token(request: Request, caller: Caller) -> Response:
    return json_response(await _visible_token(caller, request.match_info["token_id"]))


@self_service_route
async def revoke_token(request: Request, caller: Caller) -> Response:
    token_id = request.match_info["token_id"]
    token = await run(db.get_token, caller.state.store, token_id)
    if token is None:
        raise NotFound(f"token '{token_id}' does not exist")
    if not (caller.is_admin or _owns(caller, token)):
        raise PermissionDenied("only administrators may revoke someone else's token")
    if token_id == ENV_ADMIN_TOKEN_ID:
        raise Conflict("this token comes from UNIGATE_ADMIN_TOKEN: change the environment and restart instead")
    revoked = await run(db.revoke_token, caller.state.store, token_id)
    if token["revoked_at"] is None:
        await record(caller, "token.revoke", token_id, {"principal": token["principal"]})
    return json_response(revoked)


def add_routes(router: Router) -> None:
    router.add_post(f"{PREFIX}/tokens", create_token)
    router.add_get(f"{PREFIX}/tokens", list_tokens)
    router.add_get(f"{PREFIX}/tokens/{{token_id}}", get_token)
    router.add_delete(f"{PREFIX}/tokens/{{token_id}}", revoke_token)
