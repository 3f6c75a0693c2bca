"""The budgets page: a budget created through the form (checked through the API), spent by real
chat traffic (the shipped catalogue prices gpt-4o-mini, the mock's answers count tokens) and its
bar moving on a refresh; its limit edited below the spend with the write-only webhook header
kept (the alert webhook receives it, the page never holds it) and the alerts shown on its page;
made blocking, the next request is refused with a 429 and the page shows it over its limit; the
API's errors in the form; deleting after a confirm."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call

HOOK_SECRET = "hook-secret-" + uuid.uuid4().hex


class Hooks:
    """A webhook receiver on loopback: the path and headers of every POST it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hooks._lock:
                    hooks.received.append((self.path, dict(self.headers), json.loads(raw)))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        with self._lock:
            return [(h, body) for p, h, body in self.received if p == path]


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def chat(gw: Gateway, text: str, tags: dict[str, str] | None = None) -> tuple[int, Any]:
    body = {"model": "chat-openai", "messages": [{"role": "user", "content": text}]}
    headers = bearer(gw.token) | ({"Unigate-Request-Tags": json.dumps(tags)} if tags else {})
    r = call("POST", f"{gw.url}/ai-gateway/mlflow/v1/chat/completions", body, headers)
    try:
        return r.status, r.json()
    except ValueError:
        return r.status, None


def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Usage is priced and settled off the request path, and a change reaches the worker within
    a second: wait for it, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not in time"
        time.sleep(0.2)


def budget(gw: Gateway, name: str) -> dict[str, Any]:
    status, body = admin(gw, "GET", f"/budgets/{name}")
    assert status == 200, body
    return dict(body)


@pytest.fixture(scope="module", autouse=True)
def chat_answers(gw: Gateway) -> None:
    eventually(lambda: chat(gw, "ready?")[0] == 200, "chat-openai answering")


def open_budgets(page: Page) -> None:
    page.goto("/console/#/budgets")
    expect(page.get_by_role("heading", name="Budgets")).to_be_visible()


def budget_row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def used(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("progressbar", name=f"{name} used")


def percent_shown(bar: Locator) -> float:
    return float(bar.get_attribute("aria-valuenow") or "nan")


def test_a_budget_made_in_the_form_counts_traffic_alerts_and_blocks(signed_in: Page, gw: Gateway,
                                                                     hooks: Hooks) -> None:
    page = signed_in
    name = unique("chat-daily")
    open_budgets(page)
    page.get_by_role("button", name="New budget").click()
    form = page.get_by_role("form", name="New budget")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Period").select_option("daily")
    form.get_by_label("Scope").select_option("endpoint")
    form.get_by_label("Endpoint").fill("chat-openai")
    form.get_by_label("Limit (USD)").fill("0.0001")
    form.get_by_label("Alert thresholds (% of the limit)").fill("50, 100")
    form.get_by_label("Webhook URL").fill(f"{hooks.url}/{name}")
    form.get_by_role("button", name="Add header").click()
    form.get_by_label("Webhook header 1 name").fill("X-Hook-Key")
    form.get_by_label("Webhook header 1 value").fill(HOOK_SECRET)
    expect(form.get_by_label("Block: refuse requests (429) once the limit is reached")).not_to_be_checked()
    shot(page, "budget-form")
    form.get_by_role("button", name="Create budget").click()
    expect(form).to_be_hidden()

    row = budget_row(page, name)
    expect(row).to_contain_text("chat-openai")
    expect(row).to_contain_text("$0.0001")
    expect(row).to_contain_text("alerts only")
    created = budget(gw, name)
    assert {k: created[k] for k in ("scope", "period", "limit_usd", "block", "alerts", "webhook")} == {
        "scope": {"endpoint": "chat-openai"}, "period": "daily", "limit_usd": 0.0001, "block": False,
        "alerts": [50, 100], "webhook": {"url": f"{hooks.url}/{name}", "headers": {"X-Hook-Key": "(hidden)"}}}
    assert HOOK_SECRET not in page.content()

    # real traffic: the spend grows, and the bar with it once the page is refreshed
    before_text = used(row, name).get_attribute("aria-valuenow") or ""
    before = float(before_text)
    assert 0 <= before < 100
    for i in range(3):
        assert chat(gw, f"spend some of the budget {i}")[0] == 200
    eventually(lambda: budget(gw, name)["spent_usd"] > created["spent_usd"], "the spend counted")
    page.get_by_role("button", name="Refresh").click()
    expect(used(row, name)).not_to_have_attribute("aria-valuenow", before_text)
    spent = budget(gw, name)
    assert spent["spent_usd"] > 0 and percent_shown(used(row, name)) > before
    shot(page, "budgets")

    # the limit edited below the spend; the header left as it is keeps its stored value
    row.get_by_role("button", name=f"Edit {name}").click()
    form = page.get_by_role("form", name=f"Edit {name}")
    expect(form.get_by_label("Name", exact=True)).to_be_disabled()
    expect(form.get_by_label("Endpoint")).to_have_value("chat-openai")
    expect(form.get_by_label("Webhook header 1 name")).to_have_value("X-Hook-Key")
    expect(form.get_by_label("Webhook header 1 value")).to_have_value("")
    limit = round(spent["spent_usd"] / 4, 9)
    form.get_by_label("Limit (USD)").fill(str(limit))
    form.get_by_role("button", name="Save budget").click()
    expect(form).to_be_hidden()
    edited = budget(gw, name)
    assert edited["limit_usd"] == limit and edited["block"] is False
    assert edited["webhook"]["headers"] == {"X-Hook-Key": "(hidden)"}

    # a request that settles over the new limit crosses both thresholds (once the worker has the
    # change, within a second): each alert is POSTed with the header's value as first stored
    def alerted() -> list[tuple[dict[str, str], dict[str, Any]]]:
        assert chat(gw, "cross the thresholds")[0] == 200
        return len(hooks.on(f"/{name}")) >= 2 and hooks.on(f"/{name}")
    sent = eventually(alerted, "both alerts posted")
    assert sorted(body["threshold_percent"] for _, body in sent) == [50, 100]
    assert all(body["limit_usd"] == limit for _, body in sent)
    assert all(headers.get("X-Hook-Key") == HOOK_SECRET for headers, _ in sent)
    def delivered() -> bool:
        records = budget(gw, name)["alerts_sent"]
        return len(records) == 2 and all(a["delivered_at"] for a in records)
    eventually(delivered, "the deliveries recorded")

    # its page: the figures over the limit and the alerts of the period
    budget_row(page, name).get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=f"Budget {name}")).to_be_visible()
    alerts = page.get_by_role("table", name="Alerts sent this period")
    expect(alerts.get_by_role("row")).to_have_count(3)
    expect(alerts).to_contain_text("50 %")
    expect(alerts).to_contain_text("100 %")
    expect(alerts).to_contain_text("delivered")
    expect(used(page, name)).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".budget-bar.over")).to_be_visible()
    assert HOOK_SECRET not in page.content()

    # made blocking: the next request is refused, naming the budget
    page.get_by_role("button", name="Edit", exact=True).click()
    form = page.get_by_role("form", name=f"Edit {name}")
    form.get_by_label("Block: refuse requests (429) once the limit is reached").check()
    form.get_by_role("button", name="Save budget").click()
    expect(form).to_be_hidden()
    assert budget(gw, name)["block"] is True
    status, refusal = eventually(lambda: (r := chat(gw, "one more"))[0] == 429 and r, "the budget refusing")
    assert refusal["error"]["code"] == "budget_exceeded" and f"budget '{name}'" in refusal["error"]["message"]
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_text("blocks", exact=True)).to_be_visible()
    figures = budget(gw, name)
    assert figures["percent_used"] >= 100 and figures["remaining_usd"] == 0
    expect(page.locator(".budget-meter .pct.over")).to_have_text(f"{figures['percent_used']:.1f} %")
    shot(page, "budgets-detail")
    assert HOOK_SECRET not in page.content()

    # deleted after a confirm: gone from the list and the API
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog", name="Please confirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Budgets", exact=True)).to_be_visible()
    expect(budget_row(page, name)).to_have_count(0)
    assert admin(gw, "GET", f"/budgets/{name}")[0] == 404
    assert eventually(lambda: chat(gw, "free again")[0] == 200, "requests answered again")


