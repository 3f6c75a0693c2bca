"""The gateway's metrics, as one worker counts them: plain dicts keyed by label tuples, updated
on the request path at the cost of a few dict operations (no locks, no registry objects).

Every worker counts its own; `metrics_board` shares each worker's numbers with the others, and
`prometheus` renders the sum. The catalogue below is the one place names, types, help texts and
labels are written (the Grafana dashboard and docs/operations.md use these names)."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unigate.accounting.usage import UsageRecord

if TYPE_CHECKING:
    from unigate.observability.metrics_board import MetricsBoard

Labels = tuple[str, ...]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
TOKEN_TYPES = ("input", "output", "cache_read", "cache_creation", "reasoning")
POST_INTERVAL = 1.0  # seconds between a worker's posts to the board
STALE_SECONDS = 10.0  # a worker silent this long (it died) no longer adds to gauges


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    kind: str  # "counter" | "histogram" | "gauge"
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    merge: str = "sum"  # gauges across workers: "sum" or "max"


CATALOGUE: tuple[MetricDef, ...] = (
    MetricDef("unigate_requests_total", "counter",
              "Queries answered, by endpoint, API, URL surface, destination provider and status class.",
              ("endpoint", "api", "surface", "provider", "status_class")),
    MetricDef("unigate_tokens_total", "counter",
              "Tokens by endpoint, destination provider and type (input, output, cache_read, cache_creation, "
              "reasoning); estimated where the provider reported none.", ("endpoint", "provider", "type")),
    MetricDef("unigate_request_duration_seconds", "histogram",
              "Whole requests, arrival to last byte (streams included).", ("endpoint", "api"), LATENCY_BUCKETS),
    MetricDef("unigate_time_to_first_token_seconds", "histogram",
              "Streams: arrival to the first bytes sent to the client.", ("endpoint", "api"), LATENCY_BUCKETS),
    MetricDef("unigate_upstream_duration_seconds", "histogram",
              "One attempt at a destination, request sent to answer done (or failed), by outcome "
              "(ok or the error code).", ("provider", "outcome"), LATENCY_BUCKETS),
    MetricDef("unigate_gateway_overhead_seconds", "histogram",
              "Time spent in the gateway, excluding the provider, until the response head was sent "
              "(the x-unigate-overhead-ms header).", ("api",), OVERHEAD_BUCKETS),
    MetricDef("unigate_fallbacks_total", "counter",
              "Attempts that failed and moved on to the next destination, by the failed provider and reason.",
              ("endpoint", "provider", "reason")),
    MetricDef("unigate_rate_limit_refusals_total", "counter",
              "Requests refused by a rate limit, by endpoint and the limit's key, principal and measure.",
              ("endpoint", "key", "principal", "measure")),
    MetricDef("unigate_guardrail_verdicts_total", "counter",
              "Guardrail verdicts by endpoint, guardrail, phase (input, output) and outcome (passed, flagged, "
              "sanitized, blocked, error).", ("endpoint", "guardrail", "phase", "outcome")),
    MetricDef("unigate_budget_refusals_total", "counter",
              "Requests refused because a blocking budget had no room for their estimated cost, by budget.",
              ("budget",)),
    MetricDef("unigate_budget_alerts_total", "counter",
              "Budget alerts sent (a threshold reached in a period: once per gateway), by budget and threshold "
              "(percent of the limit).", ("budget", "threshold")),
    MetricDef("unigate_budget_spend_usd", "gauge",
              "What the budget's current period (UTC day or month) has spent, in USD.", ("budget",), merge="max"),
    MetricDef("unigate_budget_limit_usd", "gauge", "The budget's limit for its period, in USD.", ("budget",),
              merge="max"),
    MetricDef("unigate_in_flight_requests", "gauge", "Queries being answered now."),
    MetricDef("unigate_in_flight_streams", "gauge", "Streamed responses being sent now."),
    MetricDef("unigate_destination_cooling_down", "gauge",
              "1 while passive health skips a destination after repeated failures.", ("provider", "model"),
              merge="max"),
    MetricDef("unigate_usage_queue_rows", "gauge", "Usage rows waiting to be written to the store."),
    MetricDef("unigate_usage_queue_oldest_seconds", "gauge",
              "Age of the oldest usage row waiting to be written (the writer's lag).", merge="max"),
    MetricDef("unigate_usage_rows_dropped_total", "counter",
              "Usage rows lost because the memory queue overflowed with no spool."),
    MetricDef("unigate_payload_queue_rows", "gauge", "Payload rows waiting to be written to the store."),
    MetricDef("unigate_upstream_connections", "gauge", "Connections to providers, by state (in_use, idle).",
              ("state",)),
    MetricDef("unigate_trace_spans_dropped_total", "counter",
              "Spans not exported (the export queue was full, or the collector failed)."),
    MetricDef("unigate_workers", "gauge", "Worker processes reporting."),
    MetricDef("unigate_build_info", "gauge", "The running version.", ("version",), merge="max"),
)
BY_NAME = {m.name: m for m in CATALOGUE}

# A snapshot: what one worker reports, and what the sum of several looks like.
#   {"counters": {name: {labels: value}}, "histograms": {name: {labels: [bucket counts..., sum, count]}},
#    "gauges": {name: {labels: value}}, "meta": {"taken": {(): time.time()}}}
Snapshot = dict[str, dict[str, dict[Labels, Any]]]


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def surface_of(url: str) -> str:
    """The URL surface a query came in on: /ai-gateway/{surface}/..."""
    parts = url.split("/", 3)
    return parts[2] if len(parts) > 2 and parts[1] == "ai-gateway" else ""


class _Histogram:
    __slots__ = ("bounds", "series")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.series: dict[Labels, list[float]] = {}  # bucket counts (not cumulative), +Inf, sum, count

    def observe(self, labels: Labels, value: float) -> None:
        s = self.series.get(labels)
        if s is None:
            s = self.series[labels] = [0.0] * (len(self.bounds) + 3)
        s[bisect.bisect_left(self.bounds, value)] += 1
        s[-2] += value
        s[-1] += 1


class WorkerMetrics:
    """One worker's counts. Only the event loop's thread writes them, but for `writer_tokens`,
    which only the usage writer's thread writes (tokens it estimated)."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[Labels, float]] = {
            m.name: {} for m in CATALOGUE if m.kind == "counter"}
        self.histograms = {m.name: _Histogram(m.buckets) for m in CATALOGUE if m.kind == "histogram"}
        self.writer_tokens: dict[Labels, float] = {}
        self.in_flight = 0
        self.streams = 0
        self.board: MetricsBoard | None = None  # shared with the other workers of this host
        self.slot = 0
        # Values read when a snapshot is taken (gauges, and counters kept elsewhere):
        # name -> () -> {labels: value}
        self.sources: dict[str, Callable[[], dict[Labels, float]]] = {}
        self._requests = self.counters["unigate_requests_total"]
        self._tokens = self.counters["unigate_tokens_total"]
        self._duration = self.histograms["unigate_request_duration_seconds"]
        self._ttft = self.histograms["unigate_time_to_first_token_seconds"]
        self._overhead = self.histograms["unigate_gateway_overhead_seconds"]
        self._upstream = self.histograms["unigate_upstream_duration_seconds"]

    # --- the request path ---------------------------------------------------------------

    def request_done(self, r: UsageRecord, overhead_ms: float | None) -> None:
        endpoint, provider = r.endpoint_name or "", r.destination_provider or ""
        key = (endpoint, r.api_type, surface_of(r.url), provider, status_class(r.status_code))
        c = self._requests
        c[key] = c.get(key, 0.0) + 1.0
        if r.usage is not None:
            count_tokens(self._tokens, endpoint, provider, r.usage)
        short = (endpoint, r.api_type)
        if r.latency_ms is not None:
            self._duration.observe(short, r.latency_ms / 1000.0)
        if r.streaming and r.ttfb_ms is not None and r.status_code == 200:
            self._ttft.observe(short, r.ttfb_ms / 1000.0)
        if overhead_ms is not None:
            self._overhead.observe((r.api_type,), overhead_ms / 1000.0)

    def attempt_done(self, provider: str, outcome: str, seconds: float) -> None:
        self._upstream.observe((provider, outcome), seconds)

    def add(self, name: str, labels: Labels, amount: float = 1.0) -> None:
        c = self.counters[name]
        c[labels] = c.get(labels, 0.0) + amount

    def estimated(self, r: UsageRecord) -> None:
        """The usage writer's thread estimated this row's tokens (the provider reported none)."""
        if r.usage is not None:
            count_tokens(self.writer_tokens, r.endpoint_name or "", r.destination_provider or "", r.usage)

    # --- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        counters: dict[str, dict[Labels, Any]] = {name: dict(values) for name, values in self.counters.items()}
        tokens = counters["unigate_tokens_total"]
        for labels, value in dict(self.writer_tokens).items():  # a copy: another thread adds to it
            tokens[labels] = tokens.get(labels, 0.0) + value
        histograms = {name: {labels: list(s) for labels, s in h.series.items()}
                      for name, h in self.histograms.items()}
        gauges: dict[str, dict[Labels, Any]] = {
            "unigate_in_flight_requests": {(): float(self.in_flight)},
            "unigate_in_flight_streams": {(): float(self.streams)},
            "unigate_workers": {(): 1.0},
        }
        for name, source in self.sources.items():
            (counters if BY_NAME[name].kind == "counter" else gauges)[name] = source()
        return {"counters": counters, "histograms": histograms, "gauges": gauges,
                "meta": {"taken": {(): time.time()}}}

    def share(self, board: MetricsBoard, slot: int) -> None:
        """Post to `board` as worker `slot`, carrying on from what the slot's last worker posted."""
        self.board, self.slot = board, slot
        previous = board.read(slot)
        if previous is not None:
            self.restore(previous)

    def post(self) -> None:
        if self.board is not None:
            self.board.post(self.slot, self.snapshot())

    def scrape(self) -> Snapshot:
        """Every worker's numbers added up: this one's live, the others' as they last posted."""
        mine = self.snapshot()
        if self.board is None:
            return merge([mine])
        return merge([mine, *self.board.others(self.slot)], stale_before=time.time() - STALE_SECONDS)

    def restore(self, snap: Snapshot) -> None:
        """Carry on from a previous incarnation of this worker (it crashed and was restarted),
        so counters summed across workers never go backwards."""
        for name, values in snap.get("counters", {}).items():
            if name in self.counters:
                self.counters[name].update(values)
        for name, series in snap.get("histograms", {}).items():
            h = self.histograms.get(name)
            if h is not None:
                h.series.update({labels: list(s) for labels, s in series.items()
                                 if len(s) == len(h.bounds) + 3})


