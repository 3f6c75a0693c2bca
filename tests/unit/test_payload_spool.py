"""The payload spool: records on disk until their rows are in the store, read back exactly
(bodies as bytes, a record cut short by a kill skipped), replayed for workers that are gone."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from unigate.governance.payload_spool import PayloadSpool
from unigate.governance.payloads import PayloadRecord, PayloadWriter
from unigate.store.base import Exec, T
from unigate.store.payloads import payload_rows
from unigate.store.sqlite import SQLiteStore


class FlakyStore(SQLiteStore):
    """A real store whose transactions fail while `down` is set."""

    down = False

    def atomic(self, work: Callable[[Exec], T]) -> T:
        if self.down:
            raise sqlite3.OperationalError("database is locked")
        return super().atomic(work)


def record(i: int, body: bytes = b'{"messages": [{"role": "user", "content": "hi"}]}') -> PayloadRecord:
    return PayloadRecord(f"p-{i}", 1_765_000_000.0 + i, "chat", "openai_chat", body,
                         b'{"choices": [{"message": {"content": "yes\\n\\u00e9"}}]}', status_code=200,
                         requester="u@x.y", latency_ms=1.5)


def test_records_read_back_exactly_and_a_cut_record_is_skipped(tmp_path: Path) -> None:
    spool = PayloadSpool(tmp_path)
    binary = bytes(range(256)) * 3 + b"\n12 3 4\n"  # bodies may hold anything, newlines too
    spool.append(record(1))
    spool.append(record(2, binary))
    spool.close(clean=False)
    data = next(tmp_path.glob("payloads-*.bin")).read_bytes()
    back = list(PayloadSpool.records(data))
    assert back == [record(1), record(2, binary)]
    assert list(PayloadSpool.records(data[:-5])) == [record(1)]  # the second one, cut short


def test_rows_wait_in_the_spool_while_the_store_is_down(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "s.db")
    store.migrate()
    store.down = True
    spool = PayloadSpool(tmp_path / "spool")
    writer = PayloadWriter(store, interval=0.05, spool=spool, max_queued_bytes=2_000)  # ~15 records
    writer.start()
    for i in range(60):
        writer.put(record(i))
        if i % 10 == 0:
            time.sleep(0.06)  # failed flushes meanwhile, each retiring a file
    assert len(payload_rows(store, "chat", limit=1000)) == 0
    store.down = False
    deadline = time.monotonic() + 5
    while len(payload_rows(store, "chat", limit=1000)) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.stop()
    rows = payload_rows(store, "chat", limit=1000)
    assert {r["request_id"] for r in rows} == {f"p-{i}" for i in range(60)} and writer.dropped == 0
    assert not list(spool.directory.glob("payloads-*.bin"))  # a clean stop leaves nothing


def test_a_gone_workers_file_is_replayed_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.migrate()
    spool = PayloadSpool(tmp_path / "spool")
    spool.append(record(7))
    spool.close(clean=False)
    gone = tmp_path / "spool" / "payloads-999999-deadbeef-1.bin"  # a pid that does not run
    next((tmp_path / "spool").glob(f"payloads-{os.getpid()}-*.bin")).rename(gone)
    assert PayloadSpool.replay_gone(store, tmp_path / "spool") == 1
    assert PayloadSpool.replay_gone(store, tmp_path / "spool") == 0 and not gone.exists()
    assert payload_rows(store, "chat")[0]["response_body"].startswith('{"choices"')