def test_a_tag_budget_and_the_apis_errors_in_the_form(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    name = unique("tagged")
    open_budgets(page)
    page.get_by_role("button", name="New budget").click()
    form = page.get_by_role("form", name="New budget")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Scope").select_option("tag")
    expect(form.get_by_label("Endpoint")).to_be_hidden()
    form.get_by_label("Tag key").fill("project")
    form.get_by_label("Tag value").fill("console-test")
    form.get_by_label("Limit (USD)").fill("-5")
    form.get_by_role("button", name="Create budget").click()
    expect(form.get_by_role("alert")).to_contain_text("limit_usd")
    expect(form.get_by_label("Limit (USD)")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("Limit (USD)").fill("25")
    form.get_by_label("Alert thresholds (% of the limit)").fill("80, lots")
    form.get_by_role("button", name="Create budget").click()
    expect(form.get_by_role("alert")).to_contain_text("'lots' is not a number")
    expect(form.get_by_label("Alert thresholds (% of the limit)")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("Alert thresholds (% of the limit)").fill("")
    form.get_by_label("Webhook URL").fill("https://hooks.example.com/budgets")
    form.get_by_role("button", name="Create budget").click()
    expect(form.get_by_role("alert")).to_contain_text("give the thresholds")  # a webhook needs them
    expect(form.get_by_label("Alert thresholds (% of the limit)")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Alert thresholds (% of the limit)").fill("80")
    form.get_by_label("Webhook URL").fill("ftp://hooks.example.com")
    form.get_by_role("button", name="Create budget").click()
    expect(form.get_by_role("alert")).to_contain_text("must be an http:// or https:// URL")
    expect(form.get_by_label("Webhook URL")).to_have_attribute("aria-invalid", "true")
    assert admin(gw, "GET", f"/budgets/{name}")[0] == 404

    form.get_by_label("Webhook URL").fill("")
    form.get_by_label("Block: refuse requests (429) once the limit is reached").check()
    form.get_by_role("button", name="Create budget").click()
    expect(form).to_be_hidden()
    row = budget_row(page, name)
    expect(row).to_contain_text("project=console-test")
    expect(row).to_contain_text("blocks")
    created = budget(gw, name)
    assert created["scope"] == {"tag": {"project": "console-test"}} and created["period"] == "monthly"
    assert created["limit_usd"] == 25 and created["block"] is True and created["alerts"] == [80]
    assert "webhook" not in created

    # the tag's requests count against it
    assert chat(gw, "tagged spend", {"project": "console-test"})[0] == 200
    eventually(lambda: budget(gw, name)["spent_usd"] > 0, "the tagged request counted")
    assert admin(gw, "DELETE", f"/budgets/{name}")[0] == 200


def test_only_administrators_see_budgets(page: Page, gw: Gateway) -> None:
    _, token = new_user(gw, manage=("chat-openai",))
    sign_in(page, token)
    expect(page.get_by_role("link", name="Budgets")).to_have_count(0)
    page.goto("/console/#/budgets")  # not among its pages: the shell shows its first one
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    assert admin(gw, "GET", "/budgets", token=token)[0] == 403
