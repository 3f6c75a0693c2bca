"""The authorisation matrix of the identity admin API: each role × each operation, against a
running gateway. Roles: the env admin, a member of the built-in group "admins", an endpoint
manager (CAN_MANAGE on one endpoint), a plain user and a service principal with tokens, and
callers with no, a revoked or an expired token."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.gateway import ADMIN_TOKEN, Gateway, config_yaml, refusing_port, start_gateway

MANAGED, OTHER = "chat-openai", "chat-compat"  # the manager manages the first, not the second
ROLES = ("admin", "admins_member", "manager", "user", "service_principal", "no_token", "revoked", "expired")
UNAUTHENTICATED = ("no_token", "revoked", "expired")


def call(gw: Gateway, method: str, path: str, body: Any = None, token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def admin(gw: Gateway, method: str, path: str, body: Any = None) -> Any:
    status, answer = call(gw, method, "/api/v1" + path, body)
    assert status in (200, 201), (method, path, status, answer)
    return answer


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the gateway did not pick up the change in time"
        time.sleep(0.05)


def fresh_user(gw: Gateway) -> str:
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    admin(gw, "POST", "/users", {"email": email})
    return email


def chat(gw: Gateway, token: str | None, endpoint: str = MANAGED) -> int:
    body = {"model": endpoint, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    return call(gw, "POST", "/ai-gateway/openai/v1/chat/completions", body, token)[0]


@dataclass
class Role:
    name: str
    token: str | None
    principal: str | None  # what a token for this role's own identity names


@dataclass
class World:
    gw: Gateway
    roles: dict[str, Role]

    @property
    def manager(self) -> str:
        return str(self.roles["manager"].principal)

    def acl(self) -> dict[str, Any]:
        """A grant list that keeps the manager and the plain user where the fixture put them."""
        return {"access_control_list": [
            {"user_name": self.manager, "permission_level": "CAN_MANAGE"},
            {"user_name": self.roles["user"].principal, "permission_level": "CAN_QUERY"}]}


@pytest.fixture(scope="module")
def world(mock_url: str) -> Iterator[World]:
    gw = start_gateway(config_yaml(mock_url, refusing_port()), workers=2)
    try:
        expired_user = fresh_user(gw)
        expired = admin(gw, "POST", "/tokens", {"principal": expired_user, "lifetime_seconds": 1})
        roles = {"admin": Role("admin", ADMIN_TOKEN, "admin"),
                 "no_token": Role("no_token", None, None),
                 "expired": Role("expired", expired["token"], None)}
        for name in ("admins_member", "manager", "user", "revoked"):
            email = fresh_user(gw)
            roles[name] = Role(name, admin(gw, "POST", "/tokens", {"principal": email})["token"], email)
        sp = admin(gw, "POST", "/service-principals", {"display_name": "matrix bot"})["application_id"]
        roles["service_principal"] = Role("service_principal",
                                          admin(gw, "POST", "/tokens", {"principal": sp})["token"], sp)
        admin(gw, "PATCH", "/groups/admins", {"add": [{"user_name": roles["admins_member"].principal}]})
        w = World(gw, roles)
        admin(gw, "PUT", f"/endpoints/{MANAGED}/permissions", w.acl())
        revoked_id = [t["token_id"] for t in admin(gw, "GET", f"/tokens?principal={roles['revoked'].principal}")
                      ["tokens"]][0]
        admin(gw, "DELETE", f"/tokens/{revoked_id}")
        roles["revoked"].principal = None
        # Every worker has the new snapshot once the manager's grant and the member's group count.
        wait_until(lambda: all(call(gw, "GET", "/api/v1/tokens", token=roles[r].token)[0] == 200
                               for r in ("manager", "admins_member") for _ in range(4)))
        wait_until(lambda: time.time() > expired["expires_at"] + 0.1)
        yield w
    finally:
        gw.stop()


# Each operation: how to set it up (with the admin token) and what request it is for a role.
Request = tuple[str, str, Any]
Op = Callable[[World, Role], Request]


def _users_delete(w: World, r: Role) -> Request:
    return "DELETE", f"/users/{fresh_user(w.gw)}", None


def _sps_delete(w: World, r: Role) -> Request:
    sp = admin(w.gw, "POST", "/service-principals", {"display_name": "to delete"})["application_id"]
    return "DELETE", f"/service-principals/{sp}", None


def _group(w: World) -> str:
    name = f"g-{uuid.uuid4().hex[:8]}"
    admin(w.gw, "POST", "/groups", {"name": name})
    return name


def _token_of(w: World, principal: str) -> str:
    return str(admin(w.gw, "POST", "/tokens", {"principal": principal})["token_id"])


OPS: dict[str, Op] = {
    "users.list": lambda w, r: ("GET", "/users", None),
    "users.create": lambda w, r: ("POST", "/users", {"email": f"n-{uuid.uuid4().hex[:8]}@example.com"}),
    "users.get": lambda w, r: ("GET", f"/users/{w.manager}", None),
    "users.delete": _users_delete,
    "service_principals.list": lambda w, r: ("GET", "/service-principals", None),
    "service_principals.create": lambda w, r: ("POST", "/service-principals", {"display_name": "new"}),
    "service_principals.delete": _sps_delete,
    "groups.list": lambda w, r: ("GET", "/groups", None),
    "groups.create": lambda w, r: ("POST", "/groups", {"name": f"g-{uuid.uuid4().hex[:8]}"}),
    "groups.patch": lambda w, r: ("PATCH", f"/groups/{_group(w)}", {"add": [{"user_name": w.manager}]}),
    "groups.put_members": lambda w, r: ("PUT", f"/groups/{_group(w)}/members", {"members": []}),
    "groups.delete": lambda w, r: ("DELETE", f"/groups/{_group(w)}", None),
    "tokens.list": lambda w, r: ("GET", "/tokens", None),
    "tokens.create_for_other": lambda w, r: ("POST", "/tokens", {"principal": fresh_user(w.gw)}),
    "tokens.create_for_self": lambda w, r: ("POST", "/tokens", {"principal": r.principal or fresh_user(w.gw)}),
    "tokens.revoke_other": lambda w, r: ("DELETE", f"/tokens/{_token_of(w, fresh_user(w.gw))}", None),
    "tokens.revoke_own": lambda w, r: ("DELETE", f"/tokens/{_token_of(w, r.principal or fresh_user(w.gw))}",
                                       None),
    "permissions.get": lambda w, r: ("GET", f"/endpoints/{MANAGED}/permissions", None),
    "permissions.put": lambda w, r: ("PUT", f"/endpoints/{MANAGED}/permissions", w.acl()),
    "permissions.patch": lambda w, r: ("PATCH", f"/endpoints/{MANAGED}/permissions", w.acl()),
    "permissions.put_unmanaged": lambda w, r: ("PUT", f"/endpoints/{OTHER}/permissions",
                                               {"access_control_list": []}),
    "audit.list": lambda w, r: ("GET", "/audit?limit=5", None),
}
# What every signed-in principal may do, a plain user and a service principal too: manage its
# own tokens.
ANYONE_MAY = {"tokens.list", "tokens.create_for_self", "tokens.revoke_own"}
# What an endpoint manager (not an admin) may do besides: read identities and manage its
# endpoint's grants.
MANAGER_MAY = ANYONE_MAY | {"users.list", "users.get", "service_principals.list", "groups.list",
                            "permissions.get", "permissions.put", "permissions.patch"}


def expected(op: str, role: str) -> int:
    if role in UNAUTHENTICATED:
        return 401
    if role in ("user", "service_principal") and op not in ANYONE_MAY:
        return 403  # neither an admin nor a manager of anything
    if role == "manager" and op not in MANAGER_MAY:
        return 403
    return 201 if op.split(".")[1].startswith("create") else 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("op", list(OPS))
def test_admin_operation(world: World, op: str, role: str) -> None:
    r = world.roles[role]
    method, path, body = OPS[op](world, r)
    status, answer = call(world.gw, method, "/api/v1" + path, body, r.token)
    assert status == expected(op, role), (op, role, answer)
    if status >= 400:
        assert set(answer["error"]) >= {"code", "message"}


@pytest.mark.parametrize("role", ("manager", "user", "service_principal"))
def test_a_non_admin_sees_and_touches_only_its_own_tokens(world: World, role: str) -> None:
    r, other = world.roles[role], fresh_user(world.gw)
    others_token = _token_of(world, other)
    status, answer = call(world.gw, "GET", "/api/v1/tokens", token=r.token)
    assert status == 200 and answer["tokens"] and {t["principal"] for t in answer["tokens"]} == {r.principal}
    assert call(world.gw, "GET", f"/api/v1/tokens?principal={other}", token=r.token)[1]["tokens"] == []
    assert call(world.gw, "GET", f"/api/v1/tokens/{others_token}", token=r.token)[0] == 404
    assert call(world.gw, "GET", f"/api/v1/tokens/{_token_of(world, str(r.principal))}", token=r.token)[0] == 200
    # Refused alike whether or not the principal named exists: no probing for who exists.
    for principal in (other, "nobody-" + uuid.uuid4().hex[:8]):
        status, answer = call(world.gw, "POST", "/api/v1/tokens", {"principal": principal}, r.token)
        assert status == 403 and answer["error"]["code"] == "permission_denied", answer


@pytest.mark.parametrize("role", ROLES)
def test_query_operation(world: World, role: str) -> None:
    """CAN_QUERY on the query path: admins and grantees pass (CAN_MANAGE implies CAN_QUERY)."""
    granted = {"admin": 200, "admins_member": 200, "manager": 200, "user": 200, "service_principal": 403}
    not_granted = {"admin": 200, "admins_member": 200, "manager": 403, "user": 403, "service_principal": 403}
    token = world.roles[role].token
    assert chat(world.gw, token, MANAGED) == granted.get(role, 401)
    assert chat(world.gw, token, OTHER) == not_granted.get(role, 401)


def test_a_revoked_token_stops_working_on_the_query_path_within_a_second(world: World) -> None:
    gw = world.gw
    email = fresh_user(gw)
    admin(gw, "PATCH", f"/endpoints/{MANAGED}/permissions",
          {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]})
    created = admin(gw, "POST", "/tokens", {"principal": email})
    wait_until(lambda: all(chat(gw, created["token"]) == 200 for _ in range(4)))
    admin(gw, "DELETE", f"/tokens/{created['token_id']}")
    revoked_at = time.monotonic()
    # Two workers: every request, on whichever worker, must be refused within the second.
    wait_until(lambda: all(chat(gw, created["token"]) == 401 for _ in range(6)), timeout=1.5)
    assert time.monotonic() - revoked_at < 1.5
    assert all(chat(gw, created["token"]) == 401 for _ in range(10))
