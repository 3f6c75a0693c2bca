"""MCP services registered in the gateway: the admin API and CLI, CAN_USE grants (per service
and per tool), `/ai-gateway/mcp/{service}` driven by the official MCP client SDK, rate limits,
a usage row per tool call, payload logging, and the agent loop naming a service by label."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.integration.gateway import ADMIN_TOKEN, Gateway, start_gateway
from tests.integration.rawhttp import bearer, call, until_stable
from tests.mocks.mcp_process import ROOT


@dataclass
class Users:
    alice: str  # CAN_USE on calc (every tool)
    bob: str  # CAN_USE on calc, tool echo only
    carol: str  # no grant


@pytest.fixture(scope="module")
def mgw(mock_url: str, mcp_url: str) -> Iterator[Gateway]:
    gw = start_gateway(f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
  - {{name: claude, type: anthropic, base_url: "{mock_url}", api_key: sk-ant-mock}}
endpoints:
  - {{name: agent-openai, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: agent-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
mcp_services:
  - name: calc
    url: "{mcp_url}"
    description: arithmetic and echo
    headers: {{X-Service-Key: svc-secret-123}}
  - name: calc-limited
    url: "{mcp_url}"
    rate_limits: [{{key: user_default, requests: 2, renewal_period: minute}}]
  - name: calc-logged
    url: "{mcp_url}"
    inference_table: {{enabled: true}}
  - name: calc-stdio
    command: "{sys.executable}"
    args: ["-m", "tests.mocks.mcp_server", "stdio"]
    cwd: "{ROOT}"
    env: {{MCP_TEST_SECRET: stdio-secret-5}}
""", workers=2, env={"MCP_LEAK_CHECK": "gateway-only"})
    yield gw
    gw.stop()


def admin(gw: Gateway, method: str, path: str, body: Any = None, token: str = ADMIN_TOKEN) -> tuple[int, Any]:
    r = call(method, f"{gw.url}/api/v1{path}", body, bearer(token))
    return r.status, (r.json() if r.body else None)


@pytest.fixture(scope="module")
def users(mgw: Gateway) -> Users:
    tokens = {}
    for name in ("alice", "bob", "carol"):
        email = f"{name}@mcp.test"
        admin(mgw, "POST", "/users", {"email": email})
        tokens[name] = admin(mgw, "POST", "/tokens", {"principal": email})[1]["token"]
        for ep in ("agent-openai", "agent-anthropic"):
            admin(mgw, "PATCH", f"/endpoints/{ep}/permissions",
                  {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]})
    status, acl = admin(mgw, "PUT", "/mcp-services/calc/permissions", {"access_control_list": [
        {"user_name": "alice@mcp.test", "permission_level": "CAN_USE"},
        {"user_name": "bob@mcp.test", "permission_level": "CAN_USE", "tools": ["echo"]}]})
    assert status == 200, acl
    for svc in ("calc-limited", "calc-logged", "calc-stdio"):
        admin(mgw, "PUT", f"/mcp-services/{svc}/permissions",
              {"access_control_list": [{"user_name": "alice@mcp.test"}]})
    u = Users(tokens["alice"], tokens["bob"], tokens["carol"])
    until_stable(lambda: call("POST", f"{mgw.base}/mcp/calc", _ping(), bearer(u.bob)).status == 200)
    return u


def _ping() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def mcp_client(gw: Gateway, service: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(f"{gw.base}/mcp/{service}", http_client=http))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- the admin API ---------------------------------------------------------------------------

def test_services_from_the_file_are_listed_with_header_values_hidden(mgw: Gateway) -> None:
    status, body = admin(mgw, "GET", "/mcp-services")
    assert status == 200
    calc = next(s for s in body["mcp_services"] if s["name"] == "calc")
    assert calc["headers"] == {"X-Service-Key": "(hidden)"}
    assert calc["description"] == "arithmetic and echo"
    assert "svc-secret-123" not in json.dumps(body)


