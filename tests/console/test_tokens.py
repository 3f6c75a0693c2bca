"""The Tokens page: a new token is shown once (with a warning), works, never appears in the
list; revoking it through the page stops it; a plain user sees and makes only its own."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.console.test_identities import wait_for_me
from tests.integration.gateway import Gateway


def create_token(page: Page, comment: str, days: str = "7", principal: str | None = None) -> str:
    """Through the page's dialog; the token's value as shown once."""
    page.get_by_role("button", name="Create token").click()
    form = page.get_by_role("dialog", name="Create a token")
    if principal is not None:
        form.get_by_label("Principal").fill(principal)
    form.get_by_label("Comment").fill(comment)
    form.get_by_label("Lifetime (days)").fill(days)
    form.get_by_role("button", name="Create token").click()
    created = page.get_by_role("dialog", name="Token created")
    expect(created.get_by_role("alert")).to_contain_text("will not be shown again")
    expect(created.get_by_role("button", name="Copy token")).to_be_visible()
    return created.get_by_label("New token").inner_text().strip()


def test_a_token_is_shown_once_works_and_stops_when_revoked(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    page.goto("/console/#/tokens")
    expect(page.get_by_role("heading", name="Tokens")).to_be_visible()
    value = create_token(page, "console test token", days="2")
    shot(page, "tokens-created")
    page.get_by_role("button", name="I have copied it").click()
    expect(page.locator("dialog")).to_have_count(0)  # closed and gone from the page
    wait_for_me(gw, value, 200)
    mine = [t for t in admin(gw, "GET", "/tokens?principal=admin")[1]["tokens"] if t["comment"] == "console test token"]
    assert len(mine) == 1
    token = mine[0]
    assert 2 * 86400 - 60 < token["expires_at"] - token["created_at"] <= 2 * 86400
    row = page.get_by_role("row").filter(has_text=token["token_id"])
    expect(row).to_contain_text("console test token")
    expect(row).to_contain_text("active")
    assert value not in page.content()
    env_row = page.get_by_role("row").filter(has_text="env-admin")
    expect(env_row).to_contain_text("environment")  # the bootstrap token cannot be revoked here
    expect(env_row.get_by_role("button", name="Revoke token env-admin")).to_have_count(0)
    shot(page, "tokens")

    row.get_by_role("button", name=f"Revoke token {token['token_id']}").click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row").filter(has_text=token["token_id"])).to_have_count(0)
    assert admin(gw, "GET", f"/tokens/{token['token_id']}")[1]["revoked_at"] is not None
    wait_for_me(gw, value, 401)
    page.get_by_label("Show revoked").check()
    expect(page.get_by_role("row").filter(has_text=token["token_id"])).to_contain_text("revoked")
    assert value not in page.content()


def test_an_admin_filters_by_principal_and_makes_a_token_for_a_user(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    email, _ = new_user(gw)
    page.goto("/console/#/tokens")
    value = create_token(page, "made for the user", principal=email)
    page.get_by_role("button", name="I have copied it").click()
    expect(page.locator("dialog")).to_have_count(0)  # closed and gone from the page
    wait_for_me(gw, value, 200)
    status, me = admin(gw, "GET", "/me", token=value)
    assert status == 200 and me["principal"] == email
    page.get_by_label("Principal").fill(email)
    page.get_by_role("button", name="Apply").click()
    rows = page.get_by_role("row").filter(has_text=email)
    expect(rows).to_have_count(2)  # new_user's token and this one
    expect(page.get_by_role("row").filter(has_text="console test token")).to_have_count(0)


def test_a_bad_principal_is_refused_in_place(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    page.goto("/console/#/tokens")
    page.get_by_role("button", name="Create token").click()
    form = page.get_by_role("dialog", name="Create a token")
    form.get_by_label("Principal").fill("nobody-here@example.com")
    form.get_by_role("button", name="Create token").click()
    expect(form.get_by_role("alert")).to_contain_text("nobody-here@example.com")
    expect(form.get_by_role("alert")).to_contain_text("principal")


def test_a_plain_user_sees_only_its_own_tokens_and_makes_one_for_itself(page: Page, gw: Gateway) -> None:
    others, _ = new_user(gw)
    email, token = new_user(gw, query=("chat-openai",))
    sign_in(page, token)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Tokens").click()
    expect(page.get_by_text(f"Your tokens ({email})")).to_be_visible()
    expect(page.get_by_role("row")).to_have_count(2)  # the header and its one token
    value = create_token(page, "my own", days="1")
    page.get_by_role("button", name="I have copied it").click()
    expect(page.locator("dialog")).to_have_count(0)  # closed and gone from the page
    wait_for_me(gw, value, 200)
    status, me = admin(gw, "GET", "/me", token=value)
    assert status == 200 and me["principal"] == email
    expect(page.get_by_role("row")).to_have_count(3)
    assert others not in page.content() and value not in page.content()
    # The principal is fixed to itself: the form cannot name anyone else.
    page.get_by_role("button", name="Create token").click()
    fixed = page.get_by_role("dialog", name="Create a token").get_by_label("Principal")
    expect(fixed).to_have_attribute("readonly", "")
