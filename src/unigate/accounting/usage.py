"""One usage row per request, queued in memory and written in batches by a background thread.

Rows wait (bounded) while the store is unavailable and are all written on a clean shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from unigate.accounting.clients import identify_client
from unigate.accounting.estimate import estimate_usage
from unigate.accounting.prices import Pricing
from unigate.accounting.spool import UsageSpool
from unigate.ir.usage import Usage
from unigate.store.base import Store

log = logging.getLogger("unigate.usage")


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    started: float  # time.time() at arrival
    api_type: str
    url: str
    user_agent: str | None = None
    endpoint_name: str | None = None
    requester: str | None = None
    requester_type: str | None = None
    destination_provider: str | None = None
    destination_model: str | None = None
    status_code: int = 0
    error_code: str | None = None
    streaming: bool = False
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    usage: Usage | None = None
    request_tags: dict[str, Any] | None = None
    routing: list[dict[str, Any]] = field(default_factory=list)
    token_id: str | None = None  # which token authenticated it (for tokens' last_used_at)
    # (client format, endpoint, request body, unary response body or None): set when the
    # provider reported no usage, so the writer thread can estimate it.
    estimate_from: tuple[str, str, bytes, bytes | None] | None = None
    # request parameters the translation dropped or emulated (ir.parameters)
    dropped_parameters: list[str] | None = None
    emulated_parameters: list[str] | None = None
    session_id: str | None = None  # the client's session (accounting.clients.SESSION_HEADERS)
    # a tool call on a registered MCP service (api_type "mcp"): which service and tool
    mcp_service: str | None = None
    mcp_tool: str | None = None
    # the verdict of each guardrail that ran (governance.guardrails): name, phase, outcome...
    guardrails: list[dict[str, Any]] | None = None
    cost_usd: float | None = None  # what the request cost, by the price catalogue (None: no price)
    row: tuple[Any, ...] | None = None  # as_row(), once made (for the spool)

    def as_row(self) -> tuple[Any, ...]:
        u = self.usage or Usage()
        client_name, client_version = identify_client(self.user_agent)
        return (
            self.request_id, self.started, self.endpoint_name, self.api_type, self.url,
            self.requester, self.requester_type, self.user_agent, self.destination_provider,
            self.destination_model, self.status_code, self.error_code, int(self.streaming),
            self.latency_ms, self.ttfb_ms, u.input_tokens, u.output_tokens, u.total_tokens,
            u.cache_read_tokens, u.cache_creation_tokens, u.reasoning_tokens, int(u.estimated),
            orjson.dumps(self.request_tags).decode() if self.request_tags else None,
            orjson.dumps(self.routing).decode() if self.routing else None,
            client_name, client_version, self.session_id,
            _json_list(self.dropped_parameters), _json_list(self.emulated_parameters),
            self.mcp_service, self.mcp_tool,
            orjson.dumps(self.guardrails).decode() if self.guardrails else None, self.cost_usd,
        )


def _json_list(names: list[str] | None) -> str | None:
    return orjson.dumps(names).decode() if names else None


def _last_use(records: list[UsageRecord]) -> dict[str, float]:
    """Each token's latest use in a batch: last_used_at is written here, in batches, so the
    request path never writes to the store."""
    last: dict[str, float] = {}
    for r in records:
        if r.token_id and r.started > last.get(r.token_id, 0.0):
            last[r.token_id] = r.started
    return last


class UsageWriter:
    """A deque the request path appends to (thread-safe, no lock) and a thread that drains it."""

    # Beyond this, the oldest rows leave memory: with a spool they are written from its files
    # once the store is back; without one they are lost (counted in `dropped`).
    MAX_QUEUED = 1_000_000
    # Rows are written in slices of one INSERT statement, with a pause between them. This
    # thread shares the GIL with the event loop, and Python code here keeps it for up to the
    # 5 ms switch interval whenever the loop wants it back: writing the whole queue at once
    # (1,500 rows at 3,000 requests/s) delayed every request that overlapped it by
    # milliseconds (chat c=1: p99 3.8 ms against the relay's 1.0; sliced, 0.9).
    SLICE_PAUSE = 0.0002  # seconds

    def __init__(self, store: Store, interval: float = 0.5, spool: UsageSpool | None = None) -> None:
        self._store = store
        self._spool = spool
        self._interval = interval
        self._queue: deque[UsageRecord] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self.dropped = 0
        self._failing = False
        self._overflowed = False  # rows left the memory queue, not the spool (see put)
        self._overflow_lock = threading.Lock()
        # told of each row whose tokens this thread estimated (the metrics count them)
        self.on_estimate: Callable[[UsageRecord], None] | None = None
        # the current configuration's prices (the state's snapshot): each row's cost_usd
        self.pricing: Callable[[], Pricing] | None = None

    def start(self) -> None:
        self._thread.start()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def oldest_age(self) -> float:
        """Seconds the oldest queued row has waited since its request arrived (0: none waits)."""
        try:
            return max(0.0, time.time() - self._queue[0].started)
        except IndexError:
            return 0.0

    def put(self, record: UsageRecord) -> None:
        row = None
        if self._spool is not None:
            if record.estimate_from is None and record.cost_usd is None and self.pricing is not None:
                # the spooled row is the written one: its cost now (two dict lookups and arithmetic)
                record.cost_usd = self.pricing().record_cost(record)
            row = record.as_row()  # without an estimate yet: a replayed row has no token counts then
            if record.estimate_from is None:
                record.row = row
        if len(self._queue) >= self.MAX_QUEUED:
            self._queue.popleft()
            if self._spool is not None:
                with self._overflow_lock:  # rare: only while the store has been away long
                    self._overflowed = True  # the row stays in the spool: written from there later
            else:
                self.dropped += 1
        # Queued before spooled: a row in a file the writer retires (rotate) was queued before
        # the writer counted what its flush writes, so the file never goes before its rows.
        self._queue.append(record)
        if self._spool is not None and row is not None:
            self._spool.append(row)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush()
        self._flush(final=True)

    def _flush(self, final: bool = False) -> None:
        size = self._store.USAGE_ROWS_PER_STATEMENT
        if self._spool is not None and self._queue:
            self._spool.rotate()  # what is queued now is in the retired files
        # Only the rows queued by now: rows keep arriving while a slice is written, and draining
        # until the queue is empty wrote a slice of a few rows per round trip, without end, on a
        # store slower than the arrivals between two slices (PostgreSQL: 150 COPYs a second).
        pending = len(self._queue)
        while (pending > 0 or final) and self._queue:  # at the end: everything
            records = [self._queue.popleft() for _ in range(min(size, pending, len(self._queue)))]
            pending -= len(records)
            pricing = self.pricing() if self.pricing is not None else None
            for r in records:
                if r.estimate_from is not None and r.usage is None:
                    r.usage = estimate_usage(*r.estimate_from)
                    r.estimate_from = None
                    if self.on_estimate is not None:
                        self.on_estimate(r)
                if r.row is None and r.cost_usd is None and pricing is not None:
                    r.cost_usd = pricing.record_cost(r)  # estimated tokens are priced too
            try:
                self._store.insert_usage([r.row or r.as_row() for r in records])
                self._store.touch_tokens(_last_use(records))
            except Exception as e:  # store unavailable: keep the rows and retry later
                self._queue.extendleft(reversed(records))
                pending += len(records)
                if not self._failing:  # once per outage, not at every retry
                    log.warning("usage rows not written yet (%d queued, kept until the store answers): %s",
                                len(self._queue), e)
                self._failing = True
                if final:
                    time.sleep(0.5)  # bounded by the caller's join timeout
                    continue
                return
            if self._failing:
                log.warning("usage rows are written again")
                self._failing = False
            if pending > 0 and not final:
                time.sleep(self.SLICE_PAUSE)
        if self._spool is not None:
            with self._overflow_lock:
                overflowed, self._overflowed = self._overflowed, False
            try:
                self._spool.flushed(self._store if overflowed else None)
            except Exception as e:  # the store went away again: the files stay, retried next time
                self._overflowed = True
                log.warning("spooled usage rows not written yet: %s", e)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._spool is not None:
            self._spool.close(clean=not self._queue and not self._thread.is_alive())
