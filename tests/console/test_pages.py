"""Every page the navigation offers opens cleanly for each kind of caller: an administrator, an
endpoint manager and a plain user each see their own set of links, and every one of them
renders its heading with no error shown and no script error (the `page` fixture fails a test
on any uncaught page error)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.admin import new_user
from tests.console.conftest import sign_in
from tests.integration.gateway import Gateway

ADMIN_PAGES = ["Endpoints", "Providers", "Users", "Service principals", "Groups", "Tokens", "Usage",
               "MCP services", "Budgets", "Prices", "Payloads", "Audit log", "Playground"]
MANAGER_PAGES = ["Endpoints", "Users", "Service principals", "Groups", "Tokens", "Usage", "Prices",
                 "Payloads", "Playground"]
USER_PAGES = ["Tokens", "Usage", "Playground"]


def token_for(gw: Gateway, role: str) -> str:
    if role == "admin":
        return gw.token
    if role == "manager":
        return new_user(gw, manage=("chat-anthropic",))[1]
    return new_user(gw, query=("chat-openai",))[1]


@pytest.mark.parametrize(("role", "pages"), [("admin", ADMIN_PAGES), ("manager", MANAGER_PAGES),
                                              ("user", USER_PAGES)])
def test_every_page_in_the_navigation_opens_cleanly(page: Page, gw: Gateway, role: str, pages: list[str]) -> None:
    sign_in(page, token_for(gw, role))
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link")).to_have_text(pages)
    for label in pages:
        nav.get_by_role("link", name=label, exact=True).click()
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "true")
        expect(page.locator("main#page h1").first).to_be_visible()
        page.wait_for_load_state("networkidle")  # the page's API calls have answered
        expect(page.locator("main#page .error-box"), f"{label} shows an error").to_have_count(0)
        expect(page.locator("main#page .loading")).to_have_count(0)
