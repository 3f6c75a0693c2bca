"""The console's shell: files served from the package with their security headers, sign-in
with a good and a bad token, the navigation each kind of caller gets, and sign-out."""

from __future__ import annotations

import urllib.error
import urllib.request

from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway


def fetch(gw: Gateway, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(gw.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_the_console_is_served_from_the_package_with_a_strict_policy(gw: Gateway) -> None:
    status, headers, body = fetch(gw, "/console/")
    assert status == 200 and b'<script type="module" src="js/app.js">' in body
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    status, headers, _ = fetch(gw, "/console/js/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, _, _ = fetch(gw, "/console/js/app.js", {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert fetch(gw, "/console/../../pyproject.toml")[0] == 404
    assert fetch(gw, "/console/js/%2e%2e/%2e%2e/server/app.py")[0] == 404
    assert fetch(gw, "/console/nothing-here.js")[0] == 404


def test_me_says_who_the_caller_is(gw: Gateway) -> None:
    status, body = admin(gw, "GET", "/me")
    assert status == 200 and body["is_admin"] is True and "chat-openai" in body["can_manage"]
    user, token = new_user(gw, query=("chat-openai",))
    status, body = admin(gw, "GET", "/me", token=token)
    assert status == 200, body
    assert body["principal"] == user and body["is_admin"] is False and body["can_manage"] == []
    assert body["can_query"] == ["chat-openai"]
    assert admin(gw, "GET", "/me", token="ug-not-a-token")[0] == 401


def test_sign_in_refuses_a_bad_token_and_shows_an_admin_everything(page: Page, gw: Gateway) -> None:
    page.goto("/console/")
    page.get_by_label("Token").fill("ug-wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    shot(page, "sign-in")
    sign_in(page, gw.token)
    nav = page.get_by_role("navigation", name="Console")
    for label in ("Endpoints", "Providers", "Users", "Tokens", "Usage", "Payloads", "Audit log", "Playground"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token")).to_be_visible()


def test_a_plain_user_sees_only_its_tokens_usage_and_playground(page: Page, gw: Gateway) -> None:
    _, token = new_user(gw, query=("chat-openai",))
    sign_in(page, token)
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Tokens")).to_be_visible()
    expect(nav.get_by_role("link", name="Usage")).to_be_visible()
    expect(nav.get_by_role("link", name="Playground")).to_be_visible()
    for hidden in ("Endpoints", "Providers", "Users", "Audit log", "Payloads"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
