"""The metrics of one worker, their sum over workers through the shared board, and the
Prometheus text they render to."""

from __future__ import annotations

import os
import re

from unigate.accounting.usage import UsageRecord
from unigate.ir.usage import Usage
from unigate.observability import prometheus
from unigate.observability.metrics import CATALOGUE, WorkerMetrics, merge, status_class, surface_of
from unigate.observability.metrics_board import MetricsBoard


def record(endpoint: str = "chat", status: int = 200, streaming: bool = False, latency: float = 12.0,
           ttfb: float | None = 3.0, usage: Usage | None = None) -> UsageRecord:
    r = UsageRecord("id", 0.0, "chat", "/ai-gateway/openai/v1/chat/completions", endpoint_name=endpoint,
                    destination_provider="openai-main", status_code=status, streaming=streaming,
                    latency_ms=latency, ttfb_ms=ttfb)
    r.usage = usage
    return r


def test_status_classes_and_surfaces() -> None:
    assert [status_class(s) for s in (200, 299, 404, 499, 503, 0)] == ["2xx", "2xx", "4xx", "4xx", "5xx", "other"]
    assert surface_of("/ai-gateway/mlflow/v1/chat/completions") == "mlflow"
    assert surface_of("/ai-gateway/gemini/v1beta/models/x:generateContent") == "gemini"
    assert surface_of("/api/v1/users") == ""


def test_a_request_counts_its_status_tokens_and_timings() -> None:
    m = WorkerMetrics()
    m.request_done(record(usage=Usage(input_tokens=10, output_tokens=5, cache_read_tokens=2)), 0.4)
    m.request_done(record(status=503, usage=None, ttfb=None), 0.2)
    m.request_done(record(streaming=True, usage=Usage(input_tokens=1, output_tokens=1)), 0.3)
    snap = m.snapshot()
    requests = snap["counters"]["unigate_requests_total"]
    assert requests[("chat", "chat", "openai", "openai-main", "2xx")] == 2
    assert requests[("chat", "chat", "openai", "openai-main", "5xx")] == 1
    tokens = snap["counters"]["unigate_tokens_total"]
    assert tokens[("chat", "openai-main", "input")] == 11 and tokens[("chat", "openai-main", "cache_read")] == 2
    assert ("chat", "openai-main", "reasoning") not in tokens  # zeros make no series
    ttft = snap["histograms"]["unigate_time_to_first_token_seconds"][("chat", "chat")]
    assert ttft[-1] == 1  # only the stream
    duration = snap["histograms"]["unigate_request_duration_seconds"][("chat", "chat")]
    assert duration[-1] == 3 and abs(duration[-2] - 0.036) < 1e-9
    overhead = snap["histograms"]["unigate_gateway_overhead_seconds"][("chat",)]
    assert overhead[-1] == 3


def test_tokens_the_writer_estimated_join_the_count() -> None:
    m = WorkerMetrics()
    m.request_done(record(usage=Usage(input_tokens=10, output_tokens=5)), None)
    m.estimated(record(usage=Usage(input_tokens=7, output_tokens=3, estimated=True)))
    tokens = m.snapshot()["counters"]["unigate_tokens_total"]
    assert tokens[("chat", "openai-main", "input")] == 17 and tokens[("chat", "openai-main", "output")] == 8


def test_histogram_buckets_are_cumulative_le_bounds() -> None:
    m = WorkerMetrics()
    for seconds in (0.005, 0.0051, 0.3, 400.0):  # on a bound, just above one, mid-range, past the last
        m.attempt_done("p", "ok", seconds)
    text = prometheus.render(m.scrape()).decode()
    def bucket(le: str) -> float:
        pattern = rf'unigate_upstream_duration_seconds_bucket\{{provider="p",outcome="ok",le="{re.escape(le)}"\}} (\S+)'
        found = re.search(pattern, text)
        assert found, text
        return float(found.group(1))
    assert bucket("0.005") == 1 and bucket("0.01") == 2 and bucket("0.25") == 2 and bucket("0.5") == 3
    assert bucket("300") == 3 and bucket("+Inf") == 4
    assert 'unigate_upstream_duration_seconds_count{provider="p",outcome="ok"} 4' in text


def test_label_values_are_escaped() -> None:
    m = WorkerMetrics()
    m.add("unigate_fallbacks_total", ('we"ird\\end\npoint', "p", "upstream_error"))
    text = prometheus.render(m.scrape()).decode()
    assert 'endpoint="we\\"ird\\\\end\\npoint"' in text


