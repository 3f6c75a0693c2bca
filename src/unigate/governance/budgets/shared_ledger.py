"""Budget counters in shared memory: every worker process of one host sees the same ones.

An anonymous shared mapping made in the supervisor before it forks the workers (restarted
workers inherit it too), guarded by an flock on a file descriptor each process reopens, the
scheme `governance.ratelimit.shared_memory` uses: the kernel drops a flock when its holder
dies, so a worker killed in the critical section cannot wedge the others.

A slot is (key hash, committed, spent, expires at); keys are hashed to 64 bits (blake2b).
Budgets are few (one counter per budget and period), so the table is small; when it is 3/4
full, counters of periods that are over are dropped. A counter that finds no slot even then is
not enforced for that request (logged at most once a minute)."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence

from unigate.governance.budgets.ledger import OK, REFUSED, UNSEEDED, ReserveItem, SettleItem, has_room
from unigate.governance.shared_table import SharedTable

log = logging.getLogger("unigate.budgets")

_HEADER = 64
_SLOT = struct.Struct("<Qqqq")  # key hash (0: empty), committed, spent, expires_at
_SIZE = 32
_USED = struct.Struct("<Q")
_USED_AT = 8


class SharedLedger(SharedTable):
    """A `Ledger` for the processes forked from the one that made it. Thread-safe."""

    seed_max_age: float | None = None  # counters last as long as the supervisor

    def __init__(self, capacity: int = 8192, lock_dir: str | None = None) -> None:
        super().__init__(capacity, _HEADER, _SIZE, "unigate-budgets-", lock_dir, hash_cache=10_000)
        self._warned = 0.0

    # -- Ledger -------------------------------------------------------------------------------

    def reserve(self, items: Sequence[ReserveItem]) -> tuple[str, int]:
        hashes = [self._hash(item[0]) for item in items]
        fd = self._enter()
        try:
            found: list[tuple[int, int]] = []  # (committed, spent)
            for i, (_, _, limit, cost, seed) in enumerate(items):
                _, h, committed, spent = self._probe(hashes[i])
                if h != hashes[i]:
                    if seed < 0:
                        return UNSEEDED, i
                    committed = spent = seed
                if not has_room(committed, cost, limit):
                    return REFUSED, i
                found.append((committed, spent))
            for i, (key, expires, _, cost, _) in enumerate(items):
                off, h, _, _ = self._probe(hashes[i])  # again: a claim below may have evicted
                if h != hashes[i]:
                    off = self._claim(hashes[i], key)
                    if off < 0:
                        continue
                committed, spent = found[i]
                _SLOT.pack_into(self._mm, off, hashes[i], committed + cost, spent, expires)
            return OK, -1
        finally:
            self._leave(fd)

    def settle(self, items: Sequence[SettleItem]) -> list[int | None]:
        hashes = [self._hash(item[0]) for item in items]
        out: list[int | None] = []
        fd = self._enter()
        try:
            for i, (_, reserved, actual) in enumerate(items):
                off, h, committed, spent = self._probe(hashes[i])
                if h != hashes[i]:
                    out.append(None)
                    continue
                spent += actual
                expires = _SLOT.unpack_from(self._mm, off)[3]
                _SLOT.pack_into(self._mm, off, h, max(spent, committed + actual - reserved), spent, expires)
                out.append(spent)
        finally:
            self._leave(fd)
        return out

    def read(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        hashes = [self._hash(k) for k in keys]
        fd = self._enter()
        try:
            out: list[tuple[int, int] | None] = []
            for h in hashes:
                _, found, committed, spent = self._probe(h)
                out.append((committed, spent) if found == h else None)
            return out
        finally:
            self._leave(fd)

    # -- the table ----------------------------------------------------------------------------

    def _probe(self, h: int) -> tuple[int, int, int, int]:
        """(offset, slot hash, committed, spent) of h's slot, or of the empty slot ending its probe."""
        i = h & self._mask
        while True:
            off = _HEADER + i * _SIZE
            slot_hash, committed, spent, _ = _SLOT.unpack_from(self._mm, off)
            if slot_hash == h or slot_hash == 0:
                return off, slot_hash, committed, spent
            i = (i + 1) & self._mask

    def _claim(self, h: int, key: str) -> int:
        """A slot for a new counter (its offset), evicting ended periods when the table fills;
        -1 when there is none."""
        used = _USED.unpack_from(self._mm, _USED_AT)[0]
        if used >= self._max_used:
            used = self._evict()
            if used >= self._max_used:
                self._warn_full(key)
                return -1
        _USED.pack_into(self._mm, _USED_AT, used + 1)
        return self._probe(h)[0]

    def _evict(self) -> int:
        now = time.time()
        end = _HEADER + self._capacity * _SIZE
        live = [s for s in _SLOT.iter_unpack(self._mm[_HEADER:end]) if s[0] and s[3] > now]
        self._mm[_HEADER:end] = bytes(end - _HEADER)
        for slot in live:
            _SLOT.pack_into(self._mm, self._probe(slot[0])[0], *slot)
        _USED.pack_into(self._mm, _USED_AT, len(live))
        return len(live)

    def _warn_full(self, key: str) -> None:
        now = time.monotonic()
        if now - self._warned >= 60:
            self._warned = now
            log.warning("budget table full (%d slots): budget counter %r is not kept; raise the capacity",
                        self._capacity, key.split("\x1f")[0])
