"""A worker's payload records on local disk until their rows are in the store, as the usage
spool does for usage rows (accounting/spool.py): a worker killed between answering and writing
loses no payload row, and a long outage of the store is bounded by disk, not memory.

A record is `<meta length> <request length> <response length>\\n`, the metadata as a JSON
array, then the two bodies as they were (no encoding, written with one writev). A record cut
short by a kill is the last one of its file and is skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from unigate.accounting.spool import Spool
from unigate.governance.payloads import PayloadRecord, safe_payload_row
from unigate.store.base import Store
from unigate.store.payloads import insert_payloads


class PayloadSpool(Spool):
    PREFIX, SUFFIX = "payloads-", ".bin"

    def append(self, r: PayloadRecord) -> None:
        meta = orjson.dumps([r.request_id, r.started, r.endpoint_name, r.fmt_name, r.streaming,
                             r.status_code, r.requester, r.latency_ms, r.request_size, r.response_size])
        head = b"%d %d %d\n" % (len(meta), len(r.request_body), len(r.response_body))
        self.append_parts([head + meta, r.request_body, r.response_body])

    @staticmethod
    def records(data: bytes) -> Iterator[PayloadRecord]:
        at = 0
        while at < len(data):
            end = data.find(b"\n", at)
            if end < 0:
                return
            try:
                sizes = [int(x) for x in data[at:end].split()]
                meta_len, req_len, resp_len = sizes
                body = end + 1
                if body + meta_len + req_len + resp_len > len(data):
                    return  # cut short by a kill
                m = orjson.loads(data[body:body + meta_len])
            except (ValueError, orjson.JSONDecodeError):
                return  # not a record boundary: the rest of the file is unreadable
            req_at = body + meta_len
            resp_at = req_at + req_len
            yield PayloadRecord(m[0], m[1], m[2], m[3], data[req_at:resp_at], data[resp_at:resp_at + resp_len],
                                streaming=m[4], status_code=m[5], requester=m[6], latency_ms=m[7],
                                request_size=m[8], response_size=m[9])
            at = resp_at + resp_len

    @classmethod
    def replay_file(cls, store: Store, path: Path, batch: int = 32) -> int:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0  # another worker replayed it first
        rows = [safe_payload_row(r) for r in cls.records(data)]
        for at in range(0, len(rows), batch):
            insert_payloads(store, rows[at:at + batch])
        path.unlink(missing_ok=True)
        return len(rows)
