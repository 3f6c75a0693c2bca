"""Spend budgets through a running gateway (2 workers) with the official SDKs: exactly the requests
a blocking budget can pay for get through under concurrency, the rest get a 429 naming it in each
dialect; estimates that exceed the real cost never let the spend pass the limit; alerts are sent
once per threshold (with retries); budgets that do not block only alert; daily and monthly periods
count from the usage table; spend survives a restart; a raised limit lets requests through; only
administrators manage budgets; two instances sharing PostgreSQL and Redis share a budget.

Prices make every mock answer cost a known amount: the mock answers "hi" with 2 output tokens
(and counts 4 input tokens), so at 1000 USD per million output tokens and nothing for input a
request costs exactly 0.002 USD, and with max_tokens 2 its estimate is exactly that too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.integration.gateway import ADMIN_TOKEN, Gateway, start_gateway
from tests.integration.postgres_server import schema_url, shared_postgres
from tests.integration.rawhttp import bearer, call
from tests.integration.redis_server import start_redis
from unigate.governance.budgets.ledger import NO_LIMIT, OK, REFUSED, UNSEEDED, LocalLedger
from unigate.governance.budgets.period import period_bounds
from unigate.governance.budgets.redis_ledger import RATE_LIMITED, RedisLedger
from unigate.governance.ratelimit.redis_backend import RedisBackend
from unigate.governance.ratelimit.resp import RespClient

COST = 0.002  # USD, one "hi" answered with max_tokens 2 on gpt-4o-mini at the test prices
TAGGED_CLOSED = {"Unigate-Request-Tags": json.dumps({"budget": "none"})}


# --- a webhook receiver ----------------------------------------------------------------------------

class Hooks:
    """An HTTP server on loopback that records the POSTs it gets; paths under /flaky answer 500
    to the first POST of each body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._failed: set[bytes] = set()
        self._lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hooks._lock:
                    hooks.received.append((self.path, dict(self.headers), json.loads(raw)))
                    fail = self.path.startswith("/flaky") and raw not in hooks._failed
                    if fail:
                        hooks._failed.add(raw)
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for p, _, body in self.received if p == path]

    def headers_on(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [h for p, h, _ in self.received if p == path]


def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


# --- the gateway ----------------------------------------------------------------------------------

def config(mock_url: str, hooks: str) -> str:
    ep = "destinations: [{provider: o, model: gpt-4o-mini}]"
    return f"""
providers:
  - {{name: o, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
  - {{name: c, type: anthropic, base_url: "{mock_url}", api_key: sk-ant-mock}}
  - {{name: g, type: gemini, base_url: "{mock_url}", api_key: mock-gemini-key}}
endpoints:
  - {{name: exact, {ep}}}
  - {{name: padded, destinations: [{{provider: o, model: gpt-4o}}]}}
  - {{name: alerting, {ep}}}
  - {{name: flaky, {ep}}}
  - {{name: watching, {ep}}}
  - {{name: raised, {ep}}}
  - {{name: grouped, {ep}}}
  - {{name: periods, {ep}}}
  - {{name: closed-chat, {ep}}}
  - name: both
    {ep}
    rate_limits: [{{key: endpoint, requests: 6, renewal_period: hour}}, {{key: endpoint, tokens: 100000,
                   renewal_period: hour}}]
  - {{name: closed-claude, destinations: [{{provider: c, model: claude-haiku-4-5}}]}}
  - {{name: closed-gemini, destinations: [{{provider: g, model: gemini-2.5-flash}}]}}
prices:
  - {{provider: o, model: gpt-4o-mini, input: 0, output: 1000}}
  - {{provider: o, model: gpt-4o, input: 100, output: 1000}}
budgets:
  - {{name: exact-cap, scope: {{endpoint: exact}}, period: monthly, limit_usd: 0.04, block: true}}
  - {{name: padded-cap, scope: {{endpoint: padded}}, period: monthly, limit_usd: 0.05, block: true}}
  - name: alerting
    scope: {{endpoint: alerting}}
    period: daily
    limit_usd: 0.016
    block: true
    alerts: [25, 50, 100]
    webhook: {{url: "{hooks}/alerting", headers: {{X-Hook-Key: hook-secret}}}}
  - {{name: flaky, scope: {{endpoint: flaky}}, period: daily, limit_usd: 0.002, alerts: [100],
      webhook: "{hooks}/flaky"}}
  - {{name: watching, scope: {{endpoint: watching}}, period: monthly, limit_usd: 0.004, alerts: [100, 200],
      webhook: "{hooks}/watching"}}
  - {{name: raised, scope: {{endpoint: raised}}, period: monthly, limit_usd: 0.006, block: true}}
  - {{name: org, scope: {{group: org}}, period: monthly, limit_usd: 0.004, block: true}}
  - {{name: closed, scope: {{tag: {{budget: none}}}}, period: daily, limit_usd: 0, block: true}}
  - {{name: both, scope: {{endpoint: both}}, period: monthly, limit_usd: 0.008, block: true}}
"""


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.server.shutdown()


@pytest.fixture(scope="module")
def gw(mock_url: str, hooks: Hooks) -> Iterator[Gateway]:
    g = start_gateway(config(mock_url, hooks.url), workers=2)
    yield g
    g.stop()


def openai_client(gw: Gateway, token: str | None = None, headers: dict[str, str] | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base}/openai/v1", api_key=token or gw.token, max_retries=0,
                         default_headers=headers)


