"""GET /api/v1/usage and /api/v1/usage/aggregate against a running gateway: every request
leaves a row (blocked and failed ones too), filters, aggregates, CSV, managers' view, CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from typing import Any

import pytest

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import Reply, bearer, call, until_stable

RUN = uuid.uuid4().hex[:12]  # tags these tests' requests apart from the session's others


def tags(team: str) -> dict[str, str]:
    return {"Unigate-Request-Tags": json.dumps({"run": RUN, "team": team})}


def chat(gw: Gateway, model: str, headers: dict[str, str], stream: bool = False) -> Reply:
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    return call("POST", gw.base + "/mlflow/v1/chat/completions", body, bearer(gw.token) | headers)


def usage(gw: Gateway, path: str = "", token: str | None = None, headers: dict[str, str] | None = None,
          **params: Any) -> Reply:
    query = urllib.parse.urlencode(params, doseq=True)
    return call("GET", f"{gw.url}/api/v1/usage{path}?{query}", headers=bearer(token or gw.token) | (headers or {}))


def wait_rows(gw: Gateway, count: int, **params: Any) -> list[dict[str, Any]]:
    """Rows are written in batches off the request path: wait for them (bounded)."""
    deadline = time.monotonic() + 10
    while True:
        r = usage(gw, **params)
        assert r.status == 200, r.body
        rows: list[dict[str, Any]] = r.json()["rows"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


@pytest.fixture(scope="module")
def traffic(gateway: Gateway) -> Gateway:
    """Two OK chats and a stream (team a), an Anthropic-backed chat (team b), a request for an
    unknown endpoint (404) and one refused upstream (bad key): six rows tagged with RUN."""
    assert chat(gateway, "chat-openai", tags("a")).status == 200
    assert chat(gateway, "chat-openai", tags("a")).status == 200
    assert chat(gateway, "chat-openai", tags("a"), stream=True).status == 200
    assert chat(gateway, "chat-anthropic", tags("b")).status == 200
    assert chat(gateway, "no-such-endpoint", tags("b")).status == 404
    assert chat(gateway, "chat-badkey", tags("b")).status >= 400
    rows = wait_rows(gateway, 6, tag=f"run={RUN}")
    assert len(rows) == 6, rows
    return gateway


def test_invalid_tag_header_is_a_400_naming_it(gateway: Gateway) -> None:
    r = chat(gateway, "chat-openai", {"Unigate-Request-Tags": "{not json"})
    assert r.status == 400
    assert "Unigate-Request-Tags" in r.body.decode()


def test_every_request_leaves_a_row_with_its_tags(traffic: Gateway) -> None:
    rows = wait_rows(traffic, 6, tag=f"run={RUN}")
    statuses = sorted(r["status_code"] for r in rows)
    assert statuses[:4] == [200, 200, 200, 200] and 404 in statuses
    assert all(r["request_tags"]["run"] == RUN and r["requester"] == "admin" for r in rows)
    ok = [r for r in rows if r["endpoint_name"] == "chat-openai"]
    assert len(ok) == 3 and sum(r["streaming"] for r in ok) == 1
    assert all(r["input_tokens"] and r["output_tokens"] for r in ok)
    failed = [r for r in rows if r["status_code"] >= 400]
    assert all(r["error_code"] for r in failed)


def test_filters_by_endpoint_requester_tag_and_time(traffic: Gateway) -> None:
    tag = f"run={RUN}"
    assert len(usage(traffic, tag=tag, endpoint="chat-openai").json()["rows"]) == 3
    assert len(usage(traffic, tag=[tag, "team=b"]).json()["rows"]) == 3
    assert len(usage(traffic, tag=tag, requester="admin").json()["rows"]) == 6
    assert usage(traffic, tag=tag, requester="nobody@example.com").json()["rows"] == []
    assert len(usage(traffic, tag=tag, status=404).json()["rows"]) == 1
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    assert len(usage(traffic, tag=tag, start=hour_ago).json()["rows"]) == 6
    assert usage(traffic, tag=tag, start=int(time.time()) + 3600).json()["rows"] == []
    assert usage(traffic, tag=tag, end=hour_ago).json()["rows"] == []
    assert len(usage(traffic, tag=tag, limit=2).json()["rows"]) == 2


def test_aggregates_by_endpoint_tag_requester_and_hour(traffic: Gateway) -> None:
    tag = f"run={RUN}"
    r = usage(traffic, "/aggregate", group_by="endpoint", tag=tag)
    assert r.status == 200, r.body
    groups = {g["endpoint"]: g for g in r.json()["groups"]}
    assert groups["chat-openai"]["requests"] == 3 and groups["chat-openai"]["total_tokens"] > 0
    assert groups["chat-anthropic"]["requests"] == 1
    assert sum(g["requests"] for g in groups.values()) == 6
    teams = usage(traffic, "/aggregate", group_by="tag", tag_key="team", tag=tag).json()["groups"]
    assert {g["tag"]: g["requests"] for g in teams} == {"team=a": 3, "team=b": 3}
    people = usage(traffic, "/aggregate", group_by="requester", tag=tag).json()["groups"]
    assert [(g["requester"], g["requests"]) for g in people] == [("admin", 6)]
    [total] = usage(traffic, "/aggregate", group_by="all", tag=tag).json()["groups"]
    assert total["requests"] == 6 and total["errors"] == 2 and total["latency_p95_ms"] is not None
    hours = usage(traffic, "/aggregate", group_by="hour", tag=tag).json()["groups"]
    assert sum(g["requests"] for g in hours) == 6 and hours[0]["hour"].endswith(":00:00Z")


def test_csv_export_with_a_header_row(traffic: Gateway) -> None:
    for r in (usage(traffic, tag=f"run={RUN}", format="csv"),
              usage(traffic, tag=f"run={RUN}", headers={"Accept": "text/csv"})):
        assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        assert len(rows) == 6
        assert list(rows[0])[:3] == ["request_id", "event_time", "endpoint_name"]
        assert json.loads(rows[0]["request_tags"])["run"] == RUN
    agg = usage(traffic, "/aggregate", group_by="endpoint", tag=f"run={RUN}", format="csv")
    assert agg.body.decode().splitlines()[0].startswith("key,requests")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("", {"start": "yesterday"}, "start"),
    ("", {"limit": "0"}, "limit"),
    ("", {"format": "xml"}, "format"),
    ("", {"tag": "=x"}, "tag"),
    ("/aggregate", {"group_by": "week"}, "group_by"),
    ("/aggregate", {}, "group_by"),
])
def test_bad_parameters_are_400_naming_them(gateway: Gateway, path: str, params: dict[str, Any],
                                            field: str) -> None:
    r = usage(gateway, path, **params)
    assert r.status == 400, r.body
    assert r.json()["error"]["field"] == field


def test_no_token_no_usage(gateway: Gateway) -> None:
    assert call("GET", gateway.url + "/api/v1/usage").status == 401
    assert call("GET", gateway.url + "/api/v1/usage", headers=bearer("ug_wrong")).status == 401


def test_a_manager_sees_only_the_endpoints_they_manage(traffic: Gateway) -> None:
    email = f"mgr-{RUN}@example.com"
    admin = bearer(traffic.token)
    assert call("POST", traffic.url + "/api/v1/users", {"email": email}, admin).status in (200, 201)
    token = call("POST", traffic.url + "/api/v1/tokens", {"principal": email}, admin).json()["token"]
    # A user with a token but no CAN_MANAGE anywhere sees its own requests only: none here.
    until_stable(lambda: usage(traffic, token=token).status == 200)
    assert usage(traffic, token=token, tag=f"run={RUN}").json()["rows"] == []
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_MANAGE"}]}
    assert call("PUT", traffic.url + "/api/v1/endpoints/chat-openai/permissions", acl, admin).status == 200
    # as a manager now (on every worker), it sees the endpoint's rows, not only its own
    until_stable(lambda: bool(usage(traffic, token=token, tag=f"run={RUN}").json()["rows"]))
    r = usage(traffic, token=token, tag=f"run={RUN}")
    assert r.status == 200, r.body
    assert {row["endpoint_name"] for row in r.json()["rows"]} == {"chat-openai"}
    groups = usage(traffic, "/aggregate", token=token, group_by="endpoint", tag=f"run={RUN}").json()
    assert [g["endpoint"] for g in groups["groups"]] == ["chat-openai"]
    assert usage(traffic, token=token, endpoint="chat-anthropic").status == 403


def test_cli_usage_aggregate_and_export(traffic: Gateway) -> None:
    base = [sys.executable, "-m", "unigate.cli", "usage"]
    opts = ["--url", traffic.url, "--token", traffic.token, "--tag", f"run={RUN}"]
    out = subprocess.run(base + ["aggregate", "--group-by", "endpoint", "--json"] + opts,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert sum(g["requests"] for g in json.loads(out.stdout)["groups"]) == 6
    table = subprocess.run(base + ["list"] + opts, capture_output=True, text=True, timeout=30)
    assert table.returncode == 0 and "chat-openai" in table.stdout and "REQUEST_ID" in table.stdout
    exported = subprocess.run(base + ["export", "--format", "csv"] + opts, capture_output=True,
                              text=True, timeout=30)
    assert exported.returncode == 0 and len(exported.stdout.strip().splitlines()) == 7
    bad = subprocess.run(base + ["list", "--since", "soon"] + opts[:4], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 1 and "start" in bad.stderr


def test_rows_match_the_store(traffic: Gateway) -> None:
    """The API serves exactly what the usage writer stored."""
    stored = {r[0] for r in traffic.query("SELECT request_id FROM usage")}
    assert {r["request_id"] for r in wait_rows(traffic, 6, tag=f"run={RUN}")} <= stored


def nearest_rank(values: list[float], p: int) -> float | None:
    """The p-th percentile by nearest rank: the ceil(p * n / 100)-th smallest value."""
    ordered = sorted(values)
    return ordered[-(-p * len(ordered) // 100) - 1] if ordered else None


def test_aggregates_carry_latency_percentiles_of_the_rows(traffic: Gateway) -> None:
    rows = wait_rows(traffic, 6, tag=f"run={RUN}")
    groups = usage(traffic, "/aggregate", group_by="endpoint", tag=f"run={RUN}").json()["groups"]
    assert groups, groups
    for g in groups:
        mine = [r for r in rows if r["endpoint_name"] == g["endpoint"]]
        latencies = [r["latency_ms"] for r in mine if r["latency_ms"] is not None]
        assert g["latency_p50_ms"] == nearest_rank(latencies, 50), (g, latencies)
        assert g["latency_p95_ms"] == nearest_rank(latencies, 95), (g, latencies)
        firsts = [r["time_to_first_byte_ms"] for r in mine
                  if r["streaming"] and r["time_to_first_byte_ms"] is not None]
        assert g["ttfb_p50_ms"] == nearest_rank(firsts, 50), (g, firsts)
    openai = next(g for g in groups if g["endpoint"] == "chat-openai")
    assert openai["latency_p50_ms"] > 0 and openai["ttfb_p50_ms"] is not None  # it had a stream
    agg = usage(traffic, "/aggregate", group_by="endpoint", tag=f"run={RUN}", format="csv")
    lines = list(csv.DictReader(io.StringIO(agg.body.decode())))
    by_key = {line["key"]: line for line in lines}
    assert float(by_key["chat-openai"]["latency_p95_ms"]) == openai["latency_p95_ms"]


def test_a_bucket_gives_one_series_per_group_over_time(traffic: Gateway) -> None:
    tag = f"run={RUN}"
    rows = wait_rows(traffic, 6, tag=tag)
    r = usage(traffic, "/aggregate", group_by="endpoint", bucket="minute", tag=tag)
    assert r.status == 200, r.body
    body = r.json()
    assert body["bucket"] == "minute"
    points = body["groups"]
    minute = {r["request_id"]: time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(r["event_time"])) for r in rows}
    expected: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (minute[row["request_id"]], row["endpoint_name"])
        expected[key] = expected.get(key, 0) + 1
    assert {(p["bucket"], p["endpoint"]): p["requests"] for p in points} == expected
    assert [p["bucket"] for p in points] == sorted(p["bucket"] for p in points)
    assert all("latency_p50_ms" in p for p in points)
    hours = usage(traffic, "/aggregate", group_by="tag", tag_key="team", bucket="hour", tag=tag).json()["groups"]
    assert sum(p["requests"] for p in hours) == 6 and all(p["bucket"].endswith(":00:00Z") for p in hours)
    series = usage(traffic, "/aggregate", group_by="all", bucket="minute", tag=tag).json()["groups"]
    assert sum(p["requests"] for p in series) == 6 and {p["key"] for p in series} == {"all"}
    minutes = usage(traffic, "/aggregate", group_by="minute", tag=tag).json()["groups"]
    assert sum(g["requests"] for g in minutes) == 6 and all(g["minute"].endswith(":00Z") for g in minutes)
    text = usage(traffic, "/aggregate", group_by="endpoint", bucket="day", tag=tag, format="csv").body.decode()
    assert text.splitlines()[0].startswith("key,bucket,requests")
    for params in ({"bucket": "week"}, {"bucket": "hour", "group_by": "day"}):
        bad = usage(traffic, "/aggregate", **({"group_by": "endpoint"} | params))
        assert bad.status == 400 and bad.json()["error"]["field"] == "bucket"


def test_a_plain_user_sees_only_its_own_requests(traffic: Gateway) -> None:
    email = f"user-{RUN}@example.com"
    admin = bearer(traffic.token)
    assert call("POST", traffic.url + "/api/v1/users", {"email": email}, admin).status in (200, 201)
    token = call("POST", traffic.url + "/api/v1/tokens", {"principal": email}, admin).json()["token"]
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", traffic.url + "/api/v1/endpoints/chat-anthropic/permissions", acl, admin).status == 200
    own_tag = {"Unigate-Request-Tags": json.dumps({"run": RUN + "-own"})}

    def ask() -> Reply:
        body = {"model": "chat-anthropic", "messages": [{"role": "user", "content": "mine"}]}
        return call("POST", traffic.base + "/mlflow/v1/chat/completions", body, bearer(token) | own_tag)

    statuses: list[int] = []

    def answered() -> bool:
        statuses.append(ask().status)
        return statuses[-1] == 200

    until_stable(answered)  # the grant and the token reached every worker
    answers = statuses.count(200)
    deadline = time.monotonic() + 10
    while (len(usage(traffic, tag=f"run={RUN}-own", status=200).json()["rows"]) < answers
           and time.monotonic() < deadline):
        time.sleep(0.2)
    r = usage(traffic, token=token)
    assert r.status == 200, r.body
    own = r.json()["rows"]
    # exactly the rows the administrator sees for this requester
    assert own == usage(traffic, requester=email).json()["rows"]
    assert sum(x["status_code"] == 200 for x in own) == answers
    assert {(x["requester"], x["requester_type"]) for x in own} == {(email, "user")}
    sent = len(own)
    people = usage(traffic, "/aggregate", token=token, group_by="requester").json()["groups"]
    assert [(g["requester"], g["requests"]) for g in people] == [(email, sent)]
    # nothing of the administrator's traffic, even asked for by tag or endpoint
    assert usage(traffic, token=token, tag=f"run={RUN}").json()["rows"] == []
    assert len(usage(traffic, token=token, endpoint="chat-anthropic").json()["rows"]) == sent
    assert usage(traffic, token=token, endpoint="chat-openai").json()["rows"] == []
    other = usage(traffic, token=token, requester="admin")
    assert other.status == 403, other.body
    assert usage(traffic, token=token, requester=email).status == 200