def test_every_metric_has_help_and_type_and_follows_the_naming_rules() -> None:
    m = WorkerMetrics()
    m.request_done(record(usage=Usage(input_tokens=1, output_tokens=1)), 0.1)
    text = prometheus.render(m.scrape()).decode()
    for d in CATALOGUE:
        assert d.name.startswith("unigate_")
        assert d.name.endswith("_total") == (d.kind == "counter"), d.name
        if d.kind == "histogram":
            assert d.name.endswith("_seconds") and list(d.buckets) == sorted(d.buckets)
    for name in ("unigate_requests_total", "unigate_in_flight_requests", "unigate_workers"):
        assert f"# TYPE {name} " in text and f"# HELP {name} " in text


def test_workers_post_to_the_board_and_a_scrape_sums_them() -> None:
    board = MetricsBoard(3, region_bytes=1 << 20)
    workers = [WorkerMetrics() for _ in range(3)]
    for slot, w in enumerate(workers):
        w.share(board, slot)
        for _ in range(slot + 1):
            w.request_done(record(), 0.1)
        w.in_flight = slot
        w.post()
    text = prometheus.render(workers[0].scrape()).decode()
    assert 'unigate_requests_total{endpoint="chat",api="chat",surface="openai",provider="openai-main",' \
           'status_class="2xx"} 6' in text
    assert "unigate_in_flight_requests 3" in text and "unigate_workers 3" in text


def test_a_worker_restarted_into_its_slot_carries_on_counting() -> None:
    board = MetricsBoard(2, region_bytes=1 << 20)
    first = WorkerMetrics()
    first.share(board, 1)
    for _ in range(5):
        first.request_done(record(), 0.1)
    first.in_flight = 4
    first.post()
    again = WorkerMetrics()  # the supervisor forked a new worker into slot 1
    again.share(board, 1)
    again.request_done(record(), 0.1)
    snap = again.snapshot()
    assert snap["counters"]["unigate_requests_total"][("chat", "chat", "openai", "openai-main", "2xx")] == 6
    assert snap["gauges"]["unigate_in_flight_requests"][()] == 0  # gauges are not carried over


def test_the_board_is_shared_with_forked_processes() -> None:
    board = MetricsBoard(2, region_bytes=1 << 20)
    pid = os.fork()
    if pid == 0:  # a worker
        w = WorkerMetrics()
        w.share(board, 1)
        w.request_done(record(), 0.1)
        w.post()
        os._exit(0)
    os.waitpid(pid, 0)
    me = WorkerMetrics()
    me.share(board, 0)
    merged = me.scrape()
    assert merged["counters"]["unigate_requests_total"][("chat", "chat", "openai", "openai-main", "2xx")] == 1


def test_gauges_of_a_silent_worker_are_left_out_but_its_counts_stay() -> None:
    alive, dead = WorkerMetrics().snapshot(), WorkerMetrics().snapshot()
    dead["meta"]["taken"][()] = 0.0
    dead["counters"]["unigate_fallbacks_total"] = {("e", "p", "r"): 2.0}
    merged = merge([alive, dead], stale_before=1.0)
    assert merged["gauges"]["unigate_workers"][()] == 1
    assert merged["counters"]["unigate_fallbacks_total"][("e", "p", "r")] == 2


def test_cooling_destinations_take_the_largest_value_across_workers() -> None:
    a, b = WorkerMetrics(), WorkerMetrics()
    a.sources["unigate_destination_cooling_down"] = lambda: {("p", "m"): 1.0}
    b.sources["unigate_destination_cooling_down"] = lambda: {("p", "m"): 0.0}
    merged = merge([a.snapshot(), b.snapshot()])
    assert merged["gauges"]["unigate_destination_cooling_down"][("p", "m")] == 1.0


def test_a_snapshot_too_large_for_its_region_is_not_posted() -> None:
    board = MetricsBoard(1, region_bytes=256)
    w = WorkerMetrics()
    w.share(board, 0)
    for i in range(50):
        w.add("unigate_fallbacks_total", (f"endpoint-{i}", "p", "r"))
    w.post()
    assert board.read(0) is None


def test_the_dashboards_metrics_are_the_catalogues() -> None:
    from tests.unit.test_deploy_files import DASHBOARD_METRICS, METRIC_KINDS, METRIC_LABELS

    by_name = {m.name: m for m in CATALOGUE}
    for name in DASHBOARD_METRICS:
        assert name in by_name, name
        assert (METRIC_KINDS[name], METRIC_LABELS[name]) == (by_name[name].kind, by_name[name].labels), name


def test_every_family_is_described_before_it_has_samples() -> None:
    text = prometheus.render(WorkerMetrics().scrape()).decode()
    for d in CATALOGUE:
        assert f"# TYPE {d.name} {d.kind}\n" in text
