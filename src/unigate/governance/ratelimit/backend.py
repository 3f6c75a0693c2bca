"""Where the counters live: the seam between the rate-limit policy and its storage.

A backend keeps one counter per (key, fixed window) and does the check-and-increment of all the
counters one request needs atomically: all of them are incremented, or (when any one has no room)
none is. `SharedMemoryBackend` serves the worker processes of one host; a Redis backend for several
instances implements the same two calls (try_acquire is one Lua script over the items, adjust one
script too) and the limiter does not change.

The calls are synchronous and take microseconds (no I/O, no waiting beyond a lock held for
microseconds), so the request path calls them straight from the event loop. A network backend
would add awaitable twins of these two methods rather than block the loop."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

# (key, window_start, window_seconds, limit, cost):
#   key            opaque counter name (endpoint + limit identity + scope); distinct within one call
#   window_start   start of the fixed window, epoch seconds, a multiple of window_seconds
#   window_seconds 60 or 3600; the counter is forgotten once the window is over
#   limit          the most the counter may reach in the window; 0 (or less) refuses every cost
#   cost           what this request adds (1 for a request limit, the token estimate for a token limit)
CounterItem = tuple[str, int, int, int, int]


class CounterBackend(Protocol):
    def try_acquire(self, items: Sequence[CounterItem]) -> int | None:
        """Atomically: when every item has room (count in its window + cost <= limit, limit > 0),
        add each cost and return None; otherwise change nothing and return the index of the first
        item without room. A counter found in a later window than the item's is charged in that
        later window (a request whose clock read raced a window change is not let through free)."""
        ...

    def adjust(self, key: str, window_start: int, delta: int) -> None:
        """Add delta (may be negative; the count never drops below 0) to the counter when it is
        still in window `window_start`; when that window is over, do nothing."""
        ...


def has_room(count: int, cost: int, limit: int) -> bool:
    return limit > 0 and count + cost <= limit


class LocalBackend:
    """Counters in a dict, for one process (tests, tools, `--workers 1`). The reference semantics
    the other backends follow."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int]] = {}  # key -> (window_start, window_seconds, count)

    def try_acquire(self, items: Sequence[CounterItem]) -> int | None:
        with self._lock:
            plan: list[tuple[str, int, int, int]] = []
            for i, (key, start, seconds, limit, cost) in enumerate(items):
                current = self._counts.get(key)
                if current is not None and current[0] >= start:
                    start, count = current[0], current[2]
                else:
                    count = 0
                if not has_room(count, cost, limit):
                    return i
                plan.append((key, start, seconds, count + cost))
            if len(self._counts) > self.MAX_KEYS:  # forget finished windows now and then
                now = max(item[1] for item in items)
                self._counts = {k: v for k, v in self._counts.items() if v[0] + v[1] > now}
            for key, start, seconds, count in plan:
                self._counts[key] = (start, seconds, count)
            return None

    def adjust(self, key: str, window_start: int, delta: int) -> None:
        with self._lock:
            current = self._counts.get(key)
            if current is not None and current[0] == window_start:
                self._counts[key] = (window_start, current[1], max(0, current[2] + delta))
