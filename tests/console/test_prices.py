"""The prices page: the effective catalogue searched by provider and model; an administrator
adds an operator's price for a provider and overrides a shipped price for a type through the
editor (checked through GET /prices), sees the API's error in place, and removes them again; an
endpoint manager reads the catalogue without the editor."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway


def operator_prices(gw: Gateway) -> list[dict[str, Any]]:
    status, body = admin(gw, "GET", "/prices")
    assert status == 200, body
    return [p for p in body["prices"] if p["origin"] == "operator"]


def shipped(gw: Gateway, ptype: str, model: str) -> dict[str, Any]:
    prices = admin(gw, "GET", "/prices")[1]["prices"]
    return next(p for p in prices if p["origin"] == "shipped" and p["type"] == ptype and p["model"] == model)


@pytest.fixture(autouse=True)
def no_operator_prices(gw: Gateway) -> None:
    assert admin(gw, "PUT", "/prices", {"prices": []})[0] == 200


def open_prices(page: Page) -> Locator:
    page.goto("/console/#/prices")
    expect(page.get_by_role("heading", name="Prices", exact=True)).to_be_visible()
    catalogue = page.get_by_role("table", name="Price catalogue")
    expect(catalogue).to_be_visible()
    return catalogue


def catalogue_row(catalogue: Locator, applies: str, model: str) -> Locator:
    return catalogue.get_by_role("row").filter(has_text=applies).filter(
        has=catalogue.page.get_by_role("cell", name=model, exact=True))


def test_the_catalogue_is_searchable_and_says_where_each_price_comes_from(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    catalogue = open_prices(page)
    mini = shipped(gw, "openai", "gpt-4o-mini")
    row = catalogue_row(catalogue, "openai", "gpt-4o-mini")
    expect(row).to_contain_text(f"${mini['input']}")
    expect(row).to_contain_text(f"${mini['output']}")
    expect(row).to_contain_text(f"${mini['cached_input']}")
    expect(row).to_contain_text("shipped")
    total = len(admin(gw, "GET", "/prices")[1]["prices"])
    expect(page.get_by_text(f"{total} of {total} prices")).to_be_visible()

    page.get_by_label("Search").fill("anthropic haiku")
    rows = catalogue.get_by_role("row")
    expect(rows.first).to_be_visible()
    texts = rows.all_inner_texts()[1:]  # after the header row
    assert texts and all("anthropic" in t and "haiku" in t for t in texts)
    page.get_by_label("Search").fill("no-such-model")
    expect(page.get_by_text("No price matches.")).to_be_visible()
    page.get_by_label("Search").fill("")
    page.get_by_label("Origin").select_option("operator")
    expect(page.get_by_text("No price matches.")).to_be_visible()
    expect(page.get_by_text("No prices of your own")).to_be_visible()


def test_an_administrator_adds_overrides_and_removes_operator_prices(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    catalogue = open_prices(page)
    editor = page.get_by_role("form", name="Operator's prices")

    # a negotiated price for one provider
    editor.get_by_role("button", name="Add price").click()
    editor.get_by_label("Price 1 applies to").select_option("provider")
    editor.get_by_label("Price 1 provider or type").select_option("openai-main")
    editor.get_by_label("Price 1 model").fill("gpt-4o-mini")
    editor.get_by_label("Price 1 input").fill("0.3")
    editor.get_by_label("Price 1 output").fill("1.2")
    editor.get_by_label("Price 1 cached input").fill("0.1")

    # a shipped price copied into the editor and changed: every openai provider's gpt-4o
    gpt4o = shipped(gw, "openai", "gpt-4o")
    catalogue_row(catalogue, "openai", "gpt-4o").get_by_role("button", name="Override openai/gpt-4o").click()
    expect(editor.get_by_label("Price 2 applies to")).to_have_value("type")
    expect(editor.get_by_label("Price 2 provider or type")).to_have_value("openai")
    expect(editor.get_by_label("Price 2 model")).to_have_value("gpt-4o")
    expect(editor.get_by_label("Price 2 input")).to_have_value(str(gpt4o["input"]))
    editor.get_by_label("Price 2 output").fill("8")
    shot(page, "prices")
    editor.get_by_role("button", name="Save prices").click()
    expect(page.get_by_role("status").filter(has_text="Prices saved (2 changes)")).to_be_visible()

    entries = {(p.get("provider") or p.get("type"), p["model"]): p for p in operator_prices(gw)}
    assert entries[("openai-main", "gpt-4o-mini")] == {
        "provider": "openai-main", "model": "gpt-4o-mini", "input": 0.3, "output": 1.2, "cached_input": 0.1,
        "cache_write": None, "origin": "operator"}
    overridden = entries[("openai", "gpt-4o")]
    assert overridden["type"] == "openai" and overridden["output"] == 8 and overridden["input"] == gpt4o["input"]
    assert len(entries) == 2
    assert shipped(gw, "openai", "gpt-4o")["overridden"] is True

    expect(catalogue_row(catalogue, "openai-main", "gpt-4o-mini")).to_contain_text("operator")
    expect(catalogue_row(catalogue, "openai-main", "gpt-4o-mini")).to_contain_text("$1.2")
    shipped_row = catalogue.get_by_role("row").filter(has_text="shipped, overridden")
    expect(shipped_row).to_have_count(1)
    expect(shipped_row).to_contain_text("gpt-4o")

    # the API's error in place, the field it names marked; nothing stored
    editor.get_by_label("Price 1 input").fill("-1")
    editor.get_by_role("button", name="Save prices").click()
    expect(editor.get_by_role("alert")).to_contain_text("prices[0]")
    expect(editor.get_by_label("Price 1 input")).to_have_attribute("aria-invalid", "true")
    assert len(operator_prices(gw)) == 2 and operator_prices(gw)[0]["input"] == 0.3

    # removing both rows empties the operator's list: the shipped prices apply again
    editor.get_by_role("button", name="Remove price 2").click()
    editor.get_by_role("button", name="Remove price 1").click()
    editor.get_by_role("button", name="Save prices").click()
    expect(page.get_by_text("No prices of your own")).to_be_visible()
    assert operator_prices(gw) == []
    assert shipped(gw, "openai", "gpt-4o")["overridden"] is False
    expect(catalogue.get_by_role("row").filter(has_text="operator")).to_have_count(0)


def test_a_manager_reads_the_catalogue_without_the_editor(page: Page, gw: Gateway) -> None:
    assert admin(gw, "PUT", "/prices", {"prices": [{"type": "anthropic", "model": "claude-haiku-4-5",
                                                     "input": 0.9, "output": 4.5}]})[0] == 200
    _, token = new_user(gw, manage=("chat-openai",))
    sign_in(page, token)
    catalogue = open_prices(page)
    mine = catalogue_row(catalogue, "anthropic", "claude-haiku-4-5").filter(has_text="operator")
    expect(mine).to_contain_text("$4.5")
    expect(page.get_by_text("Only administrators change prices")).to_be_visible()
    expect(page.get_by_role("form", name="Operator's prices")).to_have_count(0)
    expect(page.get_by_role("button", name="Save prices")).to_have_count(0)
    expect(catalogue.get_by_role("button")).to_have_count(0)
    assert admin(gw, "PUT", "/prices", {"prices": []}, token=token)[0] == 403