def test_create_update_and_delete_a_service(mgw: Gateway, mcp_url: str) -> None:
    spec = {"name": "tmp-tools", "url": mcp_url, "headers": {"Authorization": "Bearer up-secret-9"}}
    status, created = admin(mgw, "POST", "/mcp-services", spec)
    assert status == 201, created
    assert created["headers"] == {"Authorization": "(hidden)"}
    assert admin(mgw, "POST", "/mcp-services", spec)[0] == 409
    # "(hidden)" sent back keeps the stored value; the description changes
    status, updated = admin(mgw, "PUT", "/mcp-services/tmp-tools",
                            {**created, "description": "temporary"})
    assert status == 200 and updated["description"] == "temporary"
    assert mgw.stored_spec("mcp_services", "tmp-tools")["headers"] == {"Authorization": "Bearer up-secret-9"}
    status, audit = admin(mgw, "GET", "/audit?limit=20")
    assert status == 200
    assert "up-secret-9" not in json.dumps(audit)
    assert any(e["action"] == "mcp_service.create" for e in audit["entries"])
    assert admin(mgw, "DELETE", "/mcp-services/tmp-tools") == (200, {"deleted": "tmp-tools"})
    assert admin(mgw, "GET", "/mcp-services/tmp-tools")[0] == 404


@pytest.mark.parametrize("spec, param", [
    ({"name": "bad", "url": "ftp://x"}, "url"),
    ({"name": "bad name!", "url": "http://127.0.0.1:1/mcp"}, "name"),
    ({"name": "bad", "command": "npx", "args": ["server"]}, "command"),
    ({"name": "bad", "url": "http://127.0.0.1:1/mcp", "rate_limits": [{"key": "endpoint", "tokens": 5,
                                                                       "renewal_period": "minute"}]},
     "rate_limits"),
    ({"name": "bad", "url": "http://127.0.0.1:1/mcp", "colour": "red"}, "colour"),
])
def test_invalid_services_are_refused_naming_the_field(mgw: Gateway, spec: dict[str, Any], param: str) -> None:
    status, body = admin(mgw, "POST", "/mcp-services", spec)
    assert status == 400, body
    assert param in body["error"]["message"]


def test_only_administrators_manage_services(mgw: Gateway, users: Users) -> None:
    for method, path, body in (("GET", "/mcp-services", None), ("GET", "/mcp-services/calc", None),
                               ("POST", "/mcp-services", {"name": "x", "url": "http://127.0.0.1:1/"}),
                               ("DELETE", "/mcp-services/calc", None),
                               ("GET", "/mcp-services/calc/permissions", None),
                               ("PUT", "/mcp-services/calc/permissions", {"access_control_list": []}),
                               ("GET", "/mcp-services/calc-logged/payloads", None)):
        assert admin(mgw, method, path, body, token=users.alice)[0] == 403, (method, path)


def test_grants_read_back_and_are_checked(mgw: Gateway, users: Users) -> None:
    status, acl = admin(mgw, "GET", "/mcp-services/calc/permissions")
    assert status == 200
    assert {"user_name": "bob@mcp.test", "permission_level": "CAN_USE", "tools": ["echo"]} in acl["access_control_list"]
    assert admin(mgw, "PATCH", "/mcp-services/calc/permissions", {"access_control_list": [
        {"user_name": "alice@mcp.test", "permission_level": "CAN_QUERY"}]})[0] == 400
    assert admin(mgw, "PATCH", "/mcp-services/calc/permissions", {"access_control_list": [
        {"user_name": "alice@mcp.test", "tools": []}]})[0] == 400
    assert admin(mgw, "PATCH", "/mcp-services/calc/permissions", {"access_control_list": [
        {"user_name": "nobody@mcp.test"}]})[0] == 404
    assert admin(mgw, "GET", "/mcp-services/nope/permissions")[0] == 404


# --- /ai-gateway/mcp/{service} with the official MCP client ----------------------------------

