"""Where budget spend is counted: the seam between the budget policy and its storage.

A ledger keeps two numbers per counter (a budget in one period), in nano-dollars (integers, so
adding and comparing are exact and atomic everywhere):

* `committed`: what finished requests cost plus what the requests in flight reserved; a blocking
  budget admits a request only while `committed + its estimate <= limit`;
* `spent`: what finished requests cost; alerts and reads use it.

`reserve` checks and takes the reservations of all the counters one request needs atomically:
every one is taken, or (when one has no room) none. A counter that does not exist yet starts
from the item's seed (the usage table's spend for the period, computed off the request path);
with no seed known (< 0) nothing changes and the call says so, and the caller gets a seed and
asks again. `settle` replaces a reservation by the real cost. `LocalLedger` (one process) holds
the reference semantics; `SharedLedger` shares them between the workers of a host and
`RedisLedger` between instances."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

NANOS = 1_000_000_000  # per US dollar
NO_LIMIT = -1

# (key, expires_at, limit, cost, seed):
#   key         the counter: budget identity and period start; distinct within one call
#   expires_at  epoch seconds after which the counter may be forgotten (the period is over)
#   limit       nano-dollars a blocking budget may commit; NO_LIMIT for one that only alerts
#   cost        nano-dollars this request reserves (its estimated cost)
#   seed        what a missing counter starts from (committed = spent = seed); < 0: not known
ReserveItem = tuple[str, int, int, int, int]
# (key, reserved, actual): the reservation taken, and what the request really cost
SettleItem = tuple[str, int, int]

OK, REFUSED, UNSEEDED = "ok", "refused", "unseeded"


def to_nanos(usd: float) -> int:
    return round(usd * NANOS)


def to_usd(nanos: int) -> float:
    return nanos / NANOS


def has_room(committed: int, cost: int, limit: int) -> bool:
    """A blocking budget admits a request while its estimate fits; once the committed spend
    reaches the limit, nothing more (not even a request estimated at nothing)."""
    return limit < 0 or (committed < limit and committed + cost <= limit)


class Ledger(Protocol):
    # seeds older than this are not trusted to start a missing counter (None: always trusted):
    # a counter that disappears mid-period (a Redis restart) must restart from fresh figures
    seed_max_age: float | None

    def reserve(self, items: Sequence[ReserveItem]) -> tuple[str, int]:
        """(OK, -1) when every item was taken; (REFUSED, i) when item i has no room; (UNSEEDED, i)
        when item i's counter does not exist and its seed is not known. Only OK changes anything."""
        ...

    def settle(self, items: Sequence[SettleItem]) -> list[int | None]:
        """spent += actual, committed += actual - reserved (never below spent), for each counter that
        still exists; returns each one's spent after the change (None: the counter is gone)."""
        ...

    def read(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        """(committed, spent) of each counter, None where it does not exist."""
        ...


class LocalLedger:
    """Counters in a dict, for one process (tests, tools). The reference semantics."""

    seed_max_age: float | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # key -> [committed, spent, expires_at]

    def reserve(self, items: Sequence[ReserveItem]) -> tuple[str, int]:
        with self._lock:
            plan: list[tuple[str, int, int, int]] = []
            for i, (key, expires, limit, cost, seed) in enumerate(items):
                cur = self._counts.get(key)
                if cur is not None:
                    committed, spent = cur[0], cur[1]
                elif seed < 0:
                    return UNSEEDED, i
                else:
                    committed = spent = seed
                if not has_room(committed, cost, limit):
                    return REFUSED, i
                plan.append((key, committed + cost, spent, expires))
            if len(self._counts) > 10_000:
                now = time.time()
                self._counts = {k: v for k, v in self._counts.items() if v[2] > now}
            for key, committed, spent, expires in plan:
                self._counts[key] = [committed, spent, expires]
            return OK, -1

    def settle(self, items: Sequence[SettleItem]) -> list[int | None]:
        out: list[int | None] = []
        with self._lock:
            for key, reserved, actual in items:
                cur = self._counts.get(key)
                if cur is None:
                    out.append(None)
                    continue
                cur[1] += actual
                cur[0] = max(cur[1], cur[0] + actual - reserved)
                out.append(cur[1])
        return out

    def read(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        with self._lock:
            return [(c[0], c[1]) if (c := self._counts.get(k)) is not None else None for k in keys]
