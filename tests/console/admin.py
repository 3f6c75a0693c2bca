"""Setting up what a console test needs through the admin API (not through the browser)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call


def admin(gw: Gateway, method: str, path: str, body: dict[str, Any] | None = None,
          token: str | None = None) -> tuple[int, Any]:
    """`path` under /api/v1; (status, decoded JSON or None)."""
    r = call(method, f"{gw.url}/api/v1{path}", body, bearer(token or gw.token))
    try:
        return r.status, r.json()
    except ValueError:
        return r.status, None


def new_user(gw: Gateway, *, query: tuple[str, ...] = (), manage: tuple[str, ...] = ()) -> tuple[str, str]:
    """A new user with CAN_QUERY / CAN_MANAGE on the endpoints named, and a token of its own,
    waited for until every worker knows it. (email, token)"""
    email = f"console-{uuid.uuid4().hex[:8]}@example.com"
    assert admin(gw, "POST", "/users", {"email": email})[0] == 201
    for level, names in (("CAN_QUERY", query), ("CAN_MANAGE", manage)):
        for name in names:
            acl = {"access_control_list": [{"user_name": email, "permission_level": level}]}
            assert admin(gw, "PATCH", f"/endpoints/{name}/permissions", acl)[0] == 200
    status, body = admin(gw, "POST", "/tokens", {"principal": email})
    assert status == 201, body
    token = str(body["token"])
    deadline = time.monotonic() + 10
    while admin(gw, "GET", "/me", token=token)[0] != 200:
        assert time.monotonic() < deadline, "the new token never started working"
        time.sleep(0.1)
    return email, token