def test_an_mcp_client_lists_and_calls_tools_through_the_gateway(mgw: Gateway, users: Users) -> None:
    async def go() -> tuple[list[str], Any, Any]:
        async with mcp_client(mgw, "calc", users.alice) as c:
            tools = await c.list_tools()
            added = await c.call_tool("add", {"a": 2, "b": 3})
            failed = await c.call_tool("fail", {"reason": "on purpose"})
            return [t.name for t in tools.tools], added, failed

    names, added, failed = run(go())
    assert {"add", "echo", "fail", "slow", "chain"} <= set(names)
    assert not added.is_error and added.content[0].text == "SUM=5"
    assert failed.is_error and "on purpose" in failed.content[0].text


def test_a_grant_for_some_tools_shows_and_allows_only_those(mgw: Gateway, users: Users) -> None:
    async def go() -> tuple[list[str], Any]:
        async with mcp_client(mgw, "calc", users.bob) as c:
            tools = [t.name for t in (await c.list_tools()).tools]
            echoed = await c.call_tool("echo", {"text": "hi"})
            with pytest.raises(MCPError) as refused:
                await c.call_tool("add", {"a": 1, "b": 1})
            return tools, (echoed, refused.value)

    tools, (echoed, refused) = run(go())
    assert tools == ["echo"]
    assert echoed.content[0].text == "ECHO=hi"
    assert "CAN_USE" in str(refused) and "add" in str(refused)


def test_callers_without_a_grant_or_a_token_are_refused(mgw: Gateway, users: Users) -> None:
    no_grant = call("POST", f"{mgw.base}/mcp/calc", _ping(), bearer(users.carol))
    assert no_grant.status == 403
    assert "CAN_USE" in no_grant.json()["error"]["message"]
    anonymous = call("POST", f"{mgw.base}/mcp/calc", _ping())
    assert anonymous.status == 401 and anonymous.headers.get("www-authenticate") == "Bearer"
    unknown = call("POST", f"{mgw.base}/mcp/nope", _ping(), bearer(users.alice))
    assert unknown.status == 404

    async def go() -> None:
        async with mcp_client(mgw, "calc", users.carol) as c:
            await c.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the 403 as its own error
        run(go())


def test_bad_messages_get_json_rpc_errors(mgw: Gateway, users: Users) -> None:
    url, h = f"{mgw.base}/mcp/calc", bearer(users.alice)
    assert call("POST", url, b"{not json", h).json()["error"]["code"] == -32700
    assert call("POST", url, {"id": 1, "method": "ping"}, h).json()["error"]["code"] == -32600
    unknown = call("POST", url, {"jsonrpc": "2.0", "id": 2, "method": "sampling/whatever"}, h)
    assert unknown.status == 200 and unknown.json()["error"]["code"] == -32601
    bad_args = call("POST", url, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                  "params": {"name": "add", "arguments": [1, 2]}}, h)
    assert bad_args.json()["error"]["code"] == -32602
    assert call("POST", url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, h).status == 202
    get = call("GET", url, None, {**h, "Accept": "text/event-stream"})
    assert get.status == 405


def test_every_tool_call_has_a_usage_row(mgw: Gateway, users: Users) -> None:
    async def go() -> None:
        async with mcp_client(mgw, "calc", users.alice) as c:
            await c.call_tool("echo", {"text": "counted"})
            await c.call_tool("fail", {})

    run(go())

    def rows() -> list[dict[str, Any]]:
        return admin(mgw, "GET", "/usage?mcp_service=calc&requester=alice@mcp.test&limit=50")[1]["rows"]

    until_stable(lambda: {"echo", "fail"} <= {r["mcp_tool"] for r in rows()}, timeout=10, times=1)
    echo = next(r for r in rows() if r["mcp_tool"] == "echo")
    assert echo["api_type"] == "mcp" and echo["status_code"] == 200 and echo["error_code"] is None
    assert echo["requester"] == "alice@mcp.test" and echo["latency_ms"] > 0
    assert echo["url"] == "/ai-gateway/mcp/calc"
    fail = next(r for r in rows() if r["mcp_tool"] == "fail")
    assert fail["error_code"] == "tool_error"
    status, agg = admin(mgw, "GET", "/usage/aggregate?group_by=mcp_tool&mcp_service=calc")
    assert status == 200
    assert any(g["key"] == "calc/echo" for g in agg["groups"]), agg


