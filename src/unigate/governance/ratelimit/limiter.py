"""The facade the request path calls: `check` before the upstream call, `settle` after it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from unigate.errors import RateLimited
from unigate.governance.ratelimit.backend import CounterBackend, CounterItem
from unigate.governance.ratelimit.policy import SEP, applicable_limits, denial_message
from unigate.governance.ratelimit.spec import PERIOD_SECONDS, RateLimit

_SUFFIX = {(m, p): f"{SEP}{m}{SEP}{p}" for m in ("requests", "tokens") for p in PERIOD_SECONDS}


@dataclass(slots=True)
class Reservation:
    """What a granted check took from token counters, to be corrected by `settle` (or given back
    whole, request counters too, by `release`)."""

    endpoint: str
    tokens: list[tuple[str, int, int]] = field(default_factory=list)  # (counter key, window_start, reserved)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (counter key, window_start)
    settled: bool = False


@dataclass(slots=True)
class _Planned:
    reservation: Reservation
    items: list[CounterItem]
    applied: list[tuple[RateLimit, str]]
    now: float


class RateLimiter:
    def __init__(self, backend: CounterBackend) -> None:
        self.backend = backend
        # a network backend's awaitable calls (Redis), looked up once: None for a local one
        self._acquire_async = getattr(backend, "try_acquire_async", None)
        self._adjust_async = getattr(backend, "adjust_async", None)
        self._pending: set[asyncio.Task[None]] = set()  # adjustments sent to a network backend
        self._ordered: dict[int, tuple[Sequence[RateLimit], list[RateLimit]]] = {}

    def check(self, endpoint_name: str, limits: Sequence[RateLimit], principal_type: str, principal: str,
              groups: frozenset[str], tags: Mapping[str, str], estimated_tokens: int,
              now: float | None = None, target: str | None = None) -> Reservation:
        """Take one request (and `estimated_tokens`: input tokens + max_tokens) from every limit that
        applies, all or nothing. Raises RateLimited naming the limit, with Retry-After, when one
        has no room. Synchronous and fast (a local backend): call it from the event loop."""
        planned = self._plan(endpoint_name, limits, principal_type, principal, groups, tags,
                             estimated_tokens, now)
        if planned.items:
            self._verdict(planned, self.backend.try_acquire(planned.items), target)
        return planned.reservation

    async def acquire(self, endpoint_name: str, limits: Sequence[RateLimit], principal_type: str,
                      principal: str, groups: frozenset[str], tags: Mapping[str, str], estimated_tokens: int,
                      now: float | None = None, target: str | None = None) -> Reservation:
        """`check`, awaiting a network backend (Redis) when there is one."""
        planned = self._plan(endpoint_name, limits, principal_type, principal, groups, tags,
                             estimated_tokens, now)
        if planned.items:
            remote = self._acquire_async
            refused = await remote(planned.items) if remote else self.backend.try_acquire(planned.items)
            self._verdict(planned, refused, target)
        return planned.reservation

    def plan(self, endpoint_name: str, limits: Sequence[RateLimit], principal_type: str, principal: str,
             groups: frozenset[str], tags: Mapping[str, str], estimated_tokens: int,
             now: float | None = None) -> _Planned:
        """The counters `check` would take, for a caller that takes them with others of its own in
        one call (budgets, in one Redis round trip); `refuse` then raises what `check` would have."""
        return self._plan(endpoint_name, limits, principal_type, principal, groups, tags, estimated_tokens, now)

    @staticmethod
    def refuse(planned: _Planned, index: int, target: str | None = None) -> None:
        """Raise RateLimited for the planned counter `index` that had no room."""
        RateLimiter._verdict(planned, index, target)

    def _plan(self, endpoint_name: str, limits: Sequence[RateLimit], principal_type: str, principal: str,
              groups: frozenset[str], tags: Mapping[str, str], estimated_tokens: int,
              now: float | None) -> _Planned:
        """The counters a request takes from (none when no limit applies)."""
        reservation = Reservation(endpoint_name)
        planned = _Planned(reservation, [], [], 0.0)
        if not limits:
            return planned
        planned.now = now = time.time() if now is None else now
        applied = applicable_limits(self._hourly_first(limits), principal_type, principal, groups, tags)
        if not applied:
            return planned
        estimate = max(1, estimated_tokens)
        starts = {60: int(now // 60) * 60, 3600: int(now // 3600) * 3600}
        prefix = endpoint_name + SEP
        for lim, scope in applied:
            seconds = lim.window_seconds
            start = starts[seconds]
            key = prefix + scope + _SUFFIX[lim.measure, lim.renewal_period]
            if lim.measure == "requests":
                cost = 1
                reservation.requests.append((key, start))
            else:
                # An estimate above the whole limit reserves the whole limit (so the request can
                # pass when the window is untouched instead of never); settle charges the truth.
                cost = min(estimate, lim.amount) if lim.amount > 0 else estimate
                reservation.tokens.append((key, start, cost))
            planned.items.append((key, start, seconds, lim.amount, cost))
        planned.applied = applied
        return planned

    @staticmethod
    def _verdict(planned: _Planned, refused: int | None, target: str | None) -> None:
        if refused is None:
            return
        lim, scope = planned.applied[refused]
        _, start, seconds, _, _ = planned.items[refused]
        retry_after = max(1, math.ceil(start + seconds - planned.now))
        err = RateLimited(denial_message(planned.reservation.endpoint, lim, scope, target),
                          headers={"Retry-After": str(retry_after)})
        err.limit = (lim.key, lim.principal or "", lim.measure)  # for the refusals metric
        raise err

    def _hourly_first(self, limits: Sequence[RateLimit]) -> Sequence[RateLimit]:
        """The limits with hourly ones first, computed once per list (snapshots reuse their lists):
        when an hourly and a minute limit are both exhausted, the refusal names the hourly one and
        its later reset, rather than a Retry-After that is bound to fail again."""
        cached = self._ordered.get(id(limits))
        if cached is not None and cached[0] is limits:
            return cached[1]
        ordered = sorted(limits, key=lambda lim: -lim.window_seconds)
        if len(self._ordered) >= 4096:
            self._ordered.clear()
        self._ordered[id(limits)] = (limits, ordered)
        return ordered

    def settle(self, reservation: Reservation, actual_tokens: int | None) -> None:
        """Correct the token counters by (actual - reserved) in the windows the reservation was made
        in (a window that is over is left alone). None (usage unknown) keeps the estimate; pass 0
        for a request that consumed nothing upstream. Only the first call counts."""
        if reservation.settled:
            return
        reservation.settled = True
        if actual_tokens is None:
            return
        for key, start, reserved in reservation.tokens:
            delta = max(0, actual_tokens) - reserved
            if delta:
                self._adjust(key, start, delta)

    def release(self, reservation: Reservation) -> None:
        """Give back everything a granted check took, its request counts and its tokens: the
        request was refused after it (by a budget), as if the check had refused it. Settles it."""
        if reservation.settled:
            return
        reservation.settled = True
        for key, start in reservation.requests:
            self._adjust(key, start, -1)
        for key, start, reserved in reservation.tokens:
            self._adjust(key, start, -reserved)

    def _adjust(self, key: str, start: int, delta: int) -> None:
        remote = self._adjust_async
        if remote is None:
            self.backend.adjust(key, start, delta)
        else:  # a network backend: corrected in the background, the request is done
            task = asyncio.get_running_loop().create_task(remote(key, start, delta))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
