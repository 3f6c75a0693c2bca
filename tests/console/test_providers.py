"""The providers page: creating a provider with a key (which never reaches the page nor the
API's answers), editing it without the key (kept) and clearing the key, the API's error in the
form, and deleting: refused with the API's 409 while an endpoint uses the provider."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.console.admin import admin
from tests.console.conftest import shot
from tests.integration.gateway import Gateway

SECRET = "sk-console-secret-" + uuid.uuid4().hex
HEADER_SECRET = "hdr-secret-" + uuid.uuid4().hex


def open_providers(page: Page) -> None:
    page.goto("/console/#/providers")
    expect(page.get_by_role("heading", name="Providers")).to_be_visible()
    expect(page.get_by_role("button", name="New provider")).to_be_enabled()


def provider_row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))


def test_a_key_is_written_once_and_never_shown(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    name = f"upstream-{uuid.uuid4().hex[:6]}"
    open_providers(page)
    for configured in ("openai-main", "claude"):
        expect(provider_row(page, configured)).to_contain_text("key set")
    page.get_by_role("button", name="New provider").click()
    form = page.get_by_role("form", name="New provider")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Type").select_option("openai_compatible")
    form.get_by_label("Base URL").fill("http://127.0.0.1:9/v1")
    form.get_by_label("API key").fill(SECRET)
    form.get_by_role("button", name="Add header").click()
    form.get_by_label("Header 1 name").fill("X-Team-Token")
    form.get_by_label("Header 1 value").fill(HEADER_SECRET)
    shot(page, "providers-form")
    form.get_by_role("button", name="Create provider").click()
    row = provider_row(page, name)
    expect(row).to_contain_text("openai_compatible")
    expect(row).to_contain_text("http://127.0.0.1:9/v1")
    expect(row).to_contain_text("key set")
    expect(row).to_contain_text("X-Team-Token")
    assert SECRET not in page.content() and HEADER_SECRET not in page.content()
    shot(page, "providers")

    status, body = admin(gw, "GET", f"/providers/{name}")
    assert status == 200 and body["api_key_set"] is True and "api_key" not in body
    assert body["headers"] == {"X-Team-Token": "(hidden)"}
    listed = admin(gw, "GET", "/providers")[1]
    assert SECRET not in json.dumps(listed) and HEADER_SECRET not in json.dumps(listed)

    row.get_by_role("button", name=f"Edit {name}").click()
    form = page.get_by_role("form", name=f"Edit {name}")
    expect(form.get_by_label("API key")).to_have_value("")
    expect(form.get_by_label("Header 1 value")).to_have_value("")
    assert SECRET not in page.content() and HEADER_SECRET not in page.content()


def test_editing_without_the_key_keeps_it_and_clear_removes_it(signed_in: Page, gw: Gateway) -> None:
    name = f"kept-{uuid.uuid4().hex[:6]}"
    spec = {"name": name, "type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": SECRET,
            "headers": {"X-Org": HEADER_SECRET}}
    assert admin(gw, "POST", "/providers", spec)[0] == 201
    page = signed_in
    open_providers(page)
    provider_row(page, name).get_by_role("cell").first.click()
    form = page.get_by_role("form", name=f"Edit {name}")
    expect(form.get_by_label("Name", exact=True)).to_be_disabled()
    form.get_by_label("Base URL").fill("http://127.0.0.1:10/v1")
    form.get_by_role("button", name="Save provider").click()
    expect(provider_row(page, name)).to_contain_text("http://127.0.0.1:10/v1")
    body = admin(gw, "GET", f"/providers/{name}")[1]
    assert body["base_url"] == "http://127.0.0.1:10/v1" and body["api_key_set"] is True
    assert body["headers"] == {"X-Org": "(hidden)"}  # its value sent back as '(hidden)': kept

    provider_row(page, name).get_by_role("button", name=f"Edit {name}").click()
    form = page.get_by_role("form", name=f"Edit {name}")
    form.get_by_label("Clear the stored key").check()
    expect(form.get_by_label("API key")).to_be_disabled()
    form.get_by_role("button", name="Remove header 1").click()
    form.get_by_role("button", name="Save provider").click()
    expect(provider_row(page, name)).to_contain_text("no key")
    body = admin(gw, "GET", f"/providers/{name}")[1]
    assert body["api_key_set"] is False and "headers" not in body


def test_the_apis_error_is_shown_in_the_form(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    name = f"bad-{uuid.uuid4().hex[:6]}"
    open_providers(page)
    page.get_by_role("button", name="New provider").click()
    form = page.get_by_role("form", name="New provider")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Type").select_option("openai_compatible")
    form.get_by_label("Base URL").fill("ftp://example.com")
    form.get_by_role("button", name="Create provider").click()
    expect(form.get_by_role("alert")).to_contain_text("must be an http(s) URL")
    expect(form.get_by_label("Base URL")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Name", exact=True).fill("claude")  # taken
    form.get_by_label("Base URL").fill("http://127.0.0.1:9")
    form.get_by_role("button", name="Create provider").click()
    expect(form.get_by_role("alert")).to_contain_text("already exists")
    assert admin(gw, "GET", f"/providers/{name}")[0] == 404


def test_deleting_a_provider_an_endpoint_uses_shows_the_409(signed_in: Page, gw: Gateway) -> None:
    unused = f"unused-{uuid.uuid4().hex[:6]}"
    assert admin(gw, "POST", "/providers", {"name": unused, "type": "anthropic"})[0] == 201
    page = signed_in
    open_providers(page)
    provider_row(page, "openai-main").get_by_role("button", name="Delete openai-main").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("is used by endpoint(s) chat-openai")
    expect(page.get_by_role("alert")).to_contain_text("emb-openai")
    assert admin(gw, "GET", "/providers/openai-main")[0] == 200

    provider_row(page, unused).get_by_role("button", name=f"Delete {unused}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(provider_row(page, unused)).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    assert admin(gw, "GET", f"/providers/{unused}")[0] == 404