def test_a_service_rate_limit_counts_tool_calls(mgw: Gateway, users: Users) -> None:
    async def go() -> list[Any]:
        out: list[Any] = []
        async with mcp_client(mgw, "calc-limited", users.alice) as c:
            await c.list_tools()  # listing is not a call
            for i in range(3):
                try:
                    out.append(await c.call_tool("add", {"a": i, "b": 0}))
                except MCPError as e:
                    out.append(e)
        return out

    first, second, third = run(go())
    assert first.content[0].text == "SUM=0" and second.content[0].text == "SUM=1"
    assert isinstance(third, MCPError)
    assert "MCP service 'calc-limited'" in str(third) and "2 requests per minute" in str(third)


def test_payload_logging_keeps_arguments_and_results(mgw: Gateway, users: Users) -> None:
    async def go() -> None:
        async with mcp_client(mgw, "calc-logged", users.alice) as c:
            await c.call_tool("echo", {"text": "keep me"})

    run(go())

    def rows() -> list[dict[str, Any]]:
        return admin(mgw, "GET", "/mcp-services/calc-logged/payloads")[1]["payloads"]

    until_stable(lambda: bool(rows()), timeout=10, times=1)
    row = rows()[0]
    assert json.loads(row["request_body"]) == {"name": "echo", "arguments": {"text": "keep me"}}
    assert "ECHO=keep me" in row["response_body"]
    assert row["requester"] == "alice@mcp.test" and row["status_code"] == 200
    assert admin(mgw, "GET", "/mcp-services/calc/payloads")[1]["payloads"] == []  # not opted in


# --- a stdio service: a process each worker runs ---------------------------------------------------

def test_a_stdio_service_runs_with_its_own_environment_only(mgw: Gateway, users: Users) -> None:
    async def go() -> tuple[str, str, str, str]:
        async with mcp_client(mgw, "calc-stdio", users.alice) as c:
            added = await c.call_tool("add", {"a": 4, "b": 5})
            secret = await c.call_tool("env", {"name": "MCP_TEST_SECRET"})
            leak = await c.call_tool("env", {"name": "MCP_LEAK_CHECK"})
            admin_token = await c.call_tool("env", {"name": "UNIGATE_ADMIN_TOKEN"})
            return (added.content[0].text, secret.content[0].text, leak.content[0].text,
                    admin_token.content[0].text)

    assert run(go()) == ("SUM=9", "stdio-secret-5", "(unset)", "(unset)")
    status, body = admin(mgw, "GET", "/mcp-services/calc-stdio")
    assert status == 200 and body["env"] == {"MCP_TEST_SECRET": "(hidden)"} and body["command"] == sys.executable
    assert "stdio-secret-5" not in json.dumps(body)


def test_a_stdio_server_that_exits_is_started_again(mgw: Gateway, users: Users) -> None:
    async def go() -> tuple[Any, list[str]]:
        async with mcp_client(mgw, "calc-stdio", users.alice) as c:
            with pytest.raises(MCPError) as crashed:
                await c.call_tool("crash", {})
            after = []
            for i in range(4):  # each worker: the next call starts a new process
                after.append((await c.call_tool("add", {"a": i, "b": 1})).content[0].text)
            return crashed.value, after

    crashed, after = run(go())
    assert "exited" in str(crashed)
    assert after == ["SUM=1", "SUM=2", "SUM=3", "SUM=4"]


