"""The Audit log and Payloads pages: the audit log shows what an administrator just did, with
its filters; the payload browser shows a logged chat request and its bodies, and says when an
endpoint does not log payloads."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call


def test_the_audit_log_shows_the_admins_changes_and_filters_them(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    email, group = f"audited-{uuid.uuid4().hex[:8]}@example.com", f"audited-{uuid.uuid4().hex[:8]}"
    assert admin(gw, "POST", "/users", {"email": email})[0] == 201
    assert admin(gw, "POST", "/groups", {"name": group, "members": [{"user_name": email}]})[0] == 201
    page.goto("/console/#/audit")
    created = page.get_by_role("row").filter(has_text=email).filter(has_text="user.create")
    expect(created).to_contain_text("admin")
    expect(page.get_by_role("row").filter(has_text=group).filter(has_text="group.create")).to_contain_text(email)
    shot(page, "audit")

    filters = page.get_by_role("form", name="Filter the audit log")
    filters.get_by_label("Target").fill(email)
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row")).to_have_count(2)  # the header and user.create
    expect(created).to_be_visible()
    filters.get_by_label("Target").fill("")
    filters.get_by_label("Action").fill("group.")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text=group)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="user.create")).to_have_count(0)
    filters.get_by_label("From").fill("2099-01-01T00:00")  # nothing happened after this yet
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No audit entries match.")).to_be_visible()
    filters.get_by_label("From").fill("")
    filters.get_by_label("Until").fill("2000-01-01T00:00")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No audit entries match.")).to_be_visible()
    filters.get_by_label("Until").fill("")
    filters.get_by_label("Actor").fill("nobody-did-this")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No audit entries match.")).to_be_visible()
    expect(page.get_by_role("button", name="Next")).to_be_disabled()


def test_the_audit_log_pages_through_entries(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i:02d}" for i in range(51)]
    for name in names:
        assert admin(gw, "POST", "/groups", {"name": name})[0] == 201
    page.goto("/console/#/audit")
    filters = page.get_by_role("form", name="Filter the audit log")
    filters.get_by_label("Action").fill("group.create")
    filters.get_by_label("Per page").select_option("50")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text=names[-1])).to_be_visible()  # newest first
    expect(page.get_by_role("row").filter(has_text=names[0])).to_have_count(0)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("row").filter(has_text=names[0])).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=names[-1])).to_have_count(0)
    page.get_by_role("button", name="Previous").click()
    expect(page.get_by_role("row").filter(has_text=names[-1])).to_be_visible()


def wait_payload(gw: Gateway, endpoint: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10  # the payload writer flushes in batches
    while True:
        status, body = admin(gw, "GET", f"/endpoints/{endpoint}/payloads?request_id={request_id}")
        assert status == 200, body
        if body["payloads"]:
            row: dict[str, Any] = body["payloads"][0]
            return row
        assert time.monotonic() < deadline, f"no payload row for {request_id}"
        time.sleep(0.2)


def chat(gw: Gateway, text: str) -> tuple[int, str]:
    r = call("POST", f"{gw.url}/ai-gateway/mlflow/v1/chat/completions",
             {"model": "chat-openai", "messages": [{"role": "user", "content": text}]}, bearer(gw.token))
    return r.status, r.headers.get("x-request-id", "")


def log_payloads_and_answer(gw: Gateway) -> None:
    """chat-openai logs payloads (set through the API), and the workers know it: a chat is
    logged once a probe request's payload row is there."""
    assert admin(gw, "PUT", "/endpoints/chat-openai/inference-table", {"enabled": True, "retention_days": 7})[0] == 200
    deadline = time.monotonic() + 15
    probes: list[str] = []
    while True:
        status, rid = chat(gw, "ready?")
        assert status == 200
        probes.append(rid)  # written in batches: an earlier probe's row may be the one that arrives
        for probe in probes:
            if admin(gw, "GET", f"/endpoints/chat-openai/payloads?request_id={probe}")[1]["payloads"]:
                return
        assert time.monotonic() < deadline, "chat-openai's payloads were never logged"
        time.sleep(0.3)


def test_the_payload_browser_shows_a_logged_request_and_its_bodies(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    log_payloads_and_answer(gw)
    unique = f"payload-browser-{uuid.uuid4().hex[:10]}"
    status, request_id = chat(gw, unique)
    assert status == 200 and request_id
    row = wait_payload(gw, "chat-openai", request_id)
    assert unique in row["request_body"]

    page.goto("/console/#/payloads")
    page.get_by_label("Endpoint").select_option("chat-openai")
    expect(page).to_have_url(re.compile(r"#/payloads/chat-openai$"))
    expect(page.get_by_text("Payload logging is on for chat-openai")).to_be_visible()
    line = page.get_by_role("row").filter(has_text=request_id)
    expect(line).to_contain_text("admin")
    expect(line).to_contain_text("200")
    shot(page, "payloads")
    line.click()
    detail = page.get_by_role("dialog", name=f"Request {request_id}")
    bodies = detail.locator("pre.json")
    expect(bodies.first).to_contain_text(unique)
    expect(bodies.nth(1)).to_contain_text("MOCK-UPSTREAM-OK: " + unique)
    assert json.loads(bodies.first.inner_text())["messages"][0]["content"] == unique  # pretty-printed JSON
    shot(page, "payloads-detail")


def test_an_endpoint_without_payload_logging_says_how_to_turn_it_on(page: Page, gw: Gateway) -> None:
    manager, token = new_user(gw, manage=("chat-anthropic",))
    sign_in(page, token)
    page.goto("/console/#/payloads/chat-anthropic")
    hint = page.get_by_role("note")
    expect(hint).to_contain_text("Payload logging is off for chat-anthropic")
    expect(hint).to_contain_text("inference_table")
    options = page.get_by_label("Endpoint").locator("option")
    expect(options).to_have_text(["Choose an endpoint…", "chat-anthropic"])  # only what it manages
    hint.get_by_role("button", name="Turn payload logging on").click()
    expect(page.get_by_text("Payload logging is on for chat-anthropic")).to_be_visible()
    assert admin(gw, "GET", "/endpoints/chat-anthropic/inference-table")[1]["enabled"] is True
    assert admin(gw, "PUT", "/endpoints/chat-anthropic/inference-table", {"enabled": False})[0] == 200
