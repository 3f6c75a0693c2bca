"""The usage spool: rows on disk until the store has them, replayed only for workers that are gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.unit.test_usage_writer import FlakyStore, record
from unigate.accounting.spool import UsageSpool, replay_spools
from unigate.accounting.usage import UsageWriter
from unigate.store.sqlite import SQLiteStore


def _ids(store: SQLiteStore) -> set[str]:
    return {r["request_id"] for r in store.usage_rows(limit=10_000)}


def test_spooled_rows_stay_until_written_and_go_after(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "u.db")
    store.migrate()
    spool = UsageSpool(tmp_path / "spool")
    writer = UsageWriter(store, interval=0.05, spool=spool)
    writer.start()
    for i in range(50):
        writer.put(record(i))
    time.sleep(0.2)  # the store is down: every row is still in the spool files
    lines = sum(len(p.read_bytes().splitlines()) for p in spool.directory.glob("usage-*.jsonl"))
    assert lines == 50
    store.down = False
    deadline = time.monotonic() + 5
    while len(_ids(store)) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    assert sum(p.stat().st_size for p in spool.directory.glob("usage-*.jsonl")) == 0  # retired files deleted
    writer.stop()
    assert not list(spool.directory.glob("usage-*.jsonl"))  # a clean stop leaves nothing


def test_rows_beyond_the_memory_queue_are_written_from_the_spool(tmp_path: Path, monkeypatch) -> None:
    """A long outage overflows the writer's memory queue: the oldest rows leave memory but not
    the spool, and are written from its files once the store is back."""
    monkeypatch.setattr(UsageWriter, "MAX_QUEUED", 20)
    store = FlakyStore(tmp_path / "u.db")
    store.migrate()
    writer = UsageWriter(store, interval=0.05, spool=UsageSpool(tmp_path / "spool"))
    writer.start()
    for i in range(100):
        writer.put(record(i))
        if i % 10 == 0:
            time.sleep(0.06)  # flushes fail meanwhile, each retiring a spool file
    store.down = False
    deadline = time.monotonic() + 5
    while len(_ids(store)) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.stop()
    assert _ids(store) == {f"req-{i}" for i in range(100)} and writer.dropped == 0


def test_replay_takes_only_the_files_of_workers_that_are_gone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    directory = tmp_path / "spool"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    directory.mkdir()
    rows = [record(i).as_row() for i in range(3)]
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows) + b'["req-cut", 17'  # killed mid-write
    (directory / f"usage-{dead}-aaaa-1.jsonl").write_bytes(body)
    (directory / f"usage-{os.getppid()}-bbbb-1.jsonl").write_bytes(orjson.dumps(record(9).as_row()) + b"\n")
    mine = UsageSpool(directory)
    mine.append(record(8).as_row())
    assert replay_spools(store, directory, mine.token) == 3
    assert _ids(store) == {"req-0", "req-1", "req-2"}  # not the live parent's, not our own
    assert not (directory / f"usage-{dead}-aaaa-1.jsonl").exists()
    assert replay_spools(store, directory, mine.token) == 0  # nothing twice
    # a predecessor with our pid but another token is gone: its rows are replayed
    (directory / f"usage-{os.getpid()}-cccc-1.jsonl").write_bytes(orjson.dumps(record(5).as_row()) + b"\n")
    assert replay_spools(store, directory, mine.token) == 1
    mine.close(clean=True)
