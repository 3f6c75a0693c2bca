"""Rate-limit counters shared by the worker processes of one host.

An anonymous shared mapping (`mmap.mmap(-1, n)` is MAP_SHARED) created BEFORE the supervisor forks
its workers holds an open-addressing table of slots (key hash, window start, count, window
seconds). Every check-and-increment runs under one host-wide lock: a thread lock (threads of one
process) plus `flock` on a lock file that each process opens for itself (its own open file
description, so the processes exclude each other). The kernel drops a flock when its holder
dies, so a worker killed inside the critical section cannot wedge the others (a semaphore would).

Keys are hashed to 64 bits (blake2b; collisions are negligible at these table sizes). A key keeps
its slot for good and its count restarts when its window moves on. When the table is 3/4 full,
slots whose window is over are evicted (a rebuild under the lock, rare); when it is still full,
a limit whose counter has no slot is not enforced for that request ("fail open", logged at most
once a minute per process): refusing everyone because the table is full would be worse than
letting some traffic through unlimited for a while. Size the table for the distinct counters
live in one hour (65,536 slots = 2 MiB by default)."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence

from unigate.governance.ratelimit.backend import CounterItem
from unigate.governance.shared_table import SharedTable

log = logging.getLogger("unigate.ratelimit")

_HEADER_SIZE = 64  # magic, capacity, used slots, no eviction before (epoch seconds)
_SLOT = struct.Struct("<Qqqq")  # key hash (0 = empty), window_start, count, window_seconds
_SLOT_SIZE = 32
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_MAGIC = 0x756E6967_726C3031  # "unigrl01"
_USED_AT, _EVICT_AT = 16, 24
_WARN_EVERY = 60.0


class SharedMemoryBackend(SharedTable):
    """A `CounterBackend` for every process forked from the one that created it (create it in the
    supervisor before forking; workers restarted later inherit it too). Thread-safe."""

    def __init__(self, capacity: int = 1 << 16, lock_dir: str | None = None) -> None:
        super().__init__(capacity, _HEADER_SIZE, _SLOT_SIZE, "unigate-ratelimit-", lock_dir)
        struct.pack_into("<QQQq", self._mm, 0, _MAGIC, self._capacity, 0, 0)
        self._warned = 0.0

    @property
    def capacity(self) -> int:
        return self._capacity

    def used(self) -> int:
        return int(_U64.unpack_from(self._mm, _USED_AT)[0])

    # -- CounterBackend ---------------------------------------------------------------------------

    def try_acquire(self, items: Sequence[CounterItem]) -> int | None:
        if not items:
            return None
        hashes = [self._hash(item[0]) for item in items]
        fd = self._enter()
        try:
            return self._acquire_locked(items, hashes)
        finally:
            self._leave(fd)

    def adjust(self, key: str, window_start: int, delta: int) -> None:
        h = self._hash(key)
        fd = self._enter()
        try:
            off, slot_hash, start, count = self._probe(h)
            if slot_hash == h and start == window_start:
                _SLOT.pack_into(self._mm, off, h, start, max(0, count + delta),
                                _SLOT.unpack_from(self._mm, off)[3])
        finally:
            self._leave(fd)

    # -- the table --------------------------------------------------------------------------------

    def _probe(self, h: int) -> tuple[int, int, int, int]:
        """(offset, slot hash, window start, count) of h's slot, or of the empty slot ending its
        probe sequence (the table is never full, so one exists)."""
        mm, mask, unpack = self._mm, self._mask, _SLOT.unpack_from
        i = h & mask
        while True:
            off = _HEADER_SIZE + (i << 5)
            slot_hash, start, count, _ = unpack(mm, off)
            if slot_hash == h or slot_hash == 0:
                return off, slot_hash, start, count
            i = (i + 1) & mask

    def _acquire_locked(self, items: Sequence[CounterItem], hashes: list[int]) -> int | None:
        mm, mask, unpack = self._mm, self._mask, _SLOT.unpack_from
        found: list[tuple[int, int, int]] = []  # (offset, window start, count in the item's window)
        missing = False
        for i, item in enumerate(items):
            h = hashes[i]
            j = h & mask
            while True:  # _probe, inlined: this loop is the hot path
                off = _HEADER_SIZE + (j << 5)
                slot_hash, start, count, _ = unpack(mm, off)
                if slot_hash == h or slot_hash == 0:
                    break
                j = (j + 1) & mask
            if slot_hash != h:
                missing = True
                start, count = item[1], 0
            elif start < item[1]:  # the counter's window is over: it restarts
                start, count = item[1], 0
            limit = item[3]
            if limit <= 0 or count + item[4] > limit:
                return i
            found.append((off, start, count))
        if missing:
            self._insert_locked(items, hashes)
            return None
        pack = _SLOT.pack_into
        for i, item in enumerate(items):
            off, start, count = found[i]
            pack(mm, off, hashes[i], start, count + item[4], item[2])
        return None

    def _insert_locked(self, items: Sequence[CounterItem], hashes: list[int]) -> None:
        """The commit when some counters are new: they need slots, perhaps an eviction first."""
        mm, pack = self._mm, _SLOT.pack_into
        used = _U64.unpack_from(mm, _USED_AT)[0]
        for i, item in enumerate(items):
            h = hashes[i]
            off, slot_hash, start, count = self._probe(h)  # again: earlier inserts move probe ends
            if slot_hash != h:
                if used >= self._max_used:
                    used = self._evict(max(it[1] for it in items), used)
                    if used >= self._max_used:
                        self._warn_full()
                        continue
                    off = self._probe(h)[0]
                used += 1
            if slot_hash == h and start >= item[1]:
                pack(mm, off, h, start, count + item[4], item[2])
            else:
                pack(mm, off, h, item[1], item[4], item[2])
        _U64.pack_into(mm, _USED_AT, used)

    def _evict(self, now: int, used: int) -> int:
        """Drop the slots whose window ended by `now`; returns the slots still used. Skipped until
        the earliest live window can have ended, so a full table is not rebuilt on every request."""
        mm = self._mm
        if now < _I64.unpack_from(mm, _EVICT_AT)[0]:
            return used
        end = _HEADER_SIZE + self._capacity * _SLOT_SIZE
        live = [s for s in _SLOT.iter_unpack(mm[_HEADER_SIZE:end]) if s[0] and s[1] + s[3] > now]
        mm[_HEADER_SIZE:end] = bytes(end - _HEADER_SIZE)
        for slot in live:
            off = self._probe(slot[0])[0]
            _SLOT.pack_into(mm, off, *slot)
        next_end = min((s[1] + s[3] for s in live), default=0)
        _I64.pack_into(mm, _EVICT_AT, next_end)
        _U64.pack_into(mm, _USED_AT, len(live))
        return len(live)

    def _warn_full(self) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.warning("rate-limit table full (%d slots): limits whose counters have no slot are not "
                        "enforced until windows end; raise the capacity", self._capacity)