def test_stdio_services_are_refused_through_the_api_unless_the_file_allows_them(mgw: Gateway, tmp_path: Any) -> None:
    status, body = admin(mgw, "POST", "/mcp-services", {"name": "shell", "command": "/bin/sh", "args": ["-c", "id"]})
    assert status == 400 and "settings.mcp_stdio_from_api" in body["error"]["message"]
    status, body = admin(mgw, "POST", "/apply", {"mcp_services": [{"name": "shell", "command": "/bin/sh"}],
                                                  "dry_run": True})
    assert status == 400 and "settings.mcp_stdio_from_api" in body["error"]["message"]
    # the gateway's own file, applied again, plans no change to its stdio service
    _, listed = admin(mgw, "GET", "/mcp-services/calc-stdio")
    spec = {k: v for k, v in listed.items() if k not in ("created_at", "updated_at")}
    spec["env"] = {"MCP_TEST_SECRET": "stdio-secret-5"}
    status, body = admin(mgw, "POST", "/apply", {"mcp_services": [spec], "dry_run": True})
    assert status == 200 and body["plan"]["changes"] == [], body


# --- the agent loop naming a registered service -------------------------------------------------

def oai(gw: Gateway, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base}/mlflow/v1", api_key=token, max_retries=0)


@pytest.mark.parametrize("endpoint", ["agent-openai", "agent-anthropic"])
@pytest.mark.parametrize("tool", [
    {"type": "mcp", "server_label": "calc", "require_approval": "never"},
    {"type": "uc_connection", "uc_connection": {"name": "calc"}},
    {"type": "app", "app": {"name": "calc"}},
])
def test_the_loop_uses_a_registered_service_by_name(mgw: Gateway, users: Users, endpoint: str,
                                                      tool: dict[str, Any]) -> None:
    resp = oai(mgw, users.alice).responses.create(
        model=endpoint, input='MOCK_MCP_CALL:add{"a":20,"b":22}', tools=[tool])  # type: ignore[list-item]
    calls = [o for o in resp.output if o.type == "mcp_call"]
    assert calls and calls[0].output == "SUM=42" and calls[0].server_label == "calc"
    assert resp.output_text == "TOOL_SAID:SUM=42"

    def loop_rows() -> list[dict[str, Any]]:
        body = admin(mgw, "GET", f"/usage?mcp_service=calc&endpoint={endpoint}&limit=100")[1]
        return [r for r in body["rows"] if r["mcp_tool"] == "add"]

    until_stable(lambda: bool(loop_rows()), timeout=10, times=1)
    row = loop_rows()[0]
    assert row["requester"] == "alice@mcp.test" and row["url"].endswith("/responses")
    assert row["routing_information"][0]["parent_request_id"]


def test_the_loop_honours_grants_on_services_and_tools(mgw: Gateway, users: Users) -> None:
    tool = {"type": "mcp", "server_label": "calc", "require_approval": "never"}
    with pytest.raises(openai.PermissionDeniedError) as denied:
        oai(mgw, users.carol).responses.create(model="agent-openai", input="hi", tools=[tool])  # type: ignore[list-item]
    assert "CAN_USE" in str(denied.value)
    with pytest.raises(openai.BadRequestError) as unknown:
        oai(mgw, users.alice).responses.create(
            model="agent-openai", input="hi",
            tools=[{"type": "mcp", "server_label": "nope", "require_approval": "never"}])  # type: ignore[list-item]
    assert "no MCP service named 'nope'" in str(unknown.value)
    # bob may use echo only: add is not shown to the model, echo runs
    resp = oai(mgw, users.bob).responses.create(
        model="agent-openai", input='MOCK_MCP_CALL:echo{"text":"via loop"}', tools=[tool])  # type: ignore[list-item]
    listed = next(o for o in resp.output if o.type == "mcp_list_tools")
    assert [t.name for t in listed.tools] == ["echo"]
    assert resp.output_text == "TOOL_SAID:ECHO=via loop"


def test_a_registered_service_refuses_request_headers(mgw: Gateway, users: Users) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        oai(mgw, users.alice).responses.create(model="agent-openai", input="hi", tools=[
            {"type": "mcp", "server_label": "calc", "headers": {"X-Other": "1"}}])  # type: ignore[list-item]
    assert "its own credentials" in str(refused.value)


