"""Operations against a real gateway: health and readiness probes, Prometheus metrics after
known traffic (summed over two workers), OpenTelemetry traces received by an in-process OTLP
collector, the overhead header, and JSON request logs that hold no secret."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import Reply, bearer, call
from tests.integration.routing_env import clear_faults, queue_faults
from tests.mocks.otlp_collector import start_collector

PROVIDER_KEY = "sk-mock-openai"  # the mock checks it; no log line may hold it


def _config(mock: str, collector: str) -> str:
    return f"""
settings:
  passive_health: {{failures: 1000, cool_down: 30s}}
  tracing: {{endpoint: "{collector}", headers: {{x-collector-key: collector-secret-123}}, service_name: ug-test}}
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: {PROVIDER_KEY}}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
endpoints:
  - {{name: ops-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - name: ops-fb
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    fallbacks: [{{provider: claude, model: claude-haiku-4-5}}]
  - name: ops-limited
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    rate_limits: [{{key: endpoint, requests: 2, renewal_period: minute}}]
"""


@pytest.fixture(scope="module")
def collector() -> Iterator[Any]:
    url, coll, stop = start_collector()
    yield url, coll
    stop()


@pytest.fixture(scope="module")
def gw(mock_url: str, collector: Any) -> Iterator[Gateway]:
    g = start_gateway(_config(mock_url, collector[0]), workers=2, extra_args=["--log-format", "json"])
    yield g
    g.stop()


def metrics(gw: Gateway, token: str | None = None) -> Reply:
    return call("GET", gw.url + "/metrics", headers=bearer(token or gw.token))


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(name, labels): value}, checking the format on the way."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")) or not line, line
            continue
        m = line_re.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def wait_metrics(gw: Gateway, check: Any, timeout: float = 5.0) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Other workers' numbers are at most a second old: poll until `check` holds."""
    deadline = time.monotonic() + timeout
    while True:
        r = metrics(gw)
        assert r.status == 200, r.body
        samples = parse(r.body.decode())
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def usage_rows_with(gw: Gateway, endpoint: str, ids: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
    """The endpoint's usage rows once `ids` are among them: the writer flushes in batches, later under load."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = call("GET", gw.url + f"/api/v1/usage?endpoint={endpoint}&limit=500",
                                          headers=bearer(gw.token)).json()["rows"]
        if set(ids) <= {row["request_id"] for row in rows} or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def chat(gw: Gateway, endpoint: str, stream: bool = False, headers: dict[str, str] | None = None) -> Reply:
    body: dict[str, Any] = {"model": endpoint, "messages": [{"role": "user", "content": "hello"}]}
    if stream:
        body["stream"] = True
    return call("POST", gw.base + "/openai/v1/chat/completions", body, {**bearer(gw.token), **(headers or {})})


# --- probes ------------------------------------------------------------------------------------


def test_healthz_and_readyz_answer_without_a_token(gw: Gateway) -> None:
    r = call("GET", gw.url + "/healthz")
    assert r.status == 200 and r.json() == {"status": "ok"}
    assert float(r.headers["x-unigate-overhead-ms"]) >= 0
    r = call("GET", gw.url + "/readyz")
    assert r.status == 200, r.body
    body = r.json()
    assert body["status"] == "ready" and body["checks"]["store"] == "ok"
    if gw.env.get("UNIGATE_REDIS_URL"):
        assert body["checks"]["redis"] == "ok"


def test_readyz_names_what_is_down(mock_url: str) -> None:
    """Redis stopped: /readyz is 503 naming it, /healthz still 200, queries still answered."""
    from tests.integration.redis_server import start_redis

    url, stop = start_redis()
    config = f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: {PROVIDER_KEY}}}
endpoints:
  - {{name: ops-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""
    g = start_gateway(config, workers=1, env={"UNIGATE_REDIS_URL": url})
    try:
        assert call("GET", g.url + "/readyz").json()["checks"] == {"store": "ok", "redis": "ok"}
        stop()
        deadline = time.monotonic() + 5
        while True:
            r = call("GET", g.url + "/readyz")
            if r.status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status == 503, r.body
        assert r.json()["down"] == ["redis"] and r.json()["checks"]["store"] == "ok"
        assert r.headers["content-type"].startswith("application/json")
        assert call("GET", g.url + "/healthz").status == 200
        assert chat(g, "ops-chat").status == 200  # rate limits fail open: traffic goes on
        assert "Traceback" not in g.log()
    finally:
        g.stop()


def test_readyz_is_503_while_the_store_is_away(mock_url: str) -> None:
    from tests.integration.postgres_server import PostgresServer

    server = PostgresServer()
    server.start()
    config = f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: {PROVIDER_KEY}}}
endpoints:
  - {{name: ops-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""
    g = start_gateway(config, workers=1, env={"UNIGATE_STORE_URL": server.url})
    try:
        assert call("GET", g.url + "/readyz").status == 200
        server.stop()
        deadline = time.monotonic() + 10
        while True:
            r = call("GET", g.url + "/readyz")
            if r.status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert r.status == 503 and r.json()["down"] == ["store"], r.body
        assert server.url.split("@")[-1] not in r.body.decode()  # no detail for anonymous callers
        assert call("GET", g.url + "/healthz").status == 200
        server.start()
        deadline = time.monotonic() + 30
        while call("GET", g.url + "/readyz").status != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            time.sleep(0.3)
        assert "Traceback" not in g.log()
    finally:
        g.stop()
        server.destroy()


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_need_an_admin_or_a_metrics_reader(gw: Gateway) -> None:
    assert call("GET", gw.url + "/metrics").status == 401
    api = gw.url + "/api/v1"
    app_id = call("POST", api + "/service-principals", {"display_name": f"prom-{uuid.uuid4().hex[:6]}"},
                  bearer(gw.token)).json()["application_id"]
    token = call("POST", api + "/tokens", {"principal": app_id}, bearer(gw.token)).json()["token"]
    deadline = time.monotonic() + 5
    while (r := metrics(gw, token)).status == 401:  # the new token reaches each worker within a second
        assert time.monotonic() < deadline, r.body
        time.sleep(0.1)
    assert r.status == 403 and "metrics-readers" in r.json()["error"]["message"]
    created = call("POST", api + "/groups", {"name": "metrics-readers",
                                             "members": [{"service_principal_name": app_id}]}, bearer(gw.token))
    assert created.status == 201, created.body
    deadline = time.monotonic() + 5
    while (r := metrics(gw, token)).status != 200:  # each worker picks the change up within a second
        assert time.monotonic() < deadline, r.body
        time.sleep(0.1)
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_metrics_count_known_traffic_across_workers(gw: Gateway, mock_url: str) -> None:
    before = parse(metrics(gw).body.decode())
    client = OpenAI(api_key=gw.token, base_url=gw.base + "/openai/v1", max_retries=0)
    for _ in range(6):
        client.chat.completions.create(model="ops-chat", messages=[{"role": "user", "content": "hi"}])
    streamed = 0
    for _ in range(4):
        for _chunk in client.chat.completions.create(model="ops-chat", stream=True,
                                                     messages=[{"role": "user", "content": "hi"}]):
            pass
        streamed += 1
    assert chat(gw, "no-such-endpoint").status == 404
    ids = []
    for _ in range(3):
        r = chat(gw, "ops-chat")
        ids.append(r.headers["x-request-id"])

    def delta(samples: Any, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    def settled(s: Any) -> bool:
        return (delta(s, "unigate_requests_total", endpoint="ops-chat") >= 13
                and delta(s, "unigate_requests_total", endpoint="", status_class="4xx") >= 1)
    after = wait_metrics(gw, settled)
    ok = {"endpoint": "ops-chat", "api": "chat", "surface": "openai", "provider": "openai-main",
          "status_class": "2xx"}
    assert delta(after, "unigate_requests_total", **ok) == 13
    assert delta(after, "unigate_requests_total", endpoint="", status_class="4xx") >= 1
    assert delta(after, "unigate_request_duration_seconds_count", endpoint="ops-chat", api="chat") == 13
    assert delta(after, "unigate_time_to_first_token_seconds_count", endpoint="ops-chat") == streamed
    assert delta(after, "unigate_upstream_duration_seconds_count", provider="openai-main", outcome="ok") >= 13
    assert delta(after, "unigate_gateway_overhead_seconds_count", api="chat") >= 14
    assert value(after, "unigate_in_flight_requests") == 0 and value(after, "unigate_in_flight_streams") == 0
    assert value(after, "unigate_workers") == 2
    # tokens: exactly what the usage rows say
    rows = usage_rows_with(gw, "ops-chat", ids)
    assert {i for i in ids} <= {row["request_id"] for row in rows}
    for kind, column in (("input", "input_tokens"), ("output", "output_tokens")):
        assert value(after, "unigate_tokens_total", endpoint="ops-chat", type=kind) == sum(
            row[column] or 0 for row in rows), kind
    # histogram buckets are cumulative and end at the count
    for (name, labels), v in after.items():
        if name == "unigate_request_duration_seconds_bucket" and ("le", "+Inf") in labels:
            count = after[("unigate_request_duration_seconds_count", labels - {("le", "+Inf")})]
            assert v == count


def test_fallbacks_and_rate_limit_refusals_are_counted(gw: Gateway, mock_url: str) -> None:
    before = parse(metrics(gw).body.decode())
    clear_faults(mock_url)
    queue_faults(mock_url, "/v1/chat/completions", "status=503")
    try:
        assert chat(gw, "ops-fb").status == 200
    finally:
        clear_faults(mock_url)
    statuses = [chat(gw, "ops-limited").status for _ in range(4)]
    assert statuses.count(429) >= 2, statuses

    def delta(samples: Any, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    after = wait_metrics(gw, lambda s: delta(s, "unigate_rate_limit_refusals_total") >= statuses.count(429)
                         and delta(s, "unigate_fallbacks_total") >= 1)
    assert delta(after, "unigate_fallbacks_total", endpoint="ops-fb", provider="openai-main",
                 reason="upstream_error") == 1
    assert delta(after, "unigate_rate_limit_refusals_total", endpoint="ops-limited", key="endpoint",
                 measure="requests") == statuses.count(429)
    assert delta(after, "unigate_requests_total", endpoint="ops-limited", status_class="4xx") == statuses.count(429)


def test_every_metric_the_dashboard_uses_is_exposed(gw: Gateway) -> None:
    from tests.unit.test_deploy_files import DASHBOARD_METRICS, METRIC_KINDS

    assert chat(gw, "ops-chat").status == 200
    text = metrics(gw).body.decode()
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    missing = [m for m in DASHBOARD_METRICS if m not in families]
    assert not missing, missing
    assert {m: families[m] for m in DASHBOARD_METRICS} == {m: METRIC_KINDS[m] for m in DASHBOARD_METRICS}


# --- the overhead header -----------------------------------------------------------------------


def test_every_response_says_the_gateways_overhead(gw: Gateway) -> None:
    replies = [chat(gw, "ops-chat"), chat(gw, "ops-chat", stream=True), chat(gw, "no-such-endpoint"),
               call("GET", gw.url + "/api/v1/users", headers=bearer(gw.token)), call("GET", gw.url + "/nowhere"),
               call("GET", gw.base + "/openai/v1/models", headers=bearer(gw.token))]
    for r in replies:
        overhead = float(r.headers["x-unigate-overhead-ms"])
        assert 0 <= overhead < 1000, r.headers


def test_the_overhead_excludes_the_providers_time(gw: Gateway, mock_url: str) -> None:
    clear_faults(mock_url)
    queue_faults(mock_url, "/v1/chat/completions", "hang_before_headers=0.3,hang_after_headers=0.3")
    try:
        t = time.monotonic()
        r = chat(gw, "ops-chat")
        took = time.monotonic() - t
    finally:
        clear_faults(mock_url)
    assert r.status == 200 and took >= 0.6
    assert float(r.headers["x-unigate-overhead-ms"]) < 250  # the 600 ms wait is the provider's


# --- traces ------------------------------------------------------------------------------------


def test_a_request_and_its_attempts_are_traced_and_the_trace_reaches_the_provider(
        gw: Gateway, collector: Any, mock_url: str) -> None:
    _, coll = collector
    trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    clear_faults(mock_url)
    call("DELETE", f"{mock_url}/_mock/requests")
    queue_faults(mock_url, "/v1/chat/completions", "status=503")
    try:
        r = chat(gw, "ops-fb", headers={"traceparent": f"00-{trace_id}-{parent}-01", "tracestate": "k=v"})
    finally:
        clear_faults(mock_url)
    assert r.status == 200
    spans = coll.wait_for(lambda ss: len([s for s in ss if s["trace_id"] == trace_id]) >= 3)
    mine = [s for s in spans if s["trace_id"] == trace_id]
    server = [s for s in mine if s["kind"] == 2]
    assert len(server) == 1
    root = server[0]
    assert root["parent_span_id"] == parent and root["name"] == "chat ops-fb"
    a = root["attributes"]
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "ops-fb"
    assert a["http.response.status_code"] == 200 and a["unigate.request_id"] == r.headers["x-request-id"]
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert root["resource"]["service.name"] == "ug-test"
    attempts = sorted((s for s in mine if s["kind"] == 3), key=lambda s: s["start_ns"])
    assert [s["parent_span_id"] for s in attempts] == [root["span_id"]] * 2
    failed, answered = attempts
    assert failed["attributes"]["gen_ai.provider.name"] == "openai" and failed["status_code"] == 2
    assert failed["attributes"]["error.type"] == "upstream_error"
    assert answered["attributes"]["gen_ai.provider.name"] == "anthropic"
    assert answered["attributes"]["gen_ai.request.model"] == "claude-haiku-4-5"
    assert answered["name"] == "chat claude-haiku-4-5" and answered["status_code"] == 0
    assert answered["attributes"]["server.address"] == "127.0.0.1"
    assert answered["trace_state"] == "k=v"
    assert root["start_ns"] <= failed["start_ns"] <= answered["end_ns"] <= root["end_ns"]
    # each provider saw its own attempt's span as the parent
    seen = call("GET", f"{mock_url}/_mock/requests").json()
    sent = [rec["headers"].get("traceparent") for rec in seen]
    assert sent == [f"00-{trace_id}-{s['span_id']}-01" for s in attempts]
    assert all(rec["headers"].get("tracestate") == "k=v" for rec in seen)
    assert any(req["headers"].get("x-collector-key") == "collector-secret-123" for req in coll.requests)


def test_an_untraced_request_starts_its_own_trace(gw: Gateway, collector: Any) -> None:
    _, coll = collector
    r = chat(gw, "ops-chat")
    rid = r.headers["x-request-id"]
    spans = coll.wait_for(lambda ss: any(s["attributes"].get("unigate.request_id") == rid for s in ss))
    root = next(s for s in spans if s["attributes"].get("unigate.request_id") == rid)
    assert root["parent_span_id"] == "" and len(root["trace_id"]) == 32


# --- logs --------------------------------------------------------------------------------------


def test_json_logs_have_a_line_per_request_and_no_secret(gw: Gateway) -> None:
    r = chat(gw, "ops-chat")
    rid = r.headers["x-request-id"]
    call("POST", gw.base + "/openai/v1/chat/completions", {"model": "ops-chat", "messages": []},
         {"Authorization": "Bearer not-a-real-token-987654"})
    call("GET", gw.base + "/gemini/v1beta/models?key=gemini-key-in-query-55555")
    assert call("GET", gw.url + "/api/v1/users", headers=bearer(gw.token)).status == 200
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in gw.log().splitlines() if line.startswith("{")]
        mine = [x for x in lines if x.get("request_id") == rid]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(mine) == 1, lines[-5:]
    line = mine[0]
    assert line["logger"] == "unigate.access" and line["level"] == "info"
    assert line["endpoint"] == "ops-chat" and line["status"] == 200 and line["principal"] == "admin"
    assert line["provider"] == "openai-main" and line["latency_ms"] > 0 and line["overhead_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line["time"])
    deadline = time.monotonic() + 5
    while not any(x.get("path") == "/api/v1/users" and x.get("status") == 200 for x in lines):  # admin calls too
        assert time.monotonic() < deadline, lines[-5:]
        time.sleep(0.1)
        lines = [json.loads(line) for line in gw.log().splitlines() if line.startswith("{")]
    assert not any(x.get("path") in ("/healthz", "/readyz", "/metrics") for x in lines)  # probes are quiet
    text = gw.log()
    for secret in (gw.token, PROVIDER_KEY, "sk-ant-mock", "not-a-real-token-987654", "gemini-key-in-query-55555",
                   "collector-secret-123"):
        assert secret not in text, secret
    for raw in text.splitlines():  # after the start banner, every line is one JSON object
        if raw.startswith("{"):
            json.loads(raw)


def test_log_level_warning_drops_request_lines(mock_url: str) -> None:
    config = f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: {PROVIDER_KEY}}}
endpoints:
  - {{name: ops-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""
    g = start_gateway(config, workers=1, extra_args=["--log-level", "warning"])
    try:
        assert chat(g, "ops-chat").status == 200
        time.sleep(0.3)
        assert "request_id=" not in g.log() and "unigate.access" not in g.log()
    finally:
        g.stop()
    g = start_gateway(config, workers=1)
    try:
        rid = chat(g, "ops-chat").headers["x-request-id"]
        deadline = time.monotonic() + 5
        while f"request_id={rid}" not in g.log():
            assert time.monotonic() < deadline, g.log()
            time.sleep(0.1)
    finally:
        g.stop()


def test_a_bad_log_level_is_refused(tmp_path: Any) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "unigate.cli", "serve", "--log-level", "loud"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--log-level" in r.stderr


def test_without_tracing_the_clients_trace_reaches_the_provider_unchanged(mock_url: str) -> None:
    config = f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: {PROVIDER_KEY}}}
  - {{name: claude, type: anthropic, base_url: "{mock_url}", api_key: sk-ant-mock}}
endpoints:
  - {{name: ops-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: ops-claude, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
"""
    g = start_gateway(config, workers=1)
    try:
        parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        for endpoint in ("ops-chat", "ops-claude"):  # the fast path and the translated one
            call("DELETE", f"{mock_url}/_mock/requests")
            assert chat(g, endpoint, headers={"traceparent": parent, "tracestate": "v=1"}).status == 200
            seen = call("GET", f"{mock_url}/_mock/requests/last").json()["headers"]
            assert seen.get("traceparent") == parent and seen.get("tracestate") == "v=1", endpoint
        call("DELETE", f"{mock_url}/_mock/requests")
        assert chat(g, "ops-chat").status == 200
        assert "traceparent" not in call("GET", f"{mock_url}/_mock/requests/last").json()["headers"]
    finally:
        g.stop()


def test_counters_survive_a_worker_that_is_killed_and_restarted(gw: Gateway) -> None:
    import os
    import signal
    import subprocess

    for _ in range(6):
        assert chat(gw, "ops-chat").status == 200
    time.sleep(1.2)  # every worker has posted
    before = value(parse(metrics(gw).body.decode()), "unigate_requests_total", endpoint="ops-chat")
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(gw.proc.pid)], capture_output=True,
                                              text=True).stdout.split()]
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:  # the supervisor starts a new worker into the slot
        now = [int(p) for p in subprocess.run(["pgrep", "-P", str(gw.proc.pid)], capture_output=True,
                                              text=True).stdout.split()]
        if len(now) == 2 and workers[0] not in now:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    samples = wait_metrics(gw, lambda s: value(s, "unigate_workers") == 2)
    assert value(samples, "unigate_requests_total", endpoint="ops-chat") >= before
    for _ in range(10):
        assert chat(gw, "ops-chat").status == 200
    after = wait_metrics(gw, lambda s: value(s, "unigate_requests_total", endpoint="ops-chat") >= before + 10)
    assert value(after, "unigate_requests_total", endpoint="ops-chat") >= before + 10
