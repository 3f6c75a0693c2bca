"""The endpoints page: the list, creating an endpoint through the form (a split and a fallback),
editing it, the API's error for a split that does not add up, grants, rate limits, payload
logging, guardrails, deleting, and what an endpoint manager may see and do. Every change made in
the page is checked through the admin API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def make_endpoint(gw: Gateway, name: str, **extra: Any) -> dict[str, Any]:
    spec = {"name": name, "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini"}], **extra}
    status, body = admin(gw, "POST", "/endpoints", spec)
    assert status == 201, body
    return dict(body)


def open_endpoint(page: Page, name: str) -> None:
    page.goto(f"/console/#/endpoints/{name}")
    expect(page.get_by_role("heading", name=f"Endpoint {name}")).to_be_visible()


def test_the_list_shows_each_endpoints_routing_and_settings(signed_in: Page, gw: Gateway) -> None:
    name = unique("listed")
    split = [{"provider": "openai-main", "model": "gpt-4o-mini", "traffic_percentage": 60},
             {"provider": "claude", "model": "claude-haiku-4-5", "traffic_percentage": 40}]
    make_endpoint(gw, name, destinations=split,
                  fallbacks=[{"provider": "claude", "model": "claude-sonnet-4-5"}], timeout="20s",
                  rate_limits=[{"key": "user_default", "requests": 10, "renewal_period": "minute"}],
                  inference_table={"enabled": True})
    page = signed_in
    page.goto("/console/#/endpoints")
    page.reload()  # signing in showed the list already, before this endpoint existed
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row).to_contain_text("openai-main/gpt-4o-mini 60%")
    expect(row).to_contain_text("claude/claude-haiku-4-5 40%")
    expect(row).to_contain_text("claude/claude-sonnet-4-5")
    expect(row).to_contain_text("20s")
    expect(row.get_by_role("cell").nth(4)).to_have_text("1")  # one rate limit
    expect(row).to_contain_text("on")
    for configured in ("chat-openai", "chat-anthropic", "emb-openai"):
        expect(page.get_by_role("link", name=configured, exact=True)).to_be_visible()
    shot(page, "endpoints")
    row.get_by_role("cell").nth(1).click()
    expect(page.get_by_role("heading", name=f"Endpoint {name}")).to_be_visible()
    expect(page.get_by_role("img", name="openai-main/gpt-4o-mini 60%, claude/claude-haiku-4-5 40%")).to_be_visible()
    expect(page.get_by_role("region", name="Rate limits").get_by_label("Limit 1 amount")).to_have_value("10")
    shot(page, "endpoint-detail")


def test_creating_an_endpoint_with_a_split_and_a_fallback(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    name = unique("team-a/split")
    page.goto("/console/#/endpoints")
    page.get_by_role("button", name="New endpoint").click()
    form = page.get_by_role("form", name="New endpoint")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Destination 1 provider").select_option("openai-main")
    form.get_by_label("Destination 1 model").fill("gpt-4o-mini")
    form.get_by_label("Destination 1 traffic %").fill("70")
    form.get_by_role("button", name="Add destination").click()
    expect(form.get_by_label("Destination 2 traffic %")).to_have_value("30")  # what is left of 100
    form.get_by_label("Destination 2 provider").select_option("claude")
    form.get_by_label("Destination 2 model").fill("claude-haiku-4-5")
    expect(form.get_by_text("Split total: 100%")).to_be_visible()
    form.get_by_role("button", name="Add fallback").click()
    form.get_by_label("Fallback 1 provider").select_option("claude")
    form.get_by_label("Fallback 1 model").fill("claude-sonnet-4-5")
    form.get_by_role("button", name="Add fallback").click()
    form.get_by_label("Fallback 2 provider").select_option("openai-main")
    form.get_by_label("Fallback 2 model").fill("gpt-4o")
    form.get_by_role("button", name="Move fallback 2 up").click()  # gpt-4o is now tried first
    form.get_by_label("Timeout", exact=True).fill("45s")
    form.get_by_label("Max attempts").fill("2")
    shot(page, "endpoint-form")
    form.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("heading", name=f"Endpoint {name}")).to_be_visible()

    status, body = admin(gw, "GET", f"/endpoints/{name}")
    assert status == 200, body
    assert body["destinations"] == [
        {"provider": "openai-main", "model": "gpt-4o-mini", "traffic_percentage": 70},
        {"provider": "claude", "model": "claude-haiku-4-5", "traffic_percentage": 30}]
    assert body["fallbacks"] == [{"provider": "openai-main", "model": "gpt-4o"},
                                 {"provider": "claude", "model": "claude-sonnet-4-5"}]
    assert body["timeout"] == "45s" and body["max_attempts"] == 2
    assert "first_token_timeout" not in body


def test_editing_the_timeout_keeps_the_other_settings(signed_in: Page, gw: Gateway) -> None:
    name = unique("edited")
    limits = [{"key": "endpoint", "requests": 500, "renewal_period": "minute"}]
    make_endpoint(gw, name, timeout="30s", fallbacks=[{"provider": "claude", "model": "claude-haiku-4-5"}],
                  rate_limits=limits)
    page = signed_in
    open_endpoint(page, name)
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name=f"Edit {name}")
    expect(form.get_by_label("Name")).to_be_disabled()
    expect(form.get_by_label("Timeout", exact=True)).to_have_value("30s")
    form.get_by_label("Timeout", exact=True).fill("12s")
    form.get_by_label("First token timeout").fill("3s")
    form.get_by_role("button", name="Remove fallback 1").click()
    form.get_by_role("button", name="Save changes").click()
    routing = page.get_by_role("region", name="Routing")
    expect(routing).to_contain_text("12s")

    body = admin(gw, "GET", f"/endpoints/{name}")[1]
    assert body["timeout"] == "12s" and body["first_token_timeout"] == "3s"
    assert "fallbacks" not in body
    assert body["rate_limits"] == limits  # the merge patch left what the form does not edit

    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Timeout", exact=True).fill("")  # cleared: the timeout goes away
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name=f"Endpoint {name}")).to_be_visible()
    assert "timeout" not in admin(gw, "GET", f"/endpoints/{name}")[1]


def test_a_split_that_does_not_add_up_shows_the_apis_error(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    name = unique("bad-split")
    page.goto("/console/#/endpoints/_new")
    form = page.get_by_role("form", name="New endpoint")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Destination 1 provider").select_option("openai-main")
    form.get_by_label("Destination 1 model").fill("gpt-4o-mini")
    form.get_by_label("Destination 1 traffic %").fill("70")
    form.get_by_role("button", name="Add destination").click()
    form.get_by_label("Destination 2 provider").select_option("claude")
    form.get_by_label("Destination 2 model").fill("claude-haiku-4-5")
    form.get_by_label("Destination 2 traffic %").fill("20")
    expect(form.get_by_text("Split total: 90%")).to_be_visible()
    form.get_by_role("button", name="Create endpoint").click()
    expect(form.get_by_role("alert")).to_contain_text("traffic_percentage must sum to 100, got 90")
    expect(form.get_by_role("alert")).to_contain_text("field: destinations")
    assert admin(gw, "GET", f"/endpoints/{name}")[0] == 404

    form.get_by_label("Destination 2 model").fill("")  # the API names the field; the page marks it
    form.get_by_label("Destination 2 traffic %").fill("30")
    form.get_by_role("button", name="Create endpoint").click()
    expect(form.get_by_role("alert")).to_contain_text("destinations[1].model")
    expect(form.get_by_label("Destination 2 model")).to_have_attribute("aria-invalid", "true")
    assert admin(gw, "GET", f"/endpoints/{name}")[0] == 404


def test_granting_and_removing_a_member(signed_in: Page, gw: Gateway) -> None:
    name = unique("granted")
    make_endpoint(gw, name)
    email = f"grantee-{uuid.uuid4().hex[:6]}@example.com"
    assert admin(gw, "POST", "/users", {"email": email})[0] == 201
    page = signed_in
    open_endpoint(page, name)
    grants = page.get_by_role("region", name="Grants")
    expect(grants).to_contain_text("No grants")
    grants.get_by_label("Member", exact=True).fill(email)
    grants.get_by_label("Level", exact=True).select_option("CAN_QUERY")
    grants.get_by_role("button", name="Add grant").click()
    expect(grants.get_by_role("cell", name=email, exact=True)).to_be_visible()
    acl = admin(gw, "GET", f"/endpoints/{name}/permissions")[1]["access_control_list"]
    assert [(e.get("user_name"), e["permission_level"]) for e in acl] == [(email, "CAN_QUERY")]

    grants.get_by_label(f"Level of {email}").select_option("CAN_MANAGE")
    expect(page.get_by_role("status").filter(has_text="now has CAN_MANAGE")).to_be_visible()
    acl = admin(gw, "GET", f"/endpoints/{name}/permissions")[1]["access_control_list"]
    assert [(e.get("user_name"), e["permission_level"]) for e in acl] == [(email, "CAN_MANAGE")]

    grants.get_by_label("Member", exact=True).fill("nobody-here@example.com")
    grants.get_by_role("button", name="Add grant").click()
    expect(grants.get_by_role("alert")).to_contain_text("nobody-here@example.com")

    grants.get_by_role("button", name=f"Remove {email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(grants).to_contain_text("No grants")
    assert admin(gw, "GET", f"/endpoints/{name}/permissions")[1]["access_control_list"] == []


def test_rate_limits_and_payload_logging(signed_in: Page, gw: Gateway) -> None:
    name = unique("limited")
    make_endpoint(gw, name)
    page = signed_in
    open_endpoint(page, name)
    limits = page.get_by_role("region", name="Rate limits")
    limits.get_by_role("button", name="Add limit").click()
    limits.get_by_label("Limit 1 amount").fill("100")
    limits.get_by_role("button", name="Add limit").click()
    limits.get_by_label("Limit 2 applies to").select_option("group")
    limits.get_by_label("Limit 2 principal").fill("admins")
    limits.get_by_label("Limit 2 counts").select_option("tokens")
    limits.get_by_label("Limit 2 amount").fill("50000")
    limits.get_by_label("Limit 2 period").select_option("hour")
    limits.get_by_role("button", name="Save rate limits").click()
    expect(page.get_by_role("status").filter(has_text="Rate limits of")).to_be_visible()
    assert admin(gw, "GET", f"/endpoints/{name}/rate-limits")[1]["rate_limits"] == [
        {"key": "user_default", "requests": 100, "renewal_period": "minute"},
        {"key": "group", "principal": "admins", "tokens": 50000, "renewal_period": "hour"}]

    limits.get_by_label("Limit 1 amount").fill("")
    limits.get_by_role("button", name="Save rate limits").click()
    expect(limits.get_by_role("alert")).to_contain_text("give exactly one of requests or tokens")

    logging = page.get_by_role("region", name="Payload logging")
    logging.get_by_label("Log request and response payloads").check()
    logging.get_by_label("Retention (days)").fill("7")
    logging.get_by_role("button", name="Save payload logging").click()
    expect(page.get_by_role("status").filter(has_text=f"Payload logging of {name} is on")).to_be_visible()
    assert admin(gw, "GET", f"/endpoints/{name}/inference-table")[1] == {"enabled": True, "retention_days": 7}

    logging.get_by_role("button", name="Browse payloads").click()
    expect(page).to_have_url(f"{gw.url}/console/#/payloads/{name.replace('/', '%2F')}")


def test_guardrails_through_the_editor(signed_in: Page, gw: Gateway) -> None:
    name = unique("guarded")
    make_endpoint(gw, name)
    page = signed_in
    open_endpoint(page, name)
    rails = page.get_by_role("region", name="Guardrails")
    wanted = [{"name": "mask-pii", "type": "pii", "phase": "input", "action": "sanitize"},
              {"name": "no-codenames", "type": "keywords", "phase": "output", "words": ["bluebird"]}]
    editor = rails.get_by_label("Guardrails (JSON list)")
    editor.fill("[{\"name\": \"x\", \"type\": \"nope\", \"phase\": \"input\"}]")
    rails.get_by_role("button", name="Save guardrails").click()
    expect(rails.get_by_role("alert")).to_contain_text("nope")
    expect(editor).to_have_attribute("aria-invalid", "true")

    editor.fill("[{not json")
    rails.get_by_role("button", name="Save guardrails").click()
    expect(rails.get_by_role("alert")).to_contain_text("not valid JSON")

    editor.fill(json.dumps(wanted))
    rails.get_by_label("A block answers with").select_option("content_filter")
    rails.get_by_label("Stream window (characters)").fill("256")
    rails.get_by_role("button", name="Save guardrails").click()
    expect(page.get_by_role("status").filter(has_text=f"Guardrails of {name} saved (2)")).to_be_visible()
    body = admin(gw, "GET", f"/endpoints/{name}/guardrails")[1]
    assert [(g["name"], g["type"], g["phase"]) for g in body["guardrails"]] == [
        ("mask-pii", "pii", "input"), ("no-codenames", "keywords", "output")]
    assert body["guardrails"][1]["words"] == ["bluebird"]
    assert body["guardrail_response"] == "content_filter" and body["guardrail_window"] == 256


def test_deleting_an_endpoint_after_a_confirm(signed_in: Page, gw: Gateway) -> None:
    name = unique("doomed")
    make_endpoint(gw, name)
    page = signed_in
    open_endpoint(page, name)
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert admin(gw, "GET", f"/endpoints/{name}")[0] == 200
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Endpoints", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert admin(gw, "GET", f"/endpoints/{name}")[0] == 404


def test_a_manager_sees_only_its_endpoint_and_cannot_create_or_delete(page: Page, gw: Gateway) -> None:
    _, token = new_user(gw, manage=("chat-anthropic",))
    sign_in(page, token)
    page.goto("/console/#/endpoints")
    expect(page.get_by_role("link", name="chat-anthropic", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="chat-openai", exact=True)).to_have_count(0)
    expect(page.get_by_role("row")).to_have_count(2)  # the header and chat-anthropic
    expect(page.get_by_role("button", name="New endpoint")).to_have_count(0)

    page.get_by_role("link", name="chat-anthropic", exact=True).click()
    expect(page.get_by_role("heading", name="Endpoint chat-anthropic")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit chat-anthropic")
    # a manager may not list providers: a text input suggesting the endpoint's own
    expect(form.get_by_label("Destination 1 provider")).to_have_value("claude")
    form.get_by_label("First token timeout").fill("8s")
    form.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("region", name="Routing")).to_contain_text("8s")
    assert admin(gw, "GET", "/endpoints/chat-anthropic")[1]["first_token_timeout"] == "8s"

    page.goto("/console/#/endpoints/_new")
    expect(page.get_by_text("Only administrators create endpoints.")).to_be_visible()
