"""The MCP services page in Chromium, against a real MCP server on loopback (the official `mcp`
SDK's, tests/mocks/mcp_server.py): registering one with a write-only header, editing it (the
header kept), the tools it lists, a CAN_USE grant narrowed to one tool, rate limits, payload
logging and the logged calls, the stdio refusal, and deleting with a confirmation. Effects are
checked through the admin API and the gateway's MCP surface."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import console_config, shot
from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call
from tests.mocks.mcp_process import ROOT, start_mcp_server

SECRET = "svc-secret-" + uuid.uuid4().hex[:12]
ENV_SECRET = "env-secret-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    """The console's gateway, with a stdio service from its file (which the API may not
    register: settings.mcp_stdio_from_api is not set)."""
    gateway = start_gateway(console_config(mock_url) + f"""
mcp_services:
  - name: local-tools
    command: "{sys.executable}"
    args: ["-m", "tests.mocks.mcp_server", "stdio"]
    cwd: "{ROOT}"
    env: {{MCP_TEST_SECRET: {ENV_SECRET}}}
    description: the test server as a local process
""", workers=1)
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    url, stop = start_mcp_server()
    yield url
    stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def register(gw: Gateway, name: str, url: str, **spec: Any) -> dict[str, Any]:
    status, body = admin(gw, "POST", "/mcp-services", {"name": name, "url": url, **spec})
    assert status == 201, body
    return dict(body)


def rpc(gw: Gateway, service: str, method: str, params: dict[str, Any], token: str,
        retry_on: tuple[int, ...] = (404,)) -> dict[str, Any]:
    """One JSON-RPC request to /ai-gateway/mcp/{service}, retried (bounded) while a change has
    not reached the worker yet: a new service (404), a new grant (403)."""
    deadline = time.monotonic() + 10
    while True:
        r = call("POST", f"{gw.base}/mcp/{service}", {"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                 bearer(token))
        if r.status not in retry_on or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 200, r.body
    answer: dict[str, Any] = r.json()
    assert "result" in answer, answer
    return dict(answer["result"])


def dom_text(page: Page) -> str:
    """The page's HTML and every form control's current value (a password field's value is no
    attribute, so the HTML alone would not show it)."""
    values = page.evaluate("() => [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\\n')")
    return page.content() + "\n" + str(values)


def region(page: Page, name: str) -> Any:
    return page.get_by_role("region", name=name, exact=True)


def open_service(page: Page, name: str) -> None:
    page.goto(f"/console/#/mcp-services/{name}")
    expect(page.get_by_role("heading", name=f"MCP service {name}")).to_be_visible()


# --- screenshots (first, so the list holds only these and the file's service) ----------

def test_screenshots(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page = signed_in
    register(gw, "docs", mcp_url, description="internal documentation search",
             headers={"Authorization": "Bearer " + SECRET}, timeout="30s",
             rate_limits=[{"key": "user_default", "requests": 60, "renewal_period": "minute"},
                          {"key": "endpoint", "requests": 1000, "renewal_period": "minute"}],
             inference_table={"enabled": True, "retention_days": 30})
    register(gw, "calc-tools", mcp_url, description="arithmetic and echo")
    email, _ = new_user(gw)
    assert admin(gw, "PUT", "/mcp-services/docs/permissions", {"access_control_list": [
        {"user_name": email, "permission_level": "CAN_USE", "tools": ["echo", "add"]}]})[0] == 200
    page.goto("/console/#/mcp-services")
    expect(page.get_by_role("link", name="docs", exact=True)).to_be_visible()
    shot(page, "mcp-services")
    open_service(page, "docs")
    expect(region(page, "Tools").get_by_text("echo", exact=True)).to_be_visible()
    shot(page, "mcp-service-detail")


# --- registering and editing -----------------------------------------------------------------

def test_register_a_service_with_a_header_through_the_form(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("docs")
    page.goto("/console/#/mcp-services")
    page.get_by_role("button", name="New MCP service").click()
    form = page.get_by_role("form", name="New MCP service")
    form.get_by_label("Name").fill(name)
    form.get_by_label("URL", exact=True).fill(mcp_url)
    form.get_by_label("Description").fill("internal documentation search")
    form.get_by_label("Timeout").fill("30s")
    form.get_by_role("button", name="Add header").click()
    form.get_by_label("Header 1 name").fill("X-Service-Key")
    form.get_by_label("Header 1 value").fill(SECRET)
    form.get_by_role("button", name="Register service").click()
    expect(page.get_by_role("heading", name=f"MCP service {name}")).to_be_visible()

    status, body = admin(gw, "GET", f"/mcp-services/{name}")
    assert status == 200
    assert body["url"] == mcp_url
    assert body["description"] == "internal documentation search"
    assert body["timeout"] == "30s"
    assert body["headers"] == {"X-Service-Key": "(hidden)"}
    assert SECRET not in json.dumps(body)
    assert SECRET not in json.dumps(admin(gw, "GET", "/mcp-services")[1])
    server = region(page, "Server")
    expect(server).to_contain_text("X-Service-Key")
    expect(server).to_contain_text(mcp_url)
    assert SECRET not in dom_text(page)

    page.goto("/console/#/mcp-services")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text(mcp_url)
    expect(row).to_contain_text("internal documentation search")
    expect(row).to_contain_text("30s")
    assert SECRET not in dom_text(page)


def test_edit_the_description_keeping_the_stored_header(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("kb")
    register(gw, name, mcp_url, headers={"X-Service-Key": SECRET}, description="before")
    open_service(page, name)
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name=f"Edit {name}")
    expect(form.get_by_label("Name")).to_be_disabled()
    expect(form.get_by_label("Header 1 value")).to_have_value("")  # the value is never put back in the page
    expect(form.get_by_label("Header 1 value")).to_have_attribute("placeholder", "unchanged (write-only)")
    assert SECRET not in dom_text(page)
    form.get_by_label("Description").fill("after")
    form.get_by_role("button", name="Save service").click()
    expect(page.get_by_role("heading", name=f"MCP service {name}")).to_be_visible()

    status, body = admin(gw, "GET", f"/mcp-services/{name}")
    assert status == 200 and body["description"] == "after"
    assert body["headers"] == {"X-Service-Key": "(hidden)"}
    # The stored value was kept: the update changed the description only (a header sent as
    # anything but '(hidden)' would show in the audited diff).
    status, audit = admin(gw, "GET", f"/audit?action=mcp_service.update&target={name}")
    assert status == 200
    assert [[d["field"] for d in e["details"]["diff"]] for e in audit["entries"]] == [["description"]]
    assert SECRET not in json.dumps(audit)


def test_removing_a_stored_header_explicitly(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("hdr")
    register(gw, name, mcp_url, headers={"X-Service-Key": SECRET, "X-Team": "t-1"})
    page.goto(f"/console/#/mcp-services/{name}/edit")
    form = page.get_by_role("form", name=f"Edit {name}")
    form.get_by_role("button", name="Remove header X-Team").click()
    form.get_by_role("button", name="Save service").click()
    expect(page.get_by_role("heading", name=f"MCP service {name}")).to_be_visible()
    assert admin(gw, "GET", f"/mcp-services/{name}")[1]["headers"] == {"X-Service-Key": "(hidden)"}


def test_a_stdio_service_is_refused_with_the_apis_error_in_place(signed_in: Page, gw: Gateway) -> None:
    page, name = signed_in, unique("files")
    page.goto("/console/#/mcp-services/_new")
    form = page.get_by_role("form", name="New MCP service")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Server").select_option(label="Local process (stdio command)")
    expect(form.get_by_label("URL", exact=True)).to_be_hidden()
    form.get_by_label("Command").fill("npx")
    form.get_by_label("Arguments, one per line").fill("-y\n@modelcontextprotocol/server-filesystem\n/srv")
    form.get_by_role("button", name="Register service").click()
    expect(form.get_by_role("alert")).to_contain_text("mcp_stdio_from_api")
    expect(form.get_by_label("Command")).to_have_attribute("aria-invalid", "true")
    assert admin(gw, "GET", f"/mcp-services/{name}")[0] == 404


def test_a_bad_url_shows_the_apis_error(signed_in: Page, gw: Gateway) -> None:
    page, name = signed_in, unique("bad")
    page.goto("/console/#/mcp-services/_new")
    form = page.get_by_role("form", name="New MCP service")
    form.get_by_label("Name").fill(name)
    form.get_by_label("URL", exact=True).fill("ftp://example.com/mcp")
    form.get_by_role("button", name="Register service").click()
    expect(form.get_by_role("alert")).to_contain_text("http:// or https://")
    expect(form.get_by_label("URL", exact=True)).to_have_attribute("aria-invalid", "true")
    assert admin(gw, "GET", f"/mcp-services/{name}")[0] == 404


# --- one service: tools, grants, rate limits, payloads -----------------------------------------

def test_the_detail_lists_the_servers_tools(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("calc")
    register(gw, name, mcp_url, description="arithmetic and echo")
    served = rpc(gw, name, "tools/list", {}, gw.token)["tools"]
    open_service(page, name)
    tools = region(page, "Tools")
    expect(tools.get_by_text(f"{len(served)} tools")).to_be_visible()
    shown = tools.locator("tbody tr td:first-child").all_inner_texts()
    assert sorted(shown) == sorted(t["name"] for t in served)
    add = tools.get_by_role("row").filter(has=page.get_by_text("add", exact=True))
    expect(add).to_contain_text("Add two integers and return the sum.")
    expect(add).to_contain_text("a: integer, b: integer")
    expect(tools.get_by_role("row").filter(has=page.get_by_text("echo", exact=True))).to_contain_text("read-only")


def test_grant_can_use_on_one_tool(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("grants")
    register(gw, name, mcp_url)
    email, token = new_user(gw)
    open_service(page, name)
    perms = region(page, "Permissions")
    expect(perms).to_contain_text("only administrators can use this service")
    form = perms.get_by_role("form", name="Add a grant")
    form.get_by_label("Member").fill(email)
    form.get_by_label("Every tool, present and future").uncheck()
    form.get_by_label("echo", exact=True).check()
    form.get_by_role("button", name="Grant CAN_USE").click()
    row = perms.get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text("echo")

    status, acl = admin(gw, "GET", f"/mcp-services/{name}/permissions")
    assert status == 200
    assert acl["access_control_list"] == [{"user_name": email, "permission_level": "CAN_USE", "tools": ["echo"]}]
    # The grant works as narrowed: the user's tools/list shows echo only.
    assert [t["name"] for t in rpc(gw, name, "tools/list", {}, token, retry_on=(403, 404))["tools"]] == ["echo"]

    # Granting again with every tool widens it; removing asks first.
    form.get_by_label("Member").fill(email)
    form.get_by_role("button", name="Grant CAN_USE").click()
    expect(row).to_contain_text("every tool")
    assert admin(gw, "GET", f"/mcp-services/{name}/permissions")[1]["access_control_list"] == [
        {"user_name": email, "permission_level": "CAN_USE"}]
    perms.get_by_role("button", name=f"Remove {email}").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Remove").click()
    expect(perms).to_contain_text("only administrators can use this service")
    assert admin(gw, "GET", f"/mcp-services/{name}/permissions")[1]["access_control_list"] == []


def test_a_grant_with_no_tool_ticked_shows_the_apis_error(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("nogrant")
    register(gw, name, mcp_url)
    email, _ = new_user(gw)
    open_service(page, name)
    form = region(page, "Permissions").get_by_role("form", name="Add a grant")
    form.get_by_label("Member").fill(email)
    form.get_by_label("Every tool, present and future").uncheck()
    expect(form.get_by_label("add", exact=True)).to_be_enabled()
    form.get_by_role("button", name="Grant CAN_USE").click()
    expect(form.get_by_role("alert")).to_contain_text("non-empty list of tool names")
    assert admin(gw, "GET", f"/mcp-services/{name}/permissions")[1]["access_control_list"] == []


def test_rate_limits_payload_logging_and_the_logged_calls(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("logged")
    register(gw, name, mcp_url, headers={"X-Service-Key": SECRET})
    open_service(page, name)

    limits = region(page, "Rate limits")
    limits.get_by_role("button", name="Add limit").click()
    limits.get_by_label("Limit 1 tool calls").fill("100")
    limits.get_by_role("button", name="Save rate limits").click()
    expect(page.get_by_role("status").filter(has_text=f"Rate limits of {name} saved (1)")).to_be_visible()
    logging = region(page, "Payload logging")
    logging.get_by_label("Log each tool call's arguments and result").check()
    logging.get_by_label("Retention (days)").fill("7")
    logging.get_by_role("button", name="Save payload logging").click()
    expect(page.get_by_role("status").filter(has_text=f"Payload logging of {name} is on")).to_be_visible()

    body = admin(gw, "GET", f"/mcp-services/{name}")[1]
    assert body["rate_limits"] == [{"key": "user_default", "requests": 100, "renewal_period": "minute"}]
    assert body["inference_table"] == {"enabled": True, "retention_days": 7}
    assert body["headers"] == {"X-Service-Key": "(hidden)"}
    audit = admin(gw, "GET", f"/audit?action=mcp_service.update&target={name}")[1]
    assert {d["field"].split("[")[0].split(".")[0] for e in audit["entries"] for d in e["details"]["diff"]} == {
        "rate_limits", "inference_table"}  # the header kept through both saves

    # A tool call through the gateway, logged off the request path: waited for (bounded).
    deadline = time.monotonic() + 15
    while True:
        result = rpc(gw, name, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}, gw.token)
        rows = admin(gw, "GET", f"/mcp-services/{name}/payloads")[1]["payloads"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "SUM=5" in json.dumps(result) and rows, rows

    logging.get_by_role("button", name="Browse payloads").click()
    expect(page.get_by_role("heading", name=f"Payloads of {name}")).to_be_visible()
    expect(page.get_by_text(f"Payload logging is on for {name} (kept for 7 days).")).to_be_visible()
    call_row = page.get_by_role("row").filter(has_text=rows[0]["request_id"])
    expect(call_row).to_contain_text("add")
    expect(call_row).to_contain_text("200")
    call_row.get_by_label(f"Arguments of {rows[0]['request_id']}").click()
    expect(call_row.locator("pre.json").first).to_contain_text('"a": 2')
    call_row.get_by_label(f"Result of {rows[0]['request_id']}").click()
    expect(call_row.locator("pre.json").last).to_contain_text("SUM=5")
    assert SECRET not in dom_text(page)


def test_delete_with_confirmation(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("gone")
    register(gw, name, mcp_url)
    page.goto("/console/#/mcp-services")
    page.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert admin(gw, "GET", f"/mcp-services/{name}")[0] == 200

    page.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert admin(gw, "GET", f"/mcp-services/{name}")[0] == 404


def test_delete_from_the_detail(signed_in: Page, gw: Gateway, mcp_url: str) -> None:
    page, name = signed_in, unique("gone2")
    register(gw, name, mcp_url)
    open_service(page, name)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="MCP services", exact=True)).to_be_visible()
    assert admin(gw, "GET", f"/mcp-services/{name}")[0] == 404


def test_a_stdio_service_from_the_file(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    page.goto("/console/#/mcp-services")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="local-tools", exact=True))
    expect(row).to_contain_text("stdio")
    expect(row).to_contain_text(f"{sys.executable} -m tests.mocks.mcp_server stdio")
    row.get_by_role("link", name="local-tools").click()
    server = region(page, "Server")
    expect(server).to_contain_text("MCP_TEST_SECRET")
    expect(server).to_contain_text(str(ROOT))
    served = rpc(gw, "local-tools", "tools/list", {}, gw.token)["tools"]
    expect(region(page, "Tools").get_by_text(f"{len(served)} tools")).to_be_visible()  # listed by the process
    assert ENV_SECRET not in dom_text(page)
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit local-tools")
    expect(form.get_by_label("Command")).to_have_value(sys.executable)
    expect(form.get_by_label("Variable 1 value")).to_have_value("")
    assert ENV_SECRET not in dom_text(page)
    # Without settings.mcp_stdio_from_api the API changes no stdio service: its error, in place.
    form.get_by_label("Description").fill("changed")
    form.get_by_role("button", name="Save service").click()
    expect(form.get_by_role("alert")).to_contain_text("mcp_stdio_from_api")
    assert admin(gw, "GET", "/mcp-services/local-tools")[1]["description"] == "the test server as a local process"
