"""OAuth M2M for service principals with the real databricks-sdk, configured with only
DATABRICKS_HOST, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET: secrets issued through the
admin API (and the CLI), the SDK's own discovery and client-credentials flow, the token it gets
working on unigate's own APIs and on a chat as the service principal, wrong, deleted and
expired secrets refused, and the token endpoint's RFC 6749 errors."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.databricks.client_env import client_env, install, run_client
from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import Reply, bearer, call

M2M = """
import json
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
def failure(fn):
    try:
        fn()
    except Exception as e:
        return [type(e).__name__, str(e)]
    return None
"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    install()  # the clients' venv (built once, cached)
    gateway = start_gateway(config_yaml(mock_url, refusing_port()))
    yield gateway
    gateway.stop()


def admin(gw: Gateway, method: str, path: str, body: dict[str, Any] | None = None,
          token: str | None = None) -> Reply:
    return call(method, f"{gw.url}/api/v1{path}", body, bearer(token or gw.token))


def new_sp(gw: Gateway, name: str, grant: str | None = None) -> str:
    r = admin(gw, "POST", "/service-principals", {"display_name": name})
    assert r.status == 201, r.body
    app_id = str(r.json()["application_id"])
    if grant:
        acl = {"access_control_list": [{"service_principal_name": app_id, "permission_level": "CAN_QUERY"}]}
        assert admin(gw, "PATCH", f"/endpoints/{grant}/permissions", acl).status == 200
    return app_id


def new_secret(gw: Gateway, app_id: str, lifetime: float | None = None) -> dict[str, Any]:
    r = admin(gw, "POST", f"/service-principals/{app_id}/secrets",
              {"lifetime_seconds": lifetime} if lifetime else None)
    assert r.status == 201, r.body
    return dict(r.json())


def m2m(gw: Gateway, client_id: str, secret: str, body: str) -> Any:
    env = client_env(gw.url, DATABRICKS_CLIENT_ID=client_id, DATABRICKS_CLIENT_SECRET=secret)
    return run_client(M2M + body, env)


def token_request(gw: Gateway, form: dict[str, str], basic: tuple[str, str] | None = None) -> Reply:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    return call("POST", f"{gw.url}/oidc/v1/token", urllib.parse.urlencode(form).encode(), headers)