# --- unigate apply and the CLI ----------------------------------------------------------------------

def test_apply_plans_and_creates_services_and_the_cli_grants(mgw: Gateway, mcp_url: str, tmp_path: Any,
                                                             users: Users) -> None:
    cfg = tmp_path / "apply.yaml"
    cfg.write_text(f"""
mcp_services:
  - name: applied-tools
    url: "{mcp_url}"
    headers: {{X-Key: applied-secret-7}}
""")
    env = {**mgw.env, "UNIGATE_URL": mgw.url, "UNIGATE_TOKEN": ADMIN_TOKEN}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "unigate.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    plan = cli("apply", "-f", str(cfg), "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "+ create mcp_service applied-tools" in plan.stdout
    assert "applied-secret-7" not in plan.stdout
    done = cli("apply", "-f", str(cfg), "--yes")
    assert done.returncode == 0, done.stderr
    assert admin(mgw, "GET", "/mcp-services/applied-tools")[0] == 200
    granted = cli("mcp-services", "grant", "applied-tools", "user:carol@mcp.test=echo")
    assert granted.returncode == 0, granted.stderr
    assert "carol@mcp.test" in granted.stdout and "echo" in granted.stdout
    listed = cli("mcp-services", "list")
    assert "applied-tools" in listed.stdout and "applied-secret-7" not in listed.stdout
    until_stable(lambda: call("POST", f"{mgw.base}/mcp/applied-tools", _ping(), bearer(users.carol)).status == 200)
    deleted = cli("mcp-services", "delete", "applied-tools")
    assert deleted.returncode == 0 and "Deleted MCP service applied-tools" in deleted.stdout


def test_the_loop_uses_a_stdio_service(mgw: Gateway, users: Users) -> None:
    resp = oai(mgw, users.alice).responses.create(
        model="agent-anthropic", input='MOCK_MCP_CALL:add{"a":7,"b":8}',
        tools=[{"type": "mcp", "server_label": "calc-stdio", "require_approval": "never"}])  # type: ignore[list-item]
    assert resp.output_text == "TOOL_SAID:SUM=15"


def test_a_stdio_services_environment_sent_back_hidden_keeps_its_values(mock_url: str) -> None:
    """With stdio services allowed through the API, a PUT of the spec as read ('(hidden)' env
    values) changes the description and keeps the environment the process gets."""
    gw = start_gateway(f"""
mcp_services:
  - name: env-stdio
    command: "{sys.executable}"
    args: ["-m", "tests.mocks.mcp_server", "stdio"]
    cwd: "{ROOT}"
    env: {{MCP_TEST_SECRET: kept-secret-7}}
settings:
  mcp_stdio_from_api: true
""", workers=1)
    try:
        async def secret() -> str:
            async with mcp_client(gw, "env-stdio", ADMIN_TOKEN) as c:
                return str((await c.call_tool("env", {"name": "MCP_TEST_SECRET"})).content[0].text)

        assert run(secret()) == "kept-secret-7"
        _, listed = admin(gw, "GET", "/mcp-services/env-stdio")
        assert listed["env"] == {"MCP_TEST_SECRET": "(hidden)"}
        spec = {k: v for k, v in listed.items() if k not in ("created_at", "updated_at")}
        status, body = admin(gw, "PUT", "/mcp-services/env-stdio", spec | {"description": "changed"})
        assert status == 200, body
        until_stable(lambda: admin(gw, "GET", "/mcp-services/env-stdio")[1]["description"] == "changed")
        deadline = time.monotonic() + 10
        while (got := run(secret())) != "kept-secret-7":  # the worker restarts the process on the change
            assert got != "(hidden)", "the placeholder was stored as the value"
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
        time.sleep(1.5)  # past the reload: the restarted process must have the stored value too
        assert run(secret()) == "kept-secret-7"
    finally:
        gw.stop()
