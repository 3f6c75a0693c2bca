"""Several instances on one PostgreSQL and one Redis (real servers): a change made through one
instance applies on all of them within a second, and an outage of the database stops neither
the traffic nor the accounting: rows answered meanwhile are written once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import ADMIN_TOKEN, Gateway, start_gateway
from tests.integration.postgres_server import PostgresServer, schema_url, shared_postgres
from tests.integration.rawhttp import bearer, call
from tests.integration.redis_server import start_redis

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def _config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - {{name: chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""


@pytest.fixture(scope="module")
def three(mock_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Gateway]]:
    """Three instances of two workers each, sharing a PostgreSQL schema and a Redis."""
    store = schema_url(shared_postgres(), str(tmp_path_factory.mktemp("three")))
    redis, stop_redis = start_redis()
    env = {"UNIGATE_STORE_URL": store, "UNIGATE_REDIS_URL": redis}
    gateways = [start_gateway(_config(mock_url), workers=2, env=env) for _ in range(3)]
    yield gateways
    for gw in gateways:
        gw.stop()
    stop_redis()


def _first_success(gw: Gateway, token: str, began: float, limit: float = 10.0) -> float:
    """Seconds from `began` until `token` is accepted by every worker of `gw` (several tries
    in a row succeed, so both workers took it)."""
    in_a_row = 0
    while time.monotonic() - began < limit:
        ok = call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(token)).status == 200
        in_a_row = in_a_row + 1 if ok else 0
        if in_a_row == 6:
            return time.monotonic() - began
        time.sleep(0.01)
    return float("inf")


def test_a_token_made_on_one_instance_works_on_all_within_a_second(three: list[Gateway]) -> None:
    a = three[0]
    api = f"{a.url}/api/v1"
    assert call("POST", f"{api}/users", {"email": "everywhere@example.com"}, bearer(ADMIN_TOKEN)).status == 201
    assert call("PUT", f"{api}/endpoints/chat/permissions", {"access_control_list": [
        {"user_name": "everywhere@example.com", "permission_level": "CAN_QUERY"}]}, bearer(ADMIN_TOKEN)).status == 200
    began = time.monotonic()
    made = call("POST", f"{api}/tokens", {"principal": "everywhere@example.com"}, bearer(ADMIN_TOKEN))
    assert made.status == 201
    token = made.json()["token"]
    waits = [_first_success(gw, token, began) for gw in three]
    print(f"token accepted everywhere after {[round(w, 3) for w in waits]} s")
    assert max(waits) < 1.0, waits
    # and a revocation, the same way
    began = time.monotonic()
    assert call("DELETE", f"{api}/tokens/{made.json()['token_id']}", None, bearer(ADMIN_TOKEN)).status == 200
    for gw in three:
        while call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(token)).status != 401:
            assert time.monotonic() - began < 1.0, "a revoked token still works after a second"
            time.sleep(0.01)


def test_an_endpoint_made_on_one_instance_is_served_by_all(three: list[Gateway]) -> None:
    began = time.monotonic()
    r = call("POST", f"{three[1].url}/api/v1/endpoints",
             {"name": "fresh", "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini"}]},
             bearer(ADMIN_TOKEN))
    assert r.status in (200, 201), r.body
    for gw in three:
        body = {**BODY, "model": "fresh"}
        while call("POST", f"{gw.base}/openai/v1/chat/completions", body, bearer(ADMIN_TOKEN)).status != 200:
            assert time.monotonic() - began < 1.0, "the new endpoint is not served everywhere within a second"
            time.sleep(0.01)


def test_usage_of_every_instance_lands_in_the_one_store(three: list[Gateway]) -> None:
    ids = []
    for gw in three:
        for _ in range(5):
            r = call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(ADMIN_TOKEN))
            assert r.status == 200
            ids.append(r.headers["x-request-id"])
    deadline = time.monotonic() + 10
    while True:
        stored = {row[0] for row in three[2].query("SELECT request_id FROM usage")}
        if set(ids) <= stored:
            break
        assert time.monotonic() < deadline, f"{len(set(ids) - stored)} rows missing"
        time.sleep(0.2)


def test_a_database_outage_stops_neither_traffic_nor_accounting(mock_url: str, tmp_path: Path) -> None:
    server = PostgresServer()
    server.start()
    gw = start_gateway(_config(mock_url), workers=2, env={"UNIGATE_STORE_URL": server.url})
    try:
        answered = []
        for _ in range(5):
            r = call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(ADMIN_TOKEN))
            assert r.status == 200
            answered.append(r.headers["x-request-id"])
        server.stop()
        down_until = time.monotonic() + 3
        while time.monotonic() < down_until:  # the request path needs no database
            r = call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(ADMIN_TOKEN))
            assert r.status == 200, r.body
            answered.append(r.headers["x-request-id"])
        admin = call("GET", f"{gw.url}/api/v1/users", None, bearer(ADMIN_TOKEN))
        assert admin.status == 503 and admin.json()["error"]["code"] == "service_unavailable", admin.body
        assert "Traceback" not in gw.log()
        server.start()
        deadline = time.monotonic() + 30
        while True:  # the rows answered during the outage are written once it is over
            try:
                stored = {row[0] for row in gw.query("SELECT request_id FROM usage")}
            except Exception:  # noqa: BLE001 - the database is still starting
                stored = set()
            if set(answered) <= stored:
                break
            assert time.monotonic() < deadline, f"{len(set(answered) - stored)} of {len(answered)} rows lost"
            time.sleep(0.3)
        assert call("GET", f"{gw.url}/api/v1/users", None, bearer(ADMIN_TOKEN)).status == 200
        assert len(answered) > 20
    finally:
        gw.stop()
        server.destroy()