def until(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_secrets_admin_api(gw: Gateway) -> None:
    app_id = new_sp(gw, "secrets-api")
    secret = new_secret(gw, app_id, 86400)
    assert secret["secret"].startswith("ugs_") and secret["application_id"] == app_id
    assert 86390 < secret["expire_time"] - secret["create_time"] <= 86400
    listed = admin(gw, "GET", f"/service-principals/{app_id}/secrets").json()["secrets"]
    assert [s["secret_id"] for s in listed] == [secret["secret_id"]]
    assert listed[0]["status"] == "ACTIVE" and secret["secret"] not in json.dumps(listed)
    assert not any("hash" in k for k in listed[0])
    # a secret is not a token
    assert admin(gw, "GET", "/me", token=secret["secret"]).status == 401
    # errors
    assert admin(gw, "POST", "/service-principals/nope/secrets").status == 404
    assert admin(gw, "POST", f"/service-principals/{app_id}/secrets", {"lifetime_seconds": -1}).status == 400
    assert admin(gw, "DELETE", f"/service-principals/{app_id}/secrets/nope").status == 404
    # administrators only: a service principal may not mint secrets (for itself or others)
    sp_token = admin(gw, "POST", "/tokens", {"principal": app_id}).json()["token"]
    until(lambda: admin(gw, "GET", "/me", token=sp_token).status == 200)
    assert admin(gw, "POST", f"/service-principals/{app_id}/secrets", token=sp_token).status == 403
    assert admin(gw, "GET", f"/service-principals/{app_id}/secrets", token=sp_token).status == 403
    # deleting, audited without the secret
    r = admin(gw, "DELETE", f"/service-principals/{app_id}/secrets/{secret['secret_id']}")
    assert r.status == 200 and r.json()["deleted"] == secret["secret_id"]
    assert admin(gw, "GET", f"/service-principals/{app_id}/secrets").json()["secrets"] == []
    entries = admin(gw, "GET", "/audit?action=service_principal_secret.").json()["entries"]
    mine = [e for e in entries if (e["details"] or {}).get("application_id") == app_id]
    assert [e["action"] for e in mine] == ["service_principal_secret.delete", "service_principal_secret.create"]
    assert secret["secret"] not in json.dumps(entries)


def test_cli_creates_lists_and_deletes_secrets(gw: Gateway) -> None:
    app_id = new_sp(gw, "secrets-cli")
    env = {**os.environ, "UNIGATE_URL": gw.url, "UNIGATE_TOKEN": gw.token}

    def cli(*args: str) -> Any:
        out = subprocess.run([sys.executable, "-m", "unigate.cli", "service-principals", "secrets", *args, "--json"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    created = cli("create", app_id, "--lifetime", "1d")
    assert created["secret"].startswith("ugs_") and created["expire_time"] is not None
    assert [s["secret_id"] for s in cli("list", app_id)["secrets"]] == [created["secret_id"]]
    assert cli("delete", app_id, created["secret_id"])["deleted"] == created["secret_id"]
    assert cli("list", app_id)["secrets"] == []


def test_sdk_m2m_token_works_as_the_service_principal(gw: Gateway) -> None:
    app_id = new_sp(gw, "agent-app", grant="chat-openai")
    secret = new_secret(gw, app_id)["secret"]
    out = m2m(gw, app_id, secret, """
cfg = Config()
header = cfg.authenticate()["Authorization"]
again = Config().authenticate()["Authorization"]
w = WorkspaceClient()
answer = w.serving_endpoints.get_open_ai_client().chat.completions.create(
    model="chat-openai", messages=[{"role": "user", "content": "hello from the sp"}])
print(json.dumps({"auth_type": cfg.auth_type, "header": header, "again": again,
                  "text": answer.choices[0].message.content}))
""")
    assert out["auth_type"] == "oauth-m2m"
    assert out["header"].startswith("Bearer ug_")
    # the second process got the same token (one row per secret per hour, not one per request)
    assert out["again"] == out["header"]
    assert out["text"] == "MOCK-UPSTREAM-OK: hello from the sp"
    token = out["header"].removeprefix("Bearer ")
    me = admin(gw, "GET", "/me", token=token)
    assert me.status == 200, me.body
    assert me.json()["principal"] == app_id and me.json()["principal_type"] == "service_principal"
    assert me.json()["can_query"] == ["chat-openai"]
    # unigate's own surface, with the SP's rights: CAN_QUERY on chat-openai only
    chat = call("POST", f"{gw.url}/ai-gateway/mlflow/v1/chat/completions",
                {"model": "chat-openai", "messages": [{"role": "user", "content": "hi"}]}, bearer(token))
    assert chat.status == 200 and chat.json()["choices"][0]["message"]["content"] == "MOCK-UPSTREAM-OK: hi"
    other = call("POST", f"{gw.url}/ai-gateway/mlflow/v1/chat/completions",
                 {"model": "chat-anthropic", "messages": [{"role": "user", "content": "hi"}]}, bearer(token))
    assert other.status == 403
    # the token is a short-lived unigate token of the SP, listed with its tokens
    tokens = admin(gw, "GET", f"/tokens?principal={app_id}").json()["tokens"]
    assert len(tokens) == 1 and tokens[0]["comment"] == "oauth m2m"
    assert 3600 <= tokens[0]["expires_at"] - time.time() <= 7200
    # usage rows name the SP
    rows = until(lambda: gw.query("SELECT requester_type FROM usage WHERE requester = ?", (app_id,)))
    assert rows and {r[0] for r in rows} == {"service_principal"}


def test_wrong_deleted_and_expired_secrets_are_refused(gw: Gateway) -> None:
    app_id = new_sp(gw, "refused-app")
    kept = new_secret(gw, app_id)
    wrong = m2m(gw, app_id, "ugs_not-the-secret", "print(json.dumps(failure(lambda: Config().authenticate())))")
    assert wrong is not None and "invalid_client" in wrong[1], wrong
    # someone else's client id with this secret
    other = new_sp(gw, "other-app")
    assert token_request(gw, {"grant_type": "client_credentials"}, (other, kept["secret"])).status == 401

    # deleted: refused, and the access token it bought is revoked
    bought = token_request(gw, {"grant_type": "client_credentials", "scope": "all-apis"}, (app_id, kept["secret"]))
    assert bought.status == 200, bought.body
    access = bought.json()["access_token"]
    assert admin(gw, "GET", "/me", token=access).status == 200
    r = admin(gw, "DELETE", f"/service-principals/{app_id}/secrets/{kept['secret_id']}")
    assert r.json()["tokens_revoked"] == 1
    gone = m2m(gw, app_id, kept["secret"], "print(json.dumps(failure(lambda: Config().authenticate())))")
    assert gone is not None and "invalid_client" in gone[1], gone
    assert until(lambda: admin(gw, "GET", "/me", token=access).status == 401)

    # expired: the token it buys dies with it, then the secret is refused
    short = new_secret(gw, app_id, 3)
    r = token_request(gw, {"grant_type": "client_credentials"}, (app_id, short["secret"]))
    assert r.status == 200 and r.json()["expires_in"] <= 3
    time.sleep(max(0.0, short["expire_time"] - time.time()) + 0.5)
    refused = token_request(gw, {"grant_type": "client_credentials"}, (app_id, short["secret"]))
    assert refused.status == 401 and refused.json()["error"] == "invalid_client"
    assert admin(gw, "GET", "/me", token=r.json()["access_token"]).status == 401
    listed = admin(gw, "GET", f"/service-principals/{app_id}/secrets").json()["secrets"]
    assert [s["status"] for s in listed] == ["EXPIRED"]

    # a deleted service principal's secrets buy nothing
    doomed = new_sp(gw, "doomed-app")
    doomed_secret = new_secret(gw, doomed)["secret"]
    assert admin(gw, "DELETE", f"/service-principals/{doomed}").status == 200
    assert token_request(gw, {"grant_type": "client_credentials"}, (doomed, doomed_secret)).status == 401


def test_token_endpoint_protocol(gw: Gateway) -> None:
    meta = call("GET", f"{gw.url}/oidc/.well-known/oauth-authorization-server")
    assert meta.status == 200
    assert meta.json()["token_endpoint"] == f"{gw.url}/oidc/v1/token"
    assert meta.json()["grant_types_supported"] == ["client_credentials"]
    app_id = new_sp(gw, "protocol-app")
    secret = new_secret(gw, app_id)["secret"]
    # client_secret_post
    r = token_request(gw, {"grant_type": "client_credentials", "client_id": app_id, "client_secret": secret})
    assert r.status == 200, r.body
    assert r.json()["token_type"] == "Bearer" and r.json()["scope"] == "all-apis"
    assert 3600 <= r.json()["expires_in"] <= 7200
    assert r.headers["cache-control"] == "no-store"
    errors = [
        ({"grant_type": "password", "username": "x"}, (app_id, secret), 400, "unsupported_grant_type"),
        ({}, (app_id, secret), 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "scope": "sql"}, (app_id, secret), 400, "invalid_scope"),
    ]
    for form, basic, status, error in errors:
        reply = token_request(gw, form, basic)
        assert (reply.status, reply.json()["error"]) == (status, error), (form, reply.body)
        assert reply.json()["error_description"]
    assert "basic" in token_request(gw, {"grant_type": "client_credentials"}).headers["www-authenticate"].lower()
