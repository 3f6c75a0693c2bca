"""The usage dashboard: known traffic sent through the model API shows up in the cards, the
charts, the breakdown tables and the CSV exports; a plain user sees only its own requests; an
empty range and a bad filter say so."""

from __future__ import annotations

import csv
import json
import math
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call


def chat(gw: Gateway, endpoint: str, text: str, tags: dict[str, str], token: str | None = None) -> int:
    body = {"model": endpoint, "messages": [{"role": "user", "content": text}]}
    headers = bearer(token or gw.token) | {"Unigate-Request-Tags": json.dumps(tags)}
    return call("POST", gw.base + "/mlflow/v1/chat/completions", body, headers).status


def embed(gw: Gateway, text: str, tags: dict[str, str], token: str | None = None) -> int:
    body = {"model": "emb-openai", "input": text}
    headers = bearer(token or gw.token) | {"Unigate-Request-Tags": json.dumps(tags)}
    return call("POST", gw.base + "/mlflow/v1/embeddings", body, headers).status


def wait_rows(gw: Gateway, tag: str, count: int) -> list[dict[str, Any]]:
    """Usage rows are written in batches off the request path: wait for them (bounded)."""
    deadline = time.monotonic() + 15
    while True:
        status, body = admin(gw, "GET", f"/usage?tag={tag}&limit=1000")
        assert status == 200, body
        if len(body["rows"]) >= count:
            assert len(body["rows"]) == count, body["rows"]
            return list(body["rows"])
        assert time.monotonic() < deadline, f"only {len(body['rows'])} of {count} usage rows arrived"
        time.sleep(0.2)


@pytest.fixture(scope="module", autouse=True)
def providers_answer(gw: Gateway) -> None:
    """Both chat endpoints answer before the known traffic is sent."""
    deadline = time.monotonic() + 10
    ready = {"probe": "1"}
    while chat(gw, "chat-openai", "ready?", ready) != 200 or chat(gw, "chat-anthropic", "ready?", ready) != 200:
        assert time.monotonic() < deadline, "the providers never answered"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def known(gw: Gateway) -> tuple[str, list[dict[str, Any]]]:
    """Five chats to chat-openai (one refused upstream) and three to chat-anthropic, tagged with
    a run of their own: (the tag filter, the rows)."""
    run = uuid.uuid4().hex[:10]
    tags = {"run": run}
    for i in range(4):
        assert chat(gw, "chat-openai", f"question {i} " + "word " * (i * 7), tags) == 200
    assert chat(gw, "chat-openai", "MOCK_FAULT:status=400", tags) >= 400
    for i in range(3):
        assert chat(gw, "chat-anthropic", f"anthropic {i}", tags) == 200
    return f"run={run}", wait_rows(gw, f"run={run}", 8)


def show(page: Page, tag: str, route: str = "usage") -> None:
    page.goto(f"/console/#/{route}")
    page.get_by_label("Tag", exact=True).fill(tag)
    page.get_by_role("button", name="Apply").click()


def card(page: Page, label: str) -> Locator:
    return page.get_by_role("group", name=label, exact=True)


def chart(page: Page, title: str) -> Locator:
    """A chart over time (not a breakdown's bar chart), by the start of its title."""
    return page.locator("figure.chart:not(.bar-chart)").filter(has=page.get_by_role("img", name=title))


def totals(figure: Locator) -> dict[str, float]:
    return dict(json.loads(figure.get_attribute("data-totals") or "{}"))


def js_ms(value: float) -> str:
    """ui.ms: '12 ms' (rounded half up, as Math.round), '1.23 s'."""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{math.floor(value + 0.5)} ms"


