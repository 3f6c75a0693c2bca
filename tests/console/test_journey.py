"""One operator's first session, end to end in the browser, with nothing set up through the API:
the administrator signs in, creates an endpoint, a user, a grant and the user's token; the user
signs in with that token and gets a streamed answer in the playground; the administrator's
dashboard then shows exactly that traffic, by endpoint and by requester."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Page, expect

from tests.console.admin import admin
from tests.console.conftest import sign_in
from tests.console.test_playground import PREFIX, open_playground, send
from tests.console.test_tokens import create_token
from tests.console.test_usage import card
from tests.integration.gateway import Gateway


def test_an_endpoint_a_token_a_streamed_answer_and_the_dashboard(page: Page, gw: Gateway) -> None:
    run = uuid.uuid4().hex[:8]
    endpoint, email = f"journey-{run}", f"journey-{run}@example.com"
    sign_in(page, gw.token)

    # the endpoint, through its form
    page.goto("/console/#/endpoints")
    page.get_by_role("button", name="New endpoint").click()
    form = page.get_by_role("form", name="New endpoint")
    form.get_by_label("Name").fill(endpoint)
    form.get_by_label("Destination 1 provider").select_option("openai-main")
    form.get_by_label("Destination 1 model").fill("gpt-4o-mini")
    form.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("heading", name=f"Endpoint {endpoint}")).to_be_visible()

    # a user, then CAN_QUERY for it on the endpoint's page
    page.goto("/console/#/users")
    page.get_by_role("button", name="Create user").click()
    page.get_by_role("dialog", name="Create user").get_by_label("Email").fill(email)
    page.get_by_role("dialog", name="Create user").get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=email)).to_be_visible()
    page.goto(f"/console/#/endpoints/{endpoint}")
    grants = page.get_by_role("region", name="Grants")
    grants.get_by_label("Member", exact=True).fill(email)
    grants.get_by_label("Level", exact=True).select_option("CAN_QUERY")
    grants.get_by_role("button", name="Add grant").click()
    expect(grants.get_by_role("cell", name=email, exact=True)).to_be_visible()

    # the user's token, shown once
    page.goto("/console/#/tokens")
    token = create_token(page, "journey", principal=email)
    page.get_by_role("button", name="I have copied it").click()
    page.get_by_role("button", name="Sign out").click()

    # the user signs in with it: only its own pages, and the endpoint in the playground
    sign_in(page, token)
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Endpoints")).to_have_count(0)
    open_playground(page, endpoint)
    expect(page.get_by_label("Endpoint")).to_have_value(endpoint)
    expect(page.get_by_label("Stream the answer")).to_be_checked()
    with page.expect_response("**/ai-gateway/openai/v1/chat/completions") as reply:
        answer = send(page, f"hello from the journey {run}")
    assert reply.value.status == 200
    assert reply.value.headers["content-type"].startswith("text/event-stream")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}hello from the journey {run}")
    expect(answer.get_by_role("list", name="Answer details")).to_contain_text("First token:")
    answer = send(page, "and once more")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}and once more")
    page.get_by_role("button", name="Sign out").click()

    # the administrator's dashboard, on that endpoint, once the usage rows landed (in batches)
    deadline = time.monotonic() + 15
    while len(rows := admin(gw, "GET", f"/usage?endpoint={endpoint}")[1]["rows"]) < 2:
        assert time.monotonic() < deadline, f"only {len(rows)} usage rows arrived"
        time.sleep(0.2)
    assert {(r["requester"], r["status_code"], r["streaming"]) for r in rows} == {(email, 200, True)}
    sign_in(page, gw.token)
    page.goto(f"/console/#/usage/{endpoint}")
    expect(card(page, "Requests")).to_contain_text("2")
    expect(card(page, "Errors")).to_contain_text("0")
    by_endpoint = page.get_by_role("table", name="Usage by endpoint")
    expect(by_endpoint.get_by_role("row").filter(has_text=endpoint).get_by_role("cell").nth(1)).to_have_text("2")
    page.get_by_role("tab", name="Requester").click()
    by_requester = page.get_by_role("table", name="Usage by requester")
    expect(by_requester.get_by_role("row").filter(has_text=email).get_by_role("cell").nth(1)).to_have_text("2")
