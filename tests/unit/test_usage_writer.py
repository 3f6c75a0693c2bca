"""The usage writer: rows wait while the store is unavailable and are all written when it
returns; a clean stop drains the queue."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from unigate.accounting.usage import UsageRecord, UsageWriter
from unigate.store.sqlite import SQLiteStore


class FlakyStore(SQLiteStore):
    """A real store whose inserts fail while `down` is set (a locked or unreachable database)."""

    down = True
    failures = 0

    def insert_usage(self, rows: list[tuple[object, ...]]) -> None:
        if self.down:
            self.failures += 1
            raise sqlite3.OperationalError("database is locked")
        super().insert_usage(rows)  # type: ignore[arg-type]


def record(i: int) -> UsageRecord:
    return UsageRecord(f"req-{i}", time.time(), "chat", "/x", endpoint_name="e", status_code=200)


def test_rows_wait_while_the_store_is_down_and_are_written_when_it_returns(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "u.db")
    store.migrate()
    writer = UsageWriter(store, interval=0.05)
    writer.start()
    for i in range(500):
        writer.put(record(i))
    time.sleep(0.3)
    assert store.failures >= 2 and not store.usage_rows()
    store.down = False
    deadline = time.monotonic() + 5
    while len(store.usage_rows(limit=10_000)) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.stop()
    assert {r["request_id"] for r in store.usage_rows(limit=10_000)} == {f"req-{i}" for i in range(500)}


def test_stop_drains_the_queue(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    writer = UsageWriter(store, interval=60)  # it would not flush on its own before stop()
    writer.start()
    for i in range(1000):
        writer.put(record(i))
    writer.stop()
    assert len(store.usage_rows(limit=10_000)) == 1000


def test_batches_of_any_length_are_written_whole_with_few_distinct_statements(tmp_path: Path) -> None:
    """sqlite3 keeps every distinct statement it prepared: one per batch length grew a worker
    by ~60 MB over 300,000 requests. Whatever the lengths, at most 10 statements are used."""
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    seen: set[str] = set()
    db = store._db

    class Recording:  # the connection, noting each INSERT statement's text
        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT"):
                seen.add(sql)
            return db.execute(sql, *args)
    store._db = Recording()  # type: ignore[assignment]
    written = 0
    for length in [*range(1, 25), 511, 512, 513, 1999, 2000]:
        store.insert_usage([record(written + i).as_row() for i in range(length)])
        written += length
    store._db = db
    assert len(store.usage_rows(limit=100_000)) == written
    assert 1 < len(seen) <= 10


def test_a_long_queue_is_written_in_slices_with_a_pause_between_them(tmp_path: Path, monkeypatch) -> None:
    """The writer shares the GIL with the event loop: it writes one INSERT statement's worth of
    rows at a time and sleeps between slices, so the loop gets the GIL back (the tail latency of
    every request overlapping a flush depended on it)."""
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    sizes: list[int] = []
    insert = store.insert_usage
    monkeypatch.setattr(store, "insert_usage", lambda rows: (sizes.append(len(rows)), insert(rows)))
    pauses: list[float] = []
    monkeypatch.setattr("unigate.accounting.usage.time.sleep", pauses.append)
    writer = UsageWriter(store, interval=60)
    for i in range(1000):
        writer.put(record(i))
    writer._flush()
    per = store.USAGE_ROWS_PER_STATEMENT
    assert sizes == [per] * (1000 // per) + ([1000 % per] if 1000 % per else [])
    assert pauses == [UsageWriter.SLICE_PAUSE] * (len(sizes) - 1)
    assert len(store.usage_rows(limit=10_000)) == 1000


def test_a_failure_between_slices_writes_each_row_once(tmp_path: Path) -> None:
    """Slices are separate transactions: when the store fails after some were written, only
    the rest waits for the next attempt, so no row is lost or written twice."""
    store = FlakyStore(tmp_path / "u.db")
    store.migrate()
    store.down = False
    calls = 0
    insert = store.insert_usage

    def fail_third(rows: list[tuple[object, ...]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise sqlite3.OperationalError("database is locked")
        insert(rows)
    store.insert_usage = fail_third  # type: ignore[method-assign]
    writer = UsageWriter(store, interval=60)
    total = store.USAGE_ROWS_PER_STATEMENT * 5 + 7
    for i in range(total):
        writer.put(record(i))
    writer._flush()  # two slices written, then the failure: the rest stays queued
    assert len(store.usage_rows(limit=10_000)) == 2 * store.USAGE_ROWS_PER_STATEMENT
    writer._flush()
    ids = [r["request_id"] for r in store.usage_rows(limit=10_000)]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(total))


def test_rows_arriving_during_a_flush_wait_for_the_next_one(tmp_path: Path) -> None:
    """A flush writes what was queued when it began. Draining until the queue was empty wrote a
    slice of a few rows per round trip without end on a store slower than the arrivals between
    two slices (on PostgreSQL, 150 COPYs a second for 1,200 requests a second)."""
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    writer = UsageWriter(store, interval=60)
    sizes: list[int] = []
    insert = store.insert_usage
    arrivals = iter(range(100, 10_000))

    def slow_insert(rows: list[tuple[object, ...]]) -> None:
        sizes.append(len(rows))
        insert(rows)  # type: ignore[arg-type]
        for _ in range(3):  # requests that ended while this slice was being written
            writer.put(record(next(arrivals)))
    store.insert_usage = slow_insert  # type: ignore[method-assign]
    for i in range(100):
        writer.put(record(i))
    writer._flush()
    assert sum(sizes) == 100 and len(sizes) == -(-100 // store.USAGE_ROWS_PER_STATEMENT)
    assert len(writer._queue) == 3 * len(sizes)  # the newcomers, for the next flush
    store.insert_usage = insert  # type: ignore[method-assign]
    writer.start()
    writer.stop()  # the last flush writes everything, the newcomers included
    assert len(store.usage_rows(limit=10_000)) == 100 + 3 * len(sizes)