def test_the_dashboard_shows_known_traffic(signed_in: Page, gw: Gateway,
                                           known: tuple[str, list[dict[str, Any]]]) -> None:
    page = signed_in
    tag, rows = known
    show(page, tag)
    expect(card(page, "Requests")).to_contain_text("8")
    expect(card(page, "Errors")).to_contain_text("1")
    expect(card(page, "Errors")).to_contain_text("12.5 %")
    expect(card(page, "Input tokens")).to_contain_text(f"{sum(r['input_tokens'] or 0 for r in rows):,}")
    expect(card(page, "Output tokens")).to_contain_text(f"{sum(r['output_tokens'] or 0 for r in rows):,}")
    [total] = admin(gw, "GET", f"/usage/aggregate?group_by=all&tag={tag}")[1]["groups"]
    expect(card(page, "Latency p95")).to_contain_text(js_ms(total["latency_p95_ms"]))

    # the breakdown by endpoint: 5 and 3
    table = page.get_by_role("table", name="Usage by endpoint")
    for endpoint, requests, errors in (("chat-openai", "5", "1"), ("chat-anthropic", "3", "0")):
        cells = table.get_by_role("row").filter(has_text=endpoint).get_by_role("cell")
        expect(cells.nth(1)).to_have_text(requests)
        expect(cells.nth(2)).to_have_text(errors)

    # the charts: one series per endpoint, bars drawn, the same numbers in their value tables
    requests = chart(page, "Requests by endpoint")
    expect(requests).to_be_visible()
    assert totals(requests) == {"chat-openai": 5, "chat-anthropic": 3}
    assert requests.locator("rect.bar[data-series='chat-openai']").count() >= 1
    requests.locator("rect.bar").last.hover()  # the hour's values next to the pointer
    expect(requests.locator(".chart-tip")).to_be_visible()
    expect(requests.locator(".chart-tip")).to_contain_text("Total:")
    values = requests.locator("table[data-chart-values] td")
    assert sum(float(v or 0) for v in values.evaluate_all("cells => cells.map(c => c.dataset.value)")) == 8
    assert totals(chart(page, "Errors by endpoint")) == {"chat-openai": 1}
    assert totals(chart(page, "Tokens by endpoint"))["chat-anthropic"] == sum(
        r["total_tokens"] or 0 for r in rows if r["endpoint_name"] == "chat-anthropic")
    expect(chart(page, "Latency p95 by endpoint").locator("path.line")).to_have_count(3)  # two endpoints, all

    # the exports: the rows shown, and the chart's aggregate
    with page.expect_download() as got:
        page.get_by_role("button", name="Export rows (CSV)").click()
    exported = list(csv.DictReader(Path(got.value.path()).read_text().splitlines()))
    assert got.value.suggested_filename == "usage-rows.csv"
    assert sorted(r["request_id"] for r in exported) == sorted(r["request_id"] for r in rows)
    with page.expect_download() as got:
        page.get_by_role("button", name="Export chart data (CSV)").click()
    lines = list(csv.DictReader(Path(got.value.path()).read_text().splitlines()))
    assert got.value.suggested_filename == "usage-by-endpoint-per-hour.csv"
    per_endpoint: Counter[str] = Counter()
    for line in lines:
        per_endpoint[line["key"]] += int(line["requests"])
    assert per_endpoint == {"chat-openai": 5, "chat-anthropic": 3} and all(line["bucket"] for line in lines)


def test_a_row_of_the_breakdown_filters_and_the_route_preselects_an_endpoint(
        signed_in: Page, known: tuple[str, list[dict[str, Any]]]) -> None:
    page = signed_in
    tag, _ = known
    show(page, tag, "usage/chat-anthropic")
    expect(page.get_by_label("Endpoint", exact=True)).to_have_value("chat-anthropic")
    expect(card(page, "Requests")).to_contain_text("3")
    expect(card(page, "Errors")).to_contain_text("0")
    page.get_by_label("Endpoint", exact=True).select_option("")
    expect(card(page, "Requests")).to_contain_text("8")
    page.get_by_role("table", name="Usage by endpoint").get_by_role("row").filter(has_text="chat-openai").click()
    expect(card(page, "Requests")).to_contain_text("5")
    expect(page.get_by_label("Endpoint", exact=True)).to_have_value("chat-openai")
    assert page.evaluate("location.hash") == "#/usage/chat-openai"
    page.get_by_label("Time range").select_option("hour")  # minute buckets: one per minute of the hour
    figure = chart(page, "Requests by endpoint")
    expect(figure).to_be_visible()
    assert totals(figure) == {"chat-openai": 5}
    assert figure.locator("table[data-chart-values] tbody tr").count() in (60, 61)


