"""Rate limits through a running gateway: exact under concurrency across workers, per-user
defaults, token reservations settled on real usage, 429s in each dialect, changes at run time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import Reply, bearer, call, until_stable


def config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: o, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
  - {{name: c, type: anthropic, base_url: "{mock_url}", api_key: sk-ant-mock}}
endpoints:
  - name: capped
    destinations: [{{provider: o, model: gpt-4o-mini}}]
    rate_limits: [{{key: endpoint, requests: 50, renewal_period: minute}}]
  - name: per-user
    destinations: [{{provider: c, model: claude-haiku-4-5}}]
    rate_limits: [{{key: user_default, requests: 3, renewal_period: minute}}]
  - name: closed
    destinations: [{{provider: o, model: gpt-4o-mini}}]
    rate_limits: [{{key: endpoint, requests: 0, renewal_period: minute}}]
  - name: tokens
    destinations: [{{provider: o, model: gpt-4o-mini}}]
    rate_limits: [{{key: endpoint, tokens: 400, renewal_period: minute}}]
  - name: open
    destinations: [{{provider: o, model: gpt-4o-mini}}]
"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(config(mock_url), workers=2)
    yield g
    g.stop()


def chat(gw: Gateway, endpoint: str, token: str, max_tokens: int | None = None,
         stream: bool = False) -> Reply:
    body: dict[str, object] = {"model": endpoint, "messages": [{"role": "user", "content": "hello there"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return call("POST", f"{gw.base}/mlflow/v1/chat/completions", body, bearer(token))


def make_user(gw: Gateway, email: str, endpoint: str) -> str:
    admin = bearer(gw.token)
    assert call("POST", f"{gw.url}/api/v1/users", {"email": email}, admin).status == 201
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", f"{gw.url}/api/v1/endpoints/{endpoint}/permissions", acl, admin).status == 200
    r = call("POST", f"{gw.url}/api/v1/tokens", {"principal": email}, admin)
    assert r.status == 201, r.body
    return str(r.json()["token"])


def wait_until(check: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_exact_under_concurrency_across_workers(gw: Gateway) -> None:
    with ThreadPoolExecutor(max_workers=64) as pool:
        replies = list(pool.map(lambda _: chat(gw, "capped", gw.token), range(200)))
    statuses = [r.status for r in replies]
    assert statuses.count(200) == 50, statuses
    assert statuses.count(429) == 150
    denied = next(r for r in replies if r.status == 429)
    assert 1 <= int(denied.headers["retry-after"]) <= 60
    message = denied.json()["error"]["message"]
    assert "50 requests per minute" in message and "capped" in message


def test_zero_denies_all(gw: Gateway) -> None:
    r = chat(gw, "closed", gw.token)
    assert r.status == 429 and "retry-after" in r.headers


def test_user_default_applies_to_each_user_in_the_dialect_shape(gw: Gateway) -> None:
    alice = make_user(gw, "alice@example.com", "per-user")
    bob = make_user(gw, "bob@example.com", "per-user")
    body = {"model": "per-user", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    url = f"{gw.base}/anthropic/v1/models"
    for token in (alice, bob):  # tokens and grants live on every worker (listing costs no budget)
        until_stable(lambda t=token: "per-user" in call("GET", url, headers=bearer(t)).body.decode())
    url = f"{gw.base}/anthropic/v1/messages"
    assert [call("POST", url, body, bearer(alice)).status for _ in range(3)] == [200, 200, 200]
    denied = call("POST", url, body, bearer(alice))
    assert denied.status == 429
    err = denied.json()
    assert err["type"] == "error" and err["error"]["type"] == "rate_limit_error"
    assert "alice@example.com" in err["error"]["message"] and denied.headers.get("retry-after")
    assert call("POST", url, body, bearer(bob)).status == 200  # bob has his own budget


def test_token_limits_reserve_then_settle_on_real_usage(gw: Gateway) -> None:
    # Each request reserves ~(body/4 + 150) tokens but really uses ~10: without settling,
    # the third would be refused; with it, many pass.
    statuses = [chat(gw, "tokens", gw.token, max_tokens=150).status for _ in range(6)]
    assert statuses == [200] * 6, statuses
    streamed = [chat(gw, "tokens", gw.token, max_tokens=150, stream=True).status for _ in range(3)]
    assert streamed == [200] * 3


def test_limits_changed_at_run_time(gw: Gateway) -> None:
    admin = bearer(gw.token)
    assert chat(gw, "open", gw.token).status == 200
    r = call("PUT", f"{gw.url}/api/v1/endpoints/open/rate-limits",
             {"rate_limits": [{"key": "endpoint", "requests": 0, "renewal_period": "minute"}]}, admin)
    assert r.status == 200, r.body
    wait_until(lambda: chat(gw, "open", gw.token).status == 429, timeout=1.5)


def test_blocked_requests_leave_usage_rows(gw: Gateway) -> None:
    r = chat(gw, "closed", gw.token)
    rid = r.headers["x-request-id"]

    def row() -> bool:
        q = call("GET", f"{gw.url}/api/v1/usage?endpoint=closed&limit=100", headers=bearer(gw.token))
        return any(x["request_id"] == rid and x["status_code"] == 429 for x in q.json()["rows"])
    wait_until(row)


def test_bad_rate_limits_are_refused_naming_the_field(gw: Gateway) -> None:
    r = call("PUT", f"{gw.url}/api/v1/endpoints/open/rate-limits",
             {"rate_limits": [{"key": "endpoint", "requests": 5, "renewal_period": "day"}]}, bearer(gw.token))
    assert r.status == 400
    assert "renewal_period" in json.dumps(r.json())
