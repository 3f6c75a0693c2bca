"""The Users, Service principals and Groups pages: creating each through its form (checked
through the admin API), adding a member to a group, a user's tokens from its page, deleting
with a confirmation, and a manager's read-only view."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway


def wait_for_me(gw: Gateway, token: str, status: int, timeout: float = 5.0) -> None:
    """GET /me with the token until it answers `status` (tokens reach the workers within ~1 s)."""
    deadline = time.monotonic() + timeout
    while (got := admin(gw, "GET", "/me", token=token)[0]) != status:
        assert time.monotonic() < deadline, f"GET /me kept answering {got}, not {status}"
        time.sleep(0.1)


def quiet(page: Page) -> None:
    """Takes the passing notices away before a screenshot, so they do not hide the page."""
    page.evaluate("document.getElementById('notices')?.replaceChildren()")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_a_user_a_service_principal_and_a_group_and_add_the_user(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    email, group = f"{unique('alice')}@example.com", unique("team")
    page.goto("/console/#/users")
    page.get_by_role("button", name="Create user").click()
    form = page.get_by_role("dialog", name="Create user")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Display name").fill("Alice Example")
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    status, user = admin(gw, "GET", f"/users/{email}")
    assert status == 200 and user["display_name"] == "Alice Example"

    page.goto("/console/#/service-principals")
    page.get_by_role("button", name="Create service principal").click()
    page.get_by_role("dialog", name="Create service principal").get_by_label("Display name").fill("nightly batch")
    page.get_by_role("button", name="Create", exact=True).click()
    shown = page.get_by_role("dialog", name="Service principal created")
    app_id = shown.locator("code").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", app_id)
    status, sp = admin(gw, "GET", f"/service-principals/{app_id}")
    assert status == 200 and sp["display_name"] == "nightly batch"
    shown.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name=app_id)).to_be_visible()

    page.goto("/console/#/groups")
    page.get_by_role("button", name="Create group").click()
    page.get_by_role("dialog", name="Create group").get_by_label("Name").fill(group)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name=f"Group {group}")).to_be_visible()
    status, created = admin(gw, "GET", f"/groups/{group}")
    assert status == 200 and created["members"] == [] and created["builtin"] is False

    add = page.get_by_role("form", name="Add a member")
    add.get_by_label("Member type").select_option("user_name")
    add.get_by_label("Member", exact=True).fill(email)
    add.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("heading", name="Members (1)")).to_be_visible()
    add.get_by_label("Member type").select_option("service_principal_name")
    add.get_by_label("Member", exact=True).fill(app_id)
    add.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("heading", name="Members (2)")).to_be_visible()
    members = admin(gw, "GET", f"/groups/{group}")[1]["members"]
    assert {"user_name": email} in members and {"service_principal_name": app_id} in members

    # An unknown member: the API's refusal shown in place, nothing added.
    add.get_by_label("Member", exact=True).fill("ghost@example.com")
    add.get_by_role("button", name="Add member").click()
    expect(add.get_by_role("alert")).to_contain_text("ghost@example.com")
    assert len(admin(gw, "GET", f"/groups/{group}")[1]["members"]) == 2

    # Remove the service principal again.
    page.get_by_role("button", name=f"Remove {app_id}").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("heading", name="Members (1)")).to_be_visible()
    assert admin(gw, "GET", f"/groups/{group}")[1]["members"] == [{"user_name": email}]
    quiet(page)
    shot(page, "groups")

    # The user list names the group; the user's page too.
    page.goto("/console/#/users")
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_contain_text(group)
    quiet(page)
    shot(page, "users")
    row.click()
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    expect(page.locator("dl.props")).to_contain_text(group)


def test_a_users_tokens_from_its_page_and_deleting_it(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    email = f"{unique('bob')}@example.com"
    assert admin(gw, "POST", "/users", {"email": email})[0] == 201
    page.goto(f"/console/#/users/{email}")
    page.get_by_role("button", name="Create token").click()
    form = page.get_by_role("dialog", name="Create a token")
    expect(form.get_by_label("Principal")).to_have_value(email)
    form.get_by_label("Comment").fill("bob's laptop")
    form.get_by_role("button", name="Create token").click()
    created = page.get_by_role("dialog", name="Token created")
    value = created.get_by_label("New token").inner_text().strip()
    assert value.startswith("ug_") and len(value) > 20
    wait_for_me(gw, value, 200)
    created.get_by_role("button", name="I have copied it").click()
    expect(page.locator("dialog")).to_have_count(0)  # closed and gone from the page
    tokens = admin(gw, "GET", f"/tokens?principal={email}")[1]["tokens"]
    assert [t["comment"] for t in tokens] == ["bob's laptop"]
    expect(page.get_by_role("row").filter(has_text="bob's laptop")).to_be_visible()
    assert value not in page.content()

    page.get_by_role("button", name="Delete user").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert admin(gw, "GET", f"/users/{email}")[0] == 404
    assert admin(gw, "GET", f"/tokens/{tokens[0]['token_id']}")[1]["revoked_at"] is not None


def test_a_bad_user_form_shows_the_apis_error_in_place(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    email = f"{unique('dup')}@example.com"
    assert admin(gw, "POST", "/users", {"email": email})[0] == 201
    page.goto("/console/#/users")
    page.get_by_role("button", name="Create user").click()
    form = page.get_by_role("dialog", name="Create user")
    form.get_by_label("Email").fill(email)
    form.get_by_role("button", name="Create").click()
    expect(form.get_by_role("alert")).to_contain_text("already exists")


def test_a_manager_reads_users_and_groups_but_changes_nothing(page: Page, gw: Gateway) -> None:
    manager, token = new_user(gw, manage=("emb-openai",))
    sign_in(page, token)
    page.goto("/console/#/users")
    expect(page.get_by_role("row").filter(has_text=manager)).to_be_visible()
    expect(page.get_by_role("button", name="Create user")).to_have_count(0)
    page.get_by_role("row").filter(has_text=manager).click()
    expect(page.get_by_role("heading", name=manager)).to_be_visible()
    expect(page.get_by_role("button", name="Delete user")).to_have_count(0)
    expect(page.get_by_role("heading", name="Tokens")).to_have_count(0)
    page.goto("/console/#/groups/admins")
    expect(page.get_by_text("is built in")).to_be_visible()
    expect(page.get_by_role("form", name="Add a member")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete group")).to_have_count(0)