def test_a_plain_user_sees_only_its_own_requests(page: Page, gw: Gateway,
                                                 known: tuple[str, list[dict[str, Any]]]) -> None:
    email, token = new_user(gw, query=("chat-openai",))
    deadline = time.monotonic() + 10
    while chat(gw, "chat-openai", "mine", {"who": "user"}, token) != 200:  # the grant reaches the worker
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert chat(gw, "chat-openai", "mine again", {"who": "user"}, token) == 200
    deadline = time.monotonic() + 15
    while len(admin(gw, "GET", f"/usage?requester={email}&status=200")[1]["rows"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    own = admin(gw, "GET", f"/usage?requester={email}")[1]["rows"]
    sign_in(page, token)
    page.goto("/console/#/usage")
    # its own requests only: none of the administrator's (the known traffic of the same hour)
    expect(card(page, "Requests")).to_contain_text(str(len(own)))
    expect(page.get_by_text("You see your own requests.")).to_be_visible()
    expect(page.get_by_label("Requester", exact=True)).to_have_count(0)
    page.get_by_role("tab", name="Requester").click()
    people = page.get_by_role("table", name="Usage by requester").locator("tbody tr")
    expect(people).to_have_count(1)
    expect(people).to_contain_text(email)
    assert totals(chart(page, "Requests by endpoint")) == {"chat-openai": len(own)}
    show(page, known[0])  # the administrator's tagged traffic: not this user's to see
    expect(page.get_by_text("No requests match these filters in this time range.")).to_be_visible()


def test_a_manager_sees_the_endpoints_it_manages(page: Page, gw: Gateway,
                                                 known: tuple[str, list[dict[str, Any]]]) -> None:
    tag, _ = known
    _, token = new_user(gw, manage=("chat-anthropic",), query=("chat-openai",))
    sign_in(page, token)
    show(page, tag)
    expect(card(page, "Requests")).to_contain_text("3")  # the administrator's, on its endpoint
    expect(page.get_by_text("You see the requests of the endpoints you manage: chat-anthropic.")).to_be_visible()
    options = page.get_by_label("Endpoint", exact=True).locator("option").all_inner_texts()
    assert options == ["All endpoints", "chat-anthropic"]
    assert totals(chart(page, "Requests by endpoint")) == {"chat-anthropic": 3}


def test_no_traffic_is_an_empty_state_and_a_bad_filter_an_error_in_place(signed_in: Page) -> None:
    page = signed_in
    show(page, f"run=nothing-{uuid.uuid4().hex[:8]}")
    expect(page.get_by_text("No requests match these filters in this time range.")).to_be_visible()
    expect(page.locator("figure.chart")).to_have_count(0)
    page.get_by_label("Tag", exact=True).fill("=x")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("field: tag")
    expect(page.get_by_label("Tag", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Time range").select_option("custom")
    page.get_by_label("From").fill("2030-01-02T00:00")
    page.get_by_label("To").fill("2030-01-01T00:00")
    page.get_by_label("Tag", exact=True).fill("")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("'To' must be after 'From'")


def test_a_day_of_varied_traffic_charts_hour_by_hour(signed_in: Page, gw: Gateway) -> None:
    """Traffic over three endpoints, three requesters and three teams, moved back over the last
    24 hours (a test cannot wait a day: the rows are real, only their times are changed in the
    store), lands in its hours; the screenshots of the dashboard are taken from it."""
    run = uuid.uuid4().hex[:10]
    users = [new_user(gw, query=("chat-openai", "chat-anthropic", "emb-openai")) for _ in range(2)]
    callers = [None, users[0][1], users[1][1]]
    teams = ["search", "ads", "support"]
    sent = 0
    for i in range(54):
        tags = {"demo": run, "team": teams[i % 3]}
        caller = callers[(0, 0, 1, 0, 2, 1, 0, 1, 0, 0, 2)[i % 11]]  # half the administrator's
        words = "lorem ipsum " * (3 + (i * 5) % 17)
        fault = ""
        if i % 13 == 5:
            fault = " MOCK_FAULT:status=503"
        elif i % 9 == 2:
            fault = f" MOCK_FAULT:hang_before_headers={0.05 + (i % 4) * 0.05:.2f}"  # slower, for the latency charts
        if i % 5 == 4:
            embed(gw, words, tags, caller)
        else:
            chat(gw, "chat-anthropic" if i % 3 == 1 else "chat-openai", words + fault, tags, caller)
        sent += 1
    rows = wait_rows(gw, f"demo={run}", sent)
    now = time.time()
    hours = Counter()
    for i, row in enumerate(sorted(rows, key=lambda r: r["request_id"])):
        # more traffic in the recent hours, a quiet night, a busy morning
        back = ((i * 37) % 23) * 3600 + (i * 613) % 3000
        moved = now - back
        gw.query("UPDATE usage SET event_time = ? WHERE request_id = ?", (moved, row["request_id"]))
        hours[time.strftime("%Y-%m-%dT%H", time.gmtime(moved))] += 1
    page = signed_in
    show(page, f"demo={run}")
    expect(card(page, "Requests")).to_contain_text(str(sent))
    figure = chart(page, "Requests by endpoint")
    expect(figure).to_be_visible()
    assert sum(totals(figure).values()) == sent
    per_bucket = figure.locator("table[data-chart-values] tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('td')].reduce((s, c) => s + Number(c.dataset.value || 0), 0))")
    assert len(per_bucket) in (24, 25)
    assert sorted(v for v in per_bucket if v) == sorted(hours.values())
    page.mouse.move(0, 0)
    shot(page, "usage")
    page.get_by_role("tab", name="Requester").click()
    page.get_by_role("heading", name="Breakdown").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('main#page').scrollIntoView(false)")
    expect(page.get_by_role("table", name="Usage by requester").locator("tbody tr")).to_have_count(3)
    shot(page, "usage-breakdown")