def count_tokens(into: dict[Labels, float], endpoint: str, provider: str, usage: Any) -> None:
    for kind, value in (("input", usage.input_tokens), ("output", usage.output_tokens),
                        ("cache_read", usage.cache_read_tokens), ("cache_creation", usage.cache_creation_tokens),
                        ("reasoning", usage.reasoning_tokens)):
        if value:
            key = (endpoint, provider, kind)
            into[key] = into.get(key, 0.0) + value


def merge(snapshots: list[Snapshot], stale_before: float = 0.0) -> Snapshot:
    """The sum over workers: counters and histograms add up; gauges add up or take the
    largest (by the catalogue), and come only from workers that reported since `stale_before`
    (a worker that died keeps its counts, not its gauges)."""
    out: Snapshot = {"counters": {}, "histograms": {}, "gauges": {}}
    for snap in snapshots:
        for name, values in snap.get("counters", {}).items():
            into = out["counters"].setdefault(name, {})
            for labels, v in values.items():
                into[labels] = into.get(labels, 0.0) + v
        for name, series in snap.get("histograms", {}).items():
            into = out["histograms"].setdefault(name, {})
            for labels, s in series.items():
                have = into.get(labels)
                into[labels] = list(s) if have is None else [a + b for a, b in zip(have, s, strict=False)]
        taken = snap.get("meta", {}).get("taken", {}).get((), 0.0)
        if taken < stale_before:
            continue
        for name, values in snap.get("gauges", {}).items():
            into = out["gauges"].setdefault(name, {})
            take_max = BY_NAME[name].merge == "max" if name in BY_NAME else False
            for labels, v in values.items():
                have = into.get(labels)
                into[labels] = v if have is None else (max(have, v) if take_max else have + v)
    return out