def ask(client: openai.OpenAI, endpoint: str) -> str:
    """'ok', or the code of the error the SDK raised."""
    try:
        client.chat.completions.create(model=endpoint, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        return "ok"
    except openai.APIStatusError as e:
        return str(e.code or e.status_code)


def burst(gw: Gateway, endpoint: str, n: int, token: str | None = None) -> Counter[str]:
    client = openai_client(gw, token)
    with ThreadPoolExecutor(max_workers=min(n, 64)) as pool:
        return Counter(pool.map(lambda _: ask(client, endpoint), range(n)))


def budget(gw: Gateway, name: str) -> dict[str, Any]:
    r = call("GET", f"{gw.url}/api/v1/budgets/{name}", None, bearer(ADMIN_TOKEN))
    assert r.status == 200, r.body
    return dict(r.json())


def endpoint_spend(gw: Gateway, endpoint: str, expected_rows: int) -> float:
    """The usage table's cost_usd sum for the endpoint, once its rows are written."""
    def rows() -> list[tuple[Any, ...]] | None:
        got = gw.query("SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM usage WHERE endpoint_name = ?", (endpoint,))
        return got if got[0][0] >= expected_rows else None
    return float(eventually(rows)[0][1])


# --- exactness ------------------------------------------------------------------------------------

def test_exactly_the_requests_a_blocking_budget_can_pay_for_get_through(gw: Gateway) -> None:
    """20 requests' exact cost, 60 concurrent requests over 2 workers: exactly 20 are answered,
    the other 40 are refused naming the budget; the spend is the limit to the nano-dollar."""
    outcomes = burst(gw, "exact", 60)
    assert outcomes == Counter({"ok": 20, "budget_exceeded": 40}), outcomes
    assert endpoint_spend(gw, "exact", 60) == pytest.approx(0.04, abs=1e-12)
    b = budget(gw, "exact-cap")
    assert (b["spent_usd"], b["reserved_usd"], b["remaining_usd"], b["percent_used"]) == (0.04, 0.0, 0.0, 100.0)
    refused = gw.query("SELECT COUNT(*) FROM usage WHERE endpoint_name = 'exact' AND error_code = 'budget_exceeded' "
                       "AND status_code = 429")
    assert refused[0][0] == 40
    assert burst(gw, "exact", 3) == Counter({"budget_exceeded": 3})  # and it stays full


def test_the_refusal_names_the_budget_its_limit_and_when_it_resets(gw: Gateway) -> None:
    body = {"model": "exact", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    r = call("POST", f"{gw.base}/openai/v1/chat/completions", body, bearer(gw.token))
    if r.status == 200:  # the exactness test has not filled it (run alone): fill it
        burst(gw, "exact", 30)
        r = call("POST", f"{gw.base}/openai/v1/chat/completions", body, bearer(gw.token))
    assert r.status == 429
    err = r.json()["error"]
    assert err["code"] == "budget_exceeded" and err["type"] == "rate_limit_error"
    assert "budget 'exact-cap'" in err["message"] and "0.04 USD per month" in err["message"]
    _, end = period_bounds("monthly", time.time())
    assert abs(int(r.headers["retry-after"]) - (end - time.time())) < 5


def test_estimates_above_the_real_cost_never_let_the_spend_pass_the_limit(gw: Gateway) -> None:
    """Input priced too: each request reserves its request body's size (~4 bytes a token) and is
    charged its 4 real input tokens, so concurrent bursts let fewer through than the limit pays
    for; once they are settled, more fit; the spend never passes the limit."""
    first = burst(gw, "padded", 40)
    assert first["ok"] >= 1 and set(first) <= {"ok", "budget_exceeded"}
    client = openai_client(gw)
    answered = first["ok"]
    while ask(client, "padded") == "ok":  # one at a time, each settled before the next
        answered += 1
        assert answered < 40
    spent = endpoint_spend(gw, "padded", sum(first.values()) + answered - first["ok"] + 1)
    real = 4 * 100e-6 + 2 * 1000e-6  # 0.0024 USD a request
    assert spent == pytest.approx(answered * real, abs=1e-9)
    assert spent <= 0.05
    assert 0.05 - spent < 0.01  # refused only once what was left could not take one more estimate
    b = budget(gw, "padded-cap")
    assert b["spent_usd"] == pytest.approx(spent, abs=1e-9) and b["reserved_usd"] == 0.0


def test_budgets_and_rate_limits_take_their_shares_all_or_nothing(gw: Gateway) -> None:
    """6 requests an hour, 4 requests' worth of budget: 10 at once get 4 answers and 6 budget
    refusals, and the refused ones took nothing from the rate limit (with Redis both are taken in
    one round trip; on one host the rate limits' share is given back): once the budget is raised,
    the rate limit still has 2 requests for the hour."""
    into = time.time() % 3600
    if into > 3600 - 30:  # a burst across the hour would rightly see two windows
        time.sleep(3600 - into + 1)
    first = burst(gw, "both", 10)
    if os.environ.get("UNIGATE_TEST_REDIS") == "1":  # one script: never a transient hold
        assert first == Counter({"ok": 4, "budget_exceeded": 6})
    else:  # another worker may see a request's rate-limit share for the microseconds it is held
        assert first["ok"] == 4 and first["budget_exceeded"] + first["rate_limited"] == 6, first
    r = call("PUT", f"{gw.url}/api/v1/budgets/both", {"scope": {"endpoint": "both"}, "period": "monthly",
                                                       "limit_usd": 1, "block": True}, bearer(ADMIN_TOKEN))
    assert r.status == 200
    time.sleep(1.5)  # every worker has the new limit
    assert burst(gw, "both", 5) == Counter({"ok": 2, "rate_limited": 3})
    assert budget(gw, "both")["spent_usd"] == pytest.approx(6 * COST, abs=1e-12)


# --- dialects --------------------------------------------------------------------------------------

def test_refusals_in_the_anthropic_and_gemini_sdks_shapes(gw: Gateway) -> None:
    """A budget of 0 on a request tag refuses every tagged request, whichever dialect."""
    assert ask(openai_client(gw, headers=TAGGED_CLOSED), "closed-chat") == "budget_exceeded"
    assert ask(openai_client(gw), "closed-chat") == "ok"  # untagged: not in the budget's scope
    claude = anthropic.Anthropic(api_key="unused", base_url=f"{gw.base}/anthropic", max_retries=0,
                                 default_headers={"Authorization": f"Bearer {gw.token}", **TAGGED_CLOSED})
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude.messages.create(model="closed-claude", max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error" and "budget 'closed'" in body["error"]["message"]
    assert refused.value.response.headers.get("retry-after")
    gemini = genai.Client(api_key="unused", http_options=gt.HttpOptions(
        base_url=f"{gw.base}/gemini", headers={"Authorization": f"Bearer {gw.token}", **TAGGED_CLOSED}))
    with pytest.raises(genai_errors.ClientError) as denied:
        gemini.models.generate_content(model="closed-gemini", contents="hi",
                                       config=gt.GenerateContentConfig(max_output_tokens=2))
    assert denied.value.code == 429 and denied.value.status == "RESOURCE_EXHAUSTED"
    assert "budget 'closed'" in (denied.value.message or "")


# --- alerts ---------------------------------------------------------------------------------------

def test_alert_webhooks_fire_once_per_threshold(gw: Gateway, hooks: Hooks) -> None:
    """8 requests' worth, 25/50/100%: a burst of 20 over both workers reaches every threshold;
    each is POSTed once, with the budget, the threshold and the spend, and the configured header."""
    outcomes = burst(gw, "alerting", 20)
    assert outcomes == Counter({"ok": 8, "budget_exceeded": 12})
    sent = eventually(lambda: len(hooks.on("/alerting")) >= 3 and hooks.on("/alerting"))
    time.sleep(1.5)  # nothing more comes
    sent = hooks.on("/alerting")
    assert sorted(a["threshold_percent"] for a in sent) == [25, 50, 100]
    for alert in sent:
        assert alert["type"] == "budget.alert" and alert["budget"] == "alerting" and alert["period"] == "daily"
        assert alert["spent_usd"] >= 0.016 * alert["threshold_percent"] / 100 - 1e-12
        assert alert["limit_usd"] == 0.016 and alert["block"] is True
        assert alert["period_start"] == datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    assert all(h.get("X-Hook-Key") == "hook-secret" for h in hooks.headers_on("/alerting"))
    b = eventually(lambda: (b := budget(gw, "alerting")) and all(a["delivered_at"] for a in b["alerts_sent"])
                   and len(b["alerts_sent"]) == 3 and b)
    assert sorted(a["threshold_percent"] for a in b["alerts_sent"]) == [25, 50, 100]
    assert b["webhook"]["headers"] == {"X-Hook-Key": "(hidden)"}
    def metrics() -> str:
        return call("GET", f"{gw.url}/metrics", None, bearer(ADMIN_TOKEN)).body.decode()
    text = eventually(lambda: (m := metrics()) and 'threshold="100"} 1' in m and m)  # posted each second
    for t in ("25", "50", "100"):
        assert f'unigate_budget_alerts_total{{budget="alerting",threshold="{t}"}} 1\n' in text
    assert 'unigate_budget_limit_usd{budget="alerting"} 0.016' in text


def test_a_failing_webhook_is_tried_again(gw: Gateway, hooks: Hooks) -> None:
    assert ask(openai_client(gw), "flaky") == "ok"
    eventually(lambda: len(hooks.on("/flaky")) >= 2)
    first, second = hooks.on("/flaky")[:2]
    assert first == second and first["threshold_percent"] == 100
    alert = eventually(lambda: (b := budget(gw, "flaky"))["alerts_sent"] and b["alerts_sent"][0]["delivered_at"]
                       and b["alerts_sent"][0])
    assert alert["attempts"] == 2 and alert["error"] is None


def test_a_budget_that_does_not_block_only_alerts(gw: Gateway, hooks: Hooks) -> None:
    assert burst(gw, "watching", 5) == Counter({"ok": 5})
    eventually(lambda: len(hooks.on("/watching")) >= 2)
    time.sleep(1.0)
    assert sorted(a["threshold_percent"] for a in hooks.on("/watching")) == [100, 200]
    b = budget(gw, "watching")
    assert b["spent_usd"] == pytest.approx(5 * COST, abs=1e-12) and b["percent_used"] == 250.0
    assert b["remaining_usd"] == 0.0 and b["block"] is False


# --- scopes and periods ----------------------------------------------------------------------------

def test_a_group_budget_covers_members_of_nested_groups(gw: Gateway) -> None:
    admin = bearer(ADMIN_TOKEN)
    api = f"{gw.url}/api/v1"
    assert call("POST", f"{api}/users", {"email": "nested@example.com"}, admin).status == 201
    assert call("POST", f"{api}/groups", {"name": "team", "members": [{"user_name": "nested@example.com"}]},
                admin).status == 201
    assert call("POST", f"{api}/groups", {"name": "org", "members": [{"group_name": "team"}]}, admin).status == 201
    acl = {"access_control_list": [{"group_name": "org", "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", f"{api}/endpoints/grouped/permissions", acl, admin).status == 200
    token = call("POST", f"{api}/tokens", {"principal": "nested@example.com"}, admin).json()["token"]
    client = openai_client(gw, token)
    eventually(lambda: ask(client, "grouped") == "ok")  # both workers know the grant
    outcomes = Counter(ask(client, "grouped") for _ in range(3))
    assert outcomes == Counter({"ok": 1, "budget_exceeded": 2})  # 2 requests' worth in all
    assert burst(gw, "grouped", 3) == Counter({"ok": 3})  # the admin is not in the group


def test_daily_and_monthly_budgets_count_their_own_period_from_the_usage_table(gw: Gateway) -> None:
    now = time.time()
    month_start, month_end = period_bounds("monthly", now)
    day_start, day_end = period_bounds("daily", now)
    columns = "request_id, event_time, endpoint_name, api_type, status_code, cost_usd"
    rows = [("earlier-this-month", month_start + 60, 0.005), ("last-month", month_start - 60, 1.0)]
    for rid, at, cost in rows:
        gw.query(f"INSERT INTO usage ({columns}) VALUES (?, ?, 'periods', 'chat', 200, ?)", (rid, at, cost))
    this_month_before_today = month_start + 60 < day_start  # not so on the 1st
    admin = bearer(ADMIN_TOKEN)
    for spec in ({"name": "periods-daily", "scope": {"endpoint": "periods"}, "period": "daily", "limit_usd": 1},
                 {"name": "periods-monthly", "scope": {"endpoint": "periods"}, "period": "monthly",
                  "limit_usd": 0.006, "block": True}):
        assert call("POST", f"{gw.url}/api/v1/budgets", spec, admin).status == 201
    daily, monthly = budget(gw, "periods-daily"), budget(gw, "periods-monthly")
    iso = "%Y-%m-%dT%H:%M:%SZ"
    assert (daily["period_start"], daily["period_end"]) == tuple(
        datetime.fromtimestamp(t, UTC).strftime(iso) for t in (day_start, day_end))
    assert (monthly["period_start"], monthly["period_end"]) == tuple(
        datetime.fromtimestamp(t, UTC).strftime(iso) for t in (month_start, month_end))
    assert daily["spent_usd"] == (0.0 if this_month_before_today else 0.005)
    assert monthly["spent_usd"] == 0.005
    client = openai_client(gw)
    time.sleep(1.5)  # both workers have the budgets
    # 0.005 spent this month before today, 0.006 the limit: the next request's 0.002 does not fit
    assert ask(client, "periods") == "budget_exceeded"
    assert call("PUT", f"{gw.url}/api/v1/budgets/periods-monthly",
                {**{k: monthly[k] for k in ("scope", "period", "block")}, "limit_usd": 0.009}, admin).status == 200
    eventually(lambda: ask(client, "periods") == "ok")
    daily = budget(gw, "periods-daily")
    assert daily["spent_usd"] == pytest.approx(COST + (0.0 if this_month_before_today else 0.005), abs=1e-12)
    assert budget(gw, "periods-monthly")["spent_usd"] == pytest.approx(0.005 + COST, abs=1e-12)


def test_raising_the_limit_lets_requests_through_again(gw: Gateway) -> None:
    assert burst(gw, "raised", 6) == Counter({"ok": 3, "budget_exceeded": 3})
    admin = bearer(ADMIN_TOKEN)
    spec = {"scope": {"endpoint": "raised"}, "period": "monthly", "limit_usd": 0.012, "block": True}
    r = call("PUT", f"{gw.url}/api/v1/budgets/raised", spec, admin)
    assert r.status == 200 and r.json()["limit_usd"] == 0.012 and r.json()["remaining_usd"] == pytest.approx(0.006)
    time.sleep(1.5)  # every worker has the new limit
    assert burst(gw, "raised", 6) == Counter({"ok": 3, "budget_exceeded": 3})
    audit = call("GET", f"{gw.url}/api/v1/audit?target=raised", None, admin).json()["entries"]
    change = next(e for e in audit if e["action"] == "budget.update")
    assert {"field": "limit_usd", "old": 0.006, "new": 0.012} in change["details"]["diff"]


# --- the admin API --------------------------------------------------------------------------------

def test_only_administrators_manage_budgets(gw: Gateway) -> None:
    admin = bearer(ADMIN_TOKEN)
    api = f"{gw.url}/api/v1"
    assert call("POST", f"{api}/users", {"email": "not-admin@example.com"}, admin).status == 201
    token = call("POST", f"{api}/tokens", {"principal": "not-admin@example.com"}, admin).json()["token"]
    acl = {"access_control_list": [{"user_name": "not-admin@example.com", "permission_level": "CAN_MANAGE"}]}
    assert call("PATCH", f"{api}/endpoints/raised/permissions", acl, admin).status == 200
    spec = {"name": "sneaky", "period": "daily", "limit_usd": 1000}
    user = bearer(token)
    time.sleep(1.0)  # the grant reached the workers: the caller is an endpoint manager
    assert call("GET", f"{api}/endpoints/raised", None, user).status == 200
    for method, path, body in (("GET", "/budgets", None), ("POST", "/budgets", spec),
                               ("GET", "/budgets/raised", None), ("PUT", "/budgets/raised", spec),
                               ("DELETE", "/budgets/raised", None)):
        r = call(method, f"{api}{path}", body, user)
        assert r.status == 403, (method, path, r.body)
        assert r.json()["error"]["code"] == "permission_denied"
    assert budget(gw, "raised")["limit_usd"] > 0


def test_bad_budgets_get_a_400_naming_the_field(gw: Gateway) -> None:
    admin = bearer(ADMIN_TOKEN)
    api = f"{gw.url}/api/v1/budgets"
    for body, field in (({"name": "b1", "period": "weekly", "limit_usd": 1}, "period"),
                        ({"name": "b1", "period": "daily", "limit_usd": -1}, "limit_usd"),
                        ({"name": "b1", "period": "daily"}, "limit_usd"),
                        ({"name": "b1", "period": "daily", "limit_usd": 1, "scope": {"tag": "x"}}, "scope.tag"),
                        ({"name": "b1", "period": "daily", "limit_usd": 1, "alerts": [80], "webhook": "nope"},
                         "webhook.url"),
                        ({"name": "b1", "period": "daily", "limit_usd": 1, "colour": "red"}, "colour"),
                        ({"name": "b1", "period": "daily", "limit_usd": "${HOME}"}, "limit_usd")):
        r = call("POST", api, body, admin)
        assert r.status == 400, (body, r.body)
        assert r.json()["error"]["field"] == field, r.body
    assert call("POST", api, b"not json", admin).status == 400
    assert call("POST", api, {"name": "exact-cap", "period": "daily", "limit_usd": 1}, admin).status == 409
    assert call("GET", f"{api}/no-such", None, admin).status == 404
    assert call("DELETE", f"{api}/no-such", None, admin).status == 404
    r = call("PUT", f"{api}/other", {"name": "different", "period": "daily", "limit_usd": 1}, admin)
    assert r.status == 400 and r.json()["error"]["field"] == "name"


def test_create_read_update_delete_keep_header_values_hidden_and_audited(gw: Gateway) -> None:
    admin = bearer(ADMIN_TOKEN)
    api = f"{gw.url}/api/v1/budgets"
    spec = {"name": "crud", "scope": {"principal": "someone@example.com"}, "period": "daily", "limit_usd": 3,
            "alerts": [90], "webhook": {"url": "https://hooks.example.com/x", "headers": {"Authorization": "k1"}}}
    r = call("PUT", f"{api}/crud", spec, admin)
    assert r.status == 201, r.body
    got = r.json()
    assert got["webhook"]["headers"] == {"Authorization": "(hidden)"} and got["spent_usd"] == 0.0
    assert got["period"] == "daily" and got["alerts_sent"] == []
    r = call("PUT", f"{api}/crud", {**got, "limit_usd": 4}, admin)  # what a read showed, sent back
    assert r.status == 200 and r.json()["limit_usd"] == 4
    assert gw.stored_spec("budgets", "crud")["webhook"]["headers"] == {"Authorization": "k1"}  # kept, not "(hidden)"
    assert "crud" in [b["name"] for b in call("GET", api, None, admin).json()["budgets"]]
    assert call("DELETE", f"{api}/crud", None, admin).json() == {"deleted": "crud"}
    assert call("GET", f"{api}/crud", None, admin).status == 404
    entries = call("GET", f"{gw.url}/api/v1/audit?target=crud", None, admin).json()["entries"]
    assert {e["action"] for e in entries} >= {"budget.create", "budget.update", "budget.delete"}
    assert "k1" not in json.dumps(entries)


# --- restarts and instances ------------------------------------------------------------------------

def _restart_config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: o, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - {{name: chat, destinations: [{{provider: o, model: gpt-4o-mini}}]}}
prices:
  - {{provider: o, model: gpt-4o-mini, input: 0, output: 1000}}
budgets:
  - {{name: everything, period: monthly, limit_usd: 0.01, block: true}}
"""


def test_spend_survives_a_restart(mock_url: str) -> None:
    """3 of 5 requests' worth spent, the gateway restarted (its counters gone: seeded from the
    usage table): of 10 concurrent requests exactly 2 more fit."""
    first = start_gateway(_restart_config(mock_url), workers=2)
    try:
        assert burst(first, "chat", 3) == Counter({"ok": 3})
    finally:
        first.stop()
    again = start_gateway(_restart_config(mock_url), workers=2, data_dir=first.data_dir)
    try:
        assert budget(again, "everything")["spent_usd"] == pytest.approx(3 * COST, abs=1e-12)
        assert burst(again, "chat", 10) == Counter({"ok": 2, "budget_exceeded": 8})
        assert budget(again, "everything")["spent_usd"] == pytest.approx(0.01, abs=1e-12)
    finally:
        again.stop()


def test_two_instances_sharing_postgresql_and_redis_share_a_budget(mock_url: str, tmp_path: Path) -> None:
    store = schema_url(shared_postgres(), str(tmp_path / "shared"))
    redis, stop_redis = start_redis()
    env = {"UNIGATE_STORE_URL": store, "UNIGATE_REDIS_URL": redis}
    a = start_gateway(_restart_config(mock_url), workers=2, env=env)
    b = start_gateway(_restart_config(mock_url), workers=2, env=env)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            both = list(pool.map(lambda g: burst(g, "chat", 15), (a, b)))
        assert both[0] + both[1] == Counter({"ok": 5, "budget_exceeded": 25}), both
        for g in (a, b):
            assert budget(g, "everything")["spent_usd"] == pytest.approx(0.01, abs=1e-12)
    finally:
        a.stop()
        b.stop()
        stop_redis()


# --- the Redis ledger -------------------------------------------------------------------------------

async def test_one_round_trip_takes_rate_limits_and_budgets_all_or_nothing() -> None:
    url, stop = start_redis()
    backend = RedisBackend(url)
    ledger = RedisLedger(backend.client)
    window = int(time.time() // 3600) * 3600
    end = int(time.time()) + 3600
    rl = [("fold-rl", window, 3600, 2, 1)]
    try:
        assert await ledger.reserve_with_limits_async(rl, [("fold-b", end, 100, 60, 0)]) == (OK, -1)
        assert await ledger.reserve_with_limits_async(rl, [("fold-b", end, 100, 60, 0)]) == (REFUSED, 0)
        assert await ledger.read_async(["fold-b"]) == [(60, 0)]
        assert await ledger.reserve_with_limits_async(rl, [("fold-b", end, 100, 40, 0)]) == (OK, -1)
        # the budget refusal took no request: the rate limit had room for this second one
        assert await ledger.reserve_with_limits_async(rl, [("fold-c", end, 100, 1, 0)]) == (RATE_LIMITED, 0)
        assert await ledger.read_async(["fold-b", "fold-c"]) == [(100, 0), None]  # nothing taken for c
        assert await backend.try_acquire_async(rl) == 0  # the rate limiter sees the same counter: full
        assert await ledger.reserve_with_limits_async([], [("fold-u", end, 100, 1, -1)]) == (UNSEEDED, 0)
    finally:
        for key in ("unigate:rl:fold-rl", "unigate:budget:fold-b"):
            await backend.client.call("DEL", key)
        await backend.close()
        stop()


async def test_the_redis_ledger_follows_the_local_ledger() -> None:
    url, stop = start_redis()
    client = RespClient(url)
    redis, local = RedisLedger(client), LocalLedger()
    end = int(time.time()) + 3600
    big = 10**15  # 1,000,000 USD in nano-dollars: exact in Redis
    steps: list[tuple[str, list[Any]]] = [
        ("reserve", [("a", end, 100, 30, 0), ("b", end, NO_LIMIT, 30, 0)]),
        ("reserve", [("a", end, 100, 30, 0), ("b", end, NO_LIMIT, 30, 0)]),
        ("reserve", [("a", end, 100, 50, 0), ("b", end, NO_LIMIT, 50, 0)]),   # a refuses: b unchanged
        ("settle", [("a", 30, 12), ("b", 30, 12), ("gone", 1, 1)]),
        ("read", ["a", "b", "gone"]),
        ("reserve", [("s", end, 100, 10, -1)]),                              # unseeded
        ("reserve", [("s", end, 100, 10, 95)]),                              # seeded: refused
        ("reserve", [("s", end, 100, 5, 95)]),
        ("reserve", [("s", end, 100, 0, 0)]),                                # full
        ("settle", [("s", 5, 0)]),
        ("reserve", [("big", end, 2 * big, big, big - 3)]),
        ("settle", [("big", big, big + 1)]),
        ("read", ["s", "big"]),
    ]
    try:
        for op, items in steps:
            if op == "reserve":
                assert await redis.reserve_async(items) == local.reserve(items), items
            elif op == "settle":
                assert await redis.settle_async(items) == local.settle(items), items
            else:
                assert await redis.read_async(items) == local.read(items), items
        ttl = await client.call("TTL", "unigate:budget:a")
        assert end - time.time() + 86_400 - 5 < int(ttl) <= end - time.time() + 86_400 + 1
    finally:
        for key in ("a", "b", "s", "big"):
            await client.call("DEL", f"unigate:budget:{key}")
        await client.close()
        stop()


# --- the CLI and unigate apply ---------------------------------------------------------------------

def unigate(gw: Gateway, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "UNIGATE_URL": gw.url, "UNIGATE_TOKEN": ADMIN_TOKEN, **(env or {})}
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args], text=True, capture_output=True,
                          env=full, timeout=60)


def test_the_budgets_commands(gw: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("""
budgets:
  - {name: cli-a, scope: {tag: {team: cli}}, period: daily, limit_usd: 2.5, alerts: [80],
     webhook: {url: "${CLI_HOOK}", headers: {X-Key: "${CLI_HOOK_KEY}"}}}
  - {name: cli-b, period: monthly, limit_usd: 1000}
""")
    done = unigate(gw, "budgets", "set", str(path), env={"CLI_HOOK": "https://hooks.example.com/cli",
                                                        "CLI_HOOK_KEY": "cli-secret"})
    assert done.returncode == 0, done.stderr
    assert "cli-a" in done.stdout and "tag team=cli" in done.stdout and "everything" in done.stdout
    stored = gw.stored_spec("budgets", "cli-a")
    assert stored["webhook"] == {"url": "https://hooks.example.com/cli", "headers": {"X-Key": "cli-secret"}}
    listed = unigate(gw, "budgets", "list")
    assert listed.returncode == 0 and "cli-b" in listed.stdout and "SPENT_USD" in listed.stdout
    shown = unigate(gw, "budgets", "get", "cli-a")
    assert shown.returncode == 0, shown.stderr
    assert "2.5 USD per day (UTC), alerts only" in shown.stdout
    assert "80% -> https://hooks.example.com/cli" in shown.stdout
    assert "cli-secret" not in unigate(gw, "budgets", "get", "cli-a", "--json").stdout
    assert unigate(gw, "budgets", "delete", "cli-b").stdout.strip() == "Deleted budget cli-b."
    missing = unigate(gw, "budgets", "get", "cli-b")
    assert missing.returncode == 1 and "404" in missing.stderr
    path.write_text("budgets: [{name: cli-c, period: yearly, limit_usd: 1}]")
    bad = unigate(gw, "budgets", "set", str(path))
    assert bad.returncode == 1 and "budgets[0] (cli-c): period: must be daily or monthly" in bad.stderr
    assert unigate(gw, "budgets", "delete", "cli-a").returncode == 0


def test_unigate_apply_plans_creates_updates_and_prunes_budgets(mock_url: str, tmp_path: Path) -> None:
    g = start_gateway(_restart_config(mock_url), workers=1)
    try:
        path = tmp_path / "apply.yaml"
        base = _restart_config(mock_url)
        path.write_text(base.replace("limit_usd: 0.01", "limit_usd: 0.02") + """
  - {name: applied, scope: {endpoint: chat}, period: daily, limit_usd: 5, block: true}
""")
        plan = unigate(g, "apply", "-f", str(path), "--dry-run")
        assert plan.returncode == 0, plan.stderr
        assert "+ create budget applied" in plan.stdout and "~ update budget everything" in plan.stdout
        assert "limit_usd: 0.01 -> 0.02" in plan.stdout
        assert call("GET", f"{g.url}/api/v1/budgets/applied", None, bearer(ADMIN_TOKEN)).status == 404
        done = unigate(g, "apply", "-f", str(path), "--yes")
        assert done.returncode == 0, done.stderr
        assert budget(g, "applied")["limit_usd"] == 5 and budget(g, "everything")["limit_usd"] == 0.02
        again = unigate(g, "apply", "-f", str(path), "--dry-run")
        assert "No changes" in again.stdout
        path.write_text(base.split("budgets:")[0] + "budgets:\n  - {name: applied, scope: {endpoint: chat}, "
                                                   "period: daily, limit_usd: 5, block: true}\n")
        pruned = unigate(g, "apply", "-f", str(path), "--prune", "--yes")
        assert pruned.returncode == 0, pruned.stderr
        assert call("GET", f"{g.url}/api/v1/budgets/everything", None, bearer(ADMIN_TOKEN)).status == 404
        r = call("POST", f"{g.url}/api/v1/apply", {"budgets": [{"name": "x", "period": "daily", "limit_usd": -1}],
                                                   "dry_run": True}, bearer(ADMIN_TOKEN))
        assert r.status == 400 and r.json()["error"]["field"] == "budgets[0].limit_usd"
        entries = call("GET", f"{g.url}/api/v1/audit?action=config.apply", None, bearer(ADMIN_TOKEN)).json()["entries"]
        assert any(c["kind"] == "budget" for e in entries for c in e["details"]["changes"])
    finally:
        g.stop()
