"""Where the workers of one host post their metrics for each other: an anonymous shared mapping
made by the supervisor before it forks, one region per worker slot.

Each worker writes its snapshot (orjson) into its own region every second and whoever answers
`GET /metrics` reads all regions and adds them up, with its own numbers taken live. So a scrape
costs no round trip to the other workers, and what it shows of them is at most a second old. A
worker restarted into a slot picks up the counts its predecessor last posted, so sums never go
backwards. A region is a seqlock: the sequence number is odd while its writer is at work, and a
reader that sees it change (or odd) reads again."""

from __future__ import annotations

import logging
import mmap
import struct
import time
from typing import Any

import orjson

from unigate.observability.metrics import Labels, Snapshot

log = logging.getLogger("unigate.metrics")

_HEAD = struct.Struct("<QQ")  # sequence number, length of the posted snapshot
# Per worker. Pages of an anonymous mapping are only backed by memory once written, so this is
# an upper bound, not a cost: a snapshot of 1,000 endpoints' series is about 2 MiB.
REGION_BYTES = 32 * 1024 * 1024


def encode(snap: Snapshot) -> bytes:
    """Label tuples cannot be JSON keys: each table becomes a list of [labels, value]."""
    return orjson.dumps({kind: {name: [[list(labels), value] for labels, value in table.items()]
                                for name, table in tables.items()}
                         for kind, tables in snap.items()})


def decode(data: bytes) -> Snapshot:
    raw: dict[str, dict[str, list[list[Any]]]] = orjson.loads(data)
    out: Snapshot = {}
    for kind, tables in raw.items():
        out[kind] = {}
        for name, rows in tables.items():
            table: dict[Labels, Any] = {}
            for labels, value in rows:
                table[tuple(labels)] = value
            out[kind][name] = table
    return out


class MetricsBoard:
    def __init__(self, slots: int, region_bytes: int = REGION_BYTES) -> None:
        self.slots = max(1, slots)
        self.region = region_bytes
        self._mm = mmap.mmap(-1, self.slots * self.region)
        self._warned = False

    def post(self, slot: int, snap: Snapshot) -> None:
        data = encode(snap)
        base = slot * self.region
        if len(data) > self.region - _HEAD.size:
            if not self._warned:
                log.warning("metrics of worker %d (%d bytes) do not fit its %d-byte region: not shared",
                            slot, len(data), self.region)
                self._warned = True
            return
        seq, _ = _HEAD.unpack_from(self._mm, base)
        seq += seq % 2  # a predecessor died while posting: start from even again
        _HEAD.pack_into(self._mm, base, seq + 1, 0)  # odd: being written
        self._mm[base + _HEAD.size:base + _HEAD.size + len(data)] = data
        _HEAD.pack_into(self._mm, base, seq + 2, len(data))

    def clear(self, slot: int) -> None:
        base = slot * self.region
        seq, _ = _HEAD.unpack_from(self._mm, base)
        _HEAD.pack_into(self._mm, base, seq + 2 - seq % 2, 0)

    def read(self, slot: int) -> Snapshot | None:
        base = slot * self.region
        for _ in range(100):
            seq, length = _HEAD.unpack_from(self._mm, base)
            if seq % 2:
                time.sleep(0.0005)
                continue
            data = bytes(self._mm[base + _HEAD.size:base + _HEAD.size + length])
            if _HEAD.unpack_from(self._mm, base)[0] != seq:
                continue
            if not length:
                return None
            try:
                return decode(data)
            except orjson.JSONDecodeError:  # cannot happen unless a writer died mid-post
                return None
        return None

    def others(self, slot: int) -> list[Snapshot]:
        return [s for i in range(self.slots) if i != slot and (s := self.read(i)) is not None]
