"""The identity part of the admin API against a running gateway: users, service principals,
groups, tokens, endpoint permissions and the audit log, plus the matching CLI commands."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.gateway import ADMIN_TOKEN, Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import bearer, call, until_stable
from unigate.cli import main as cli_main
from unigate.store import identities as db
from unigate.store.sqlite import SQLiteStore


def api(gw: Gateway, method: str, path: str, body: Any = None,
        token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.url + "/api/v1" + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(config_yaml(mock_url, refusing_port()), workers=2)
    yield g
    g.stop()


def new_user(gw: Gateway) -> str:
    email = unique("u") + "@example.com"
    assert api(gw, "POST", "/users", {"email": email})[0] == 201
    return email


def new_sp(gw: Gateway) -> str:
    status, body = api(gw, "POST", "/service-principals", {"display_name": unique("sp")})
    assert status == 201
    return str(body["application_id"])


# --- users and service principals --------------------------------------------------------------

def test_users_create_list_get_delete(gw: Gateway) -> None:
    email = unique("alice") + "@example.com"
    status, body = api(gw, "POST", "/users", {"email": email, "display_name": "Alice"})
    assert status == 201 and body["email"] == email and body["display_name"] == "Alice"
    assert api(gw, "POST", "/users", {"email": email})[0] == 409
    assert email in [u["email"] for u in api(gw, "GET", "/users")[1]["users"]]
    assert api(gw, "GET", f"/users/{email}") == (200, body)
    status, body = api(gw, "DELETE", f"/users/{email}")
    assert status == 200 and body["deleted"] == email
    status, body = api(gw, "GET", f"/users/{email}")
    assert status == 404 and email in body["error"]["message"]
    assert api(gw, "DELETE", f"/users/{email}")[0] == 404


@pytest.mark.parametrize("body,field", [({}, "email"), ({"email": 5}, "email"), ({"email": "no-at-sign"}, "email"),
                                        ({"email": "a@b.c", "display_name": 3}, "display_name")])
def test_bad_user_bodies_are_400_naming_the_field(gw: Gateway, body: dict[str, Any], field: str) -> None:
    status, answer = api(gw, "POST", "/users", body)
    assert status == 400 and answer["error"]["field"] == field


def test_service_principals_get_a_new_uuid(gw: Gateway) -> None:
    status, sp = api(gw, "POST", "/service-principals", {"display_name": "ci bot"})
    assert status == 201 and sp["display_name"] == "ci bot"
    app_id = sp["application_id"]
    assert str(uuid.UUID(app_id)) == app_id
    assert api(gw, "GET", f"/service-principals/{app_id}") == (200, sp)
    assert app_id in [s["application_id"] for s in api(gw, "GET", "/service-principals")[1]["service_principals"]]
    assert api(gw, "POST", "/service-principals", {})[1]["error"]["field"] == "display_name"
    assert api(gw, "DELETE", f"/service-principals/{app_id}")[0] == 200
    assert api(gw, "GET", f"/service-principals/{app_id}")[0] == 404


def test_deleting_a_user_revokes_its_tokens_and_drops_memberships_and_grants(gw: Gateway) -> None:
    email = new_user(gw)
    group = unique("g")
    assert api(gw, "POST", "/groups", {"name": group, "members": [{"user_name": email}]})[0] == 201
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
    assert api(gw, "PATCH", "/endpoints/chat-compat/permissions", acl)[0] == 200
    token_id = api(gw, "POST", "/tokens", {"principal": email})[1]["token_id"]
    assert api(gw, "DELETE", f"/users/{email}")[1]["tokens_revoked"] == 1
    assert api(gw, "GET", f"/tokens/{token_id}")[1]["revoked_at"] is not None
    assert api(gw, "GET", f"/groups/{group}")[1]["members"] == []
    entries = api(gw, "GET", "/endpoints/chat-compat/permissions")[1]["access_control_list"]
    assert email not in [e.get("user_name") for e in entries]


# --- groups ------------------------------------------------------------------------------------

def test_groups_with_members_of_every_kind(gw: Gateway) -> None:
    email, app_id, inner = new_user(gw), new_sp(gw), unique("inner")
    assert api(gw, "POST", "/groups", {"name": inner})[0] == 201
    outer = unique("outer")
    members = [{"user_name": email}, {"service_principal_name": app_id}, {"group_name": inner}]
    status, body = api(gw, "POST", "/groups", {"name": outer, "members": members})
    assert status == 201 and body["name"] == outer
    assert sorted(map(json.dumps, body["members"])) == sorted(map(json.dumps, members))
    assert api(gw, "POST", "/groups", {"name": outer})[0] == 409
    assert outer in [g["name"] for g in api(gw, "GET", "/groups")[1]["groups"]]

    status, body = api(gw, "PATCH", f"/groups/{outer}", {"remove": [{"user_name": email}]})
    assert status == 200 and {"user_name": email} not in body["members"]
    status, body = api(gw, "PUT", f"/groups/{outer}/members", {"members": [{"user_name": email}]})
    assert status == 200 and body["members"] == [{"user_name": email}]
    assert api(gw, "DELETE", f"/groups/{inner}")[0] == 200
    assert api(gw, "GET", f"/groups/{inner}")[0] == 404


def test_group_members_must_exist(gw: Gateway) -> None:
    ghost = unique("ghost") + "@example.com"
    status, body = api(gw, "POST", "/groups", {"name": unique("g"), "members": [{"user_name": ghost}]})
    assert status == 404 and ghost in body["error"]["message"]
    group = unique("g")
    assert api(gw, "POST", "/groups", {"name": group})[0] == 201
    status, body = api(gw, "PATCH", f"/groups/{group}", {"add": [{"group_name": "no-such-group"}]})
    assert status == 404 and "no-such-group" in body["error"]["message"]
    assert api(gw, "PATCH", "/groups/no-such-group", {"add": []})[0] == 400
    assert api(gw, "PATCH", "/groups/no-such-group", {"remove": [{"user_name": "x@y.z"}]})[0] == 404


@pytest.mark.parametrize("members,field", [
    ([{"email": "a@b.c"}], "members[0].email"),
    ([{"user_name": "a@b.c", "group_name": "g"}], "members[0]"),
    (["a@b.c"], "members[0]"),
    ([{"user_name": ""}], "members[0].user_name"),
])
def test_bad_member_shapes_are_400_naming_the_field(gw: Gateway, members: list[Any], field: str) -> None:
    status, body = api(gw, "POST", "/groups", {"name": unique("g"), "members": members})
    assert status == 400 and body["error"]["field"] == field


def test_group_nesting_cycles_are_refused(gw: Gateway) -> None:
    a, b, c = unique("a"), unique("b"), unique("c")
    assert api(gw, "POST", "/groups", {"name": a})[0] == 201
    assert api(gw, "POST", "/groups", {"name": b, "members": [{"group_name": a}]})[0] == 201
    assert api(gw, "POST", "/groups", {"name": c, "members": [{"group_name": b}]})[0] == 201
    status, body = api(gw, "PATCH", f"/groups/{a}", {"add": [{"group_name": c}]})
    assert status == 409 and "cycle" in body["error"]["message"]
    assert api(gw, "PATCH", f"/groups/{a}", {"add": [{"group_name": a}]})[0] == 409
    assert api(gw, "POST", "/groups", {"name": (d := unique("d")), "members": [{"group_name": d}]})[0] == 409
    assert api(gw, "GET", f"/groups/{a}")[1]["members"] == []


def test_the_admins_group_is_built_in(gw: Gateway) -> None:
    status, body = api(gw, "GET", "/groups/admins")
    assert status == 200 and body["builtin"] is True
    status, body = api(gw, "DELETE", "/groups/admins")
    assert status == 409 and "built in" in body["error"]["message"]


# --- tokens ------------------------------------------------------------------------------------

def test_tokens_are_shown_once_and_stored_as_a_hash(gw: Gateway) -> None:
    email = new_user(gw)
    status, body = api(gw, "POST", "/tokens", {"principal": email, "lifetime_seconds": 3600, "comment": "laptop"})
    assert status == 201 and body["token"].startswith("ug_")
    assert body["expires_at"] == pytest.approx(time.time() + 3600, abs=60)
    token, token_id = body["token"], body["token_id"]
    listed = [t for t in api(gw, "GET", f"/tokens?principal={email}")[1]["tokens"]]
    assert [t["token_id"] for t in listed] == [token_id]
    assert {"token_id", "principal", "comment", "created_at", "expires_at", "last_used_at"} <= set(listed[0])
    assert "token" not in listed[0] and "token_hash" not in listed[0] and token not in json.dumps(listed)
    assert token.encode() not in gw.dump()
    status, audit = api(gw, "GET", "/audit?action=token.create")
    assert status == 200 and token not in json.dumps(audit)


def test_token_for_a_service_principal_and_bad_token_requests(gw: Gateway) -> None:
    app_id = new_sp(gw)
    status, body = api(gw, "POST", "/tokens", {"principal": app_id})
    assert status == 201 and body["principal_type"] == "service_principal" and body["expires_at"] is None
    status, body = api(gw, "POST", "/tokens", {"principal": "nobody@example.com"})
    assert status == 404 and "nobody@example.com" in body["error"]["message"]
    for bad, field in (({}, "principal"), ({"principal": app_id, "lifetime_seconds": 0}, "lifetime_seconds"),
                       ({"principal": app_id, "lifetime_seconds": "1h"}, "lifetime_seconds"),
                       ({"principal": app_id, "comment": 7}, "comment")):
        status, body = api(gw, "POST", "/tokens", bad)
        assert status == 400 and body["error"]["field"] == field, bad


def test_revoking_a_token(gw: Gateway) -> None:
    email = new_user(gw)
    token_id = api(gw, "POST", "/tokens", {"principal": email})[1]["token_id"]
    status, body = api(gw, "DELETE", f"/tokens/{token_id}")
    assert status == 200 and body["revoked_at"] is not None
    assert token_id not in [t["token_id"] for t in api(gw, "GET", "/tokens")[1]["tokens"]]
    assert token_id in [t["token_id"] for t in api(gw, "GET", "/tokens?include_revoked=true")[1]["tokens"]]
    assert api(gw, "DELETE", "/tokens/no-such-token")[0] == 404
    assert api(gw, "DELETE", "/tokens/env-admin")[0] == 409


def test_a_new_token_works_within_a_second(gw: Gateway) -> None:
    email = new_user(gw)
    assert api(gw, "PATCH", "/groups/admins", {"add": [{"user_name": email}]})[0] == 200
    token = api(gw, "POST", "/tokens", {"principal": email})[1]["token"]
    until_stable(lambda: api(gw, "GET", "/users", token=token)[0] == 200, timeout=1.5)  # on every worker
    status, body = api(gw, "GET", "/audit?limit=1", token=token)
    assert status == 200
    assert api(gw, "PATCH", "/groups/admins", {"remove": [{"user_name": email}]})[0] == 200


def test_last_used_at_is_recorded_off_the_request_path(gw: Gateway) -> None:
    email = new_user(gw)
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
    assert api(gw, "PATCH", "/endpoints/chat-openai/permissions", acl)[0] == 200
    created = api(gw, "POST", "/tokens", {"principal": email})[1]
    body = json.dumps({"model": "chat-openai", "messages": [{"role": "user", "content": "hi"}]}).encode()

    def query() -> bool:
        req = urllib.request.Request(gw.base + "/openai/v1/chat/completions", data=body, method="POST", headers={
            "Authorization": f"Bearer {created['token']}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status == 200
        except urllib.error.HTTPError:
            return False

    assert eventually(query)
    assert eventually(lambda: api(gw, "GET", f"/tokens/{created['token_id']}")[1]["last_used_at"] is not None)


def test_touch_tokens_records_last_used_in_one_batch(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "t.db")
    store.migrate()
    store.execute("INSERT INTO users (email, created_at) VALUES ('t@x.y', 0)")
    token_id = db.create_token(store, "t@x.y", "user", None, None)["token_id"]
    version = store.config_version()
    store.touch_tokens({token_id: 100.0})  # what the usage writer calls, once per batch
    store.touch_tokens({token_id: 50.0})  # an older report never moves it back
    assert db.get_token(store, token_id)["last_used_at"] == 100.0  # type: ignore[index]
    assert store.config_version() == version  # not a configuration change
    store.close()


# --- permissions -------------------------------------------------------------------------------

def test_endpoint_permissions_put_get_patch(gw: Gateway) -> None:
    email, app_id, group = new_user(gw), new_sp(gw), unique("g")
    assert api(gw, "POST", "/groups", {"name": group})[0] == 201
    acl = [{"user_name": email, "permission_level": "CAN_MANAGE"},
           {"service_principal_name": app_id, "permission_level": "CAN_QUERY"},
           {"group_name": group, "permission_level": "CAN_QUERY"}]
    status, body = api(gw, "PUT", "/endpoints/chat-anthropic/permissions", {"access_control_list": acl})
    assert status == 200

    def simple(entries: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps({k: v for k, v in e.items() if k != "all_permissions"}) for e in entries)

    assert simple(body["access_control_list"]) == simple(acl)
    assert simple(api(gw, "GET", "/endpoints/chat-anthropic/permissions")[1]["access_control_list"]) == simple(acl)
    patch = [{"group_name": group, "permission_level": "CAN_MANAGE"}]
    body = api(gw, "PATCH", "/endpoints/chat-anthropic/permissions", {"access_control_list": patch})[1]
    assert simple(body["access_control_list"]) == simple(acl[:2] + patch)
    body = api(gw, "PUT", "/endpoints/chat-anthropic/permissions", {"access_control_list": patch})[1]
    assert simple(body["access_control_list"]) == simple(patch)
    assert api(gw, "PUT", "/endpoints/chat-anthropic/permissions", {"access_control_list": []})[0] == 200


def test_permission_errors(gw: Gateway) -> None:
    ok = {"access_control_list": [{"group_name": "admins", "permission_level": "CAN_QUERY"}]}
    status, body = api(gw, "PUT", "/endpoints/no-such-endpoint/permissions", ok)
    assert status == 404 and "no-such-endpoint" in body["error"]["message"]
    assert api(gw, "GET", "/endpoints/no-such-endpoint/permissions")[0] == 404
    ghost = {"access_control_list": [{"user_name": "ghost@example.com", "permission_level": "CAN_QUERY"}]}
    status, body = api(gw, "PUT", "/endpoints/chat-gemini/permissions", ghost)
    assert status == 404 and "ghost@example.com" in body["error"]["message"]
    for bad, field in (
        ({}, "access_control_list"),
        ({"access_control_list": [{"group_name": "admins"}]}, "access_control_list[0].permission_level"),
        ({"access_control_list": [{"group_name": "admins", "permission_level": "CAN_EDIT"}]},
         "access_control_list[0].permission_level"),
        ({"access_control_list": [{"permission_level": "CAN_QUERY"}]}, "access_control_list[0]"),
        ({"access_control_list": ok["access_control_list"] * 2}, "access_control_list[1]"),
    ):
        status, body = api(gw, "PUT", "/endpoints/chat-gemini/permissions", bad)
        assert status == 400 and body["error"]["field"] == field, bad


# --- audit log ---------------------------------------------------------------------------------

def test_every_write_is_audited(gw: Gateway) -> None:
    email = new_user(gw)
    group = unique("g")
    api(gw, "POST", "/groups", {"name": group, "members": [{"user_name": email}]})
    token_id = api(gw, "POST", "/tokens", {"principal": email})[1]["token_id"]
    api(gw, "DELETE", f"/tokens/{token_id}")
    api(gw, "PATCH", "/endpoints/chat-openai/permissions",
        {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]})
    api(gw, "DELETE", f"/groups/{group}")
    entries = api(gw, "GET", "/audit?limit=50&actor=admin")[1]["entries"]
    seen = {(e["action"], e["target"]) for e in entries}
    assert {("user.create", email), ("group.create", group), ("token.create", token_id),
            ("token.revoke", token_id), ("permissions.update", "chat-openai"), ("group.delete", group)} <= seen
    assert all(e["actor"] == "admin" and e["event_time"] > 0 for e in entries)
    only = api(gw, "GET", "/audit?action=token.")[1]["entries"]
    assert only and all(e["action"].startswith("token.") for e in only)
    assert len(api(gw, "GET", "/audit?limit=2")[1]["entries"]) == 2
    assert api(gw, "GET", "/audit?limit=zero")[1]["error"]["field"] == "limit"
    # paging by offset, and a time range (start inclusive, end exclusive)
    first_three = api(gw, "GET", "/audit?limit=3")[1]["entries"]
    assert api(gw, "GET", "/audit?limit=2&offset=1")[1]["entries"] == first_three[1:3]
    newest = first_three[0]["event_time"]
    assert api(gw, "GET", f"/audit?start={newest + 1}")[1]["entries"] == []
    assert all(e["event_time"] < newest for e in api(gw, "GET", f"/audit?end={newest}&limit=20")[1]["entries"])
    assert api(gw, "GET", "/audit?start=yesterday")[1]["error"]["field"] == "start"
    assert api(gw, "GET", "/audit?offset=-1")[1]["error"]["field"] == "offset"


# --- CLI ---------------------------------------------------------------------------------------

def run_cli(gw: Gateway, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main([*argv, "--url", gw.url, "--token", ADMIN_TOKEN])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_round_trip(gw: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    email = unique("cli") + "@example.com"
    assert run_cli(gw, capsys, "users", "create", email, "--display-name", "Cli User")[0] == 0
    code, out, _ = run_cli(gw, capsys, "users", "list")
    assert code == 0 and "EMAIL" in out and email in out
    code, out, _ = run_cli(gw, capsys, "service-principals", "create", "--json", "cli bot")
    app_id = json.loads(out)["application_id"]
    group = unique("cligroup")
    code, out, _ = run_cli(gw, capsys, "groups", "create", group, "--user", email, "--service-principal", app_id)
    assert code == 0 and f"user:{email}" in out and f"sp:{app_id}" in out
    code, out, _ = run_cli(gw, capsys, "tokens", "create", email, "--lifetime", "1h", "--comment", "from cli")
    assert code == 0 and "ug_" in out
    code, out, _ = run_cli(gw, capsys, "tokens", "list", "--principal", email, "--json")
    token_id = json.loads(out)["tokens"][0]["token_id"]
    assert run_cli(gw, capsys, "tokens", "revoke", token_id)[0] == 0
    code, out, _ = run_cli(gw, capsys, "permissions", "set", "chat-azure", f"user:{email}=CAN_MANAGE",
                           f"group:{group}=CAN_QUERY")
    assert code == 0 and "CAN_MANAGE" in out and f"group:{group}" in out
    code, out, _ = run_cli(gw, capsys, "permissions", "set", "chat-azure", "--add", f"sp:{app_id}=can_query")
    code, out, _ = run_cli(gw, capsys, "permissions", "get", "chat-azure", "--json")
    assert len(json.loads(out)["access_control_list"]) == 3
    code, out, _ = run_cli(gw, capsys, "permissions", "clear", "chat-azure")
    assert code == 0 and "no grants" in out
    code, out, _ = run_cli(gw, capsys, "audit", "--action", "permissions.")
    assert code == 0 and "permissions.set" in out and "chat-azure" in out
    code, _, err = run_cli(gw, capsys, "users", "delete", "nobody@example.com")
    assert code == 1 and "404" in err and "nobody@example.com" in err
    assert run_cli(gw, capsys, "groups", "delete", group)[0] == 0


def test_a_token_works_on_every_worker_the_moment_it_is_created(gw: Gateway) -> None:
    """Each worker serves from its own snapshot of the store, refreshed within a second; a
    token it does not know yet is looked up once more after catching up with the store, so a
    token just created (or an OAuth token just bought) is never a 401 on another worker."""
    import concurrent.futures
    email = new_user(gw)
    for _ in range(5):
        token = api(gw, "POST", "/tokens", {"principal": email})[1]["token"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # separate connections: both workers
            statuses = list(pool.map(lambda _i, t=token: api(gw, "GET", "/me", token=t)[0], range(16)))
        assert statuses == [200] * 16, statuses
    # an unknown token is still a 401 (after that one look at the store)
    assert api(gw, "GET", "/me", token="ug_not-a-token")[0] == 401


def test_an_endpoint_and_a_grant_work_on_every_worker_the_moment_they_are_made(gw: Gateway) -> None:
    """Likewise for the query path: an endpoint just created (a 404 otherwise) and a grant just
    given (a 403 otherwise) on a worker whose snapshot is a moment old."""
    import concurrent.futures
    email = new_user(gw)
    token = api(gw, "POST", "/tokens", {"principal": email})[1]["token"]

    def chat(name: str, as_token: str) -> int:
        body = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
        return call("POST", f"{gw.base}/openai/v1/chat/completions", body, bearer(as_token)).status
    for _ in range(3):
        name = unique("fresh")
        assert api(gw, "POST", "/endpoints", {"name": name, "destinations": [
            {"provider": "openai-main", "model": "gpt-4o-mini"}]})[0] == 201
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # separate connections: both workers
            assert list(pool.map(lambda _i, n=name: chat(n, ADMIN_TOKEN), range(12))) == [200] * 12
        acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
        assert api(gw, "PATCH", f"/endpoints/{name}/permissions", acl)[0] == 200
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(lambda _i, n=name: chat(n, token), range(12))) == [200] * 12
    assert chat(unique("never-made"), ADMIN_TOKEN) == 404
