"""Budget periods: UTC calendar days and months, as [start, end) in epoch seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

DAY = 86_400


def period_bounds(period: str, now: float) -> tuple[int, int]:
    """[start, end) of the UTC day or month holding `now`."""
    if period == "daily":
        start = int(now // DAY) * DAY
        return start, start + DAY
    moment = datetime.fromtimestamp(now, UTC)
    first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    following = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    return int(first.timestamp()), int(following.timestamp())


def retry_after(end: int, now: float) -> int:
    """Seconds until the period ends (the budget resets), at least 1."""
    return max(1, math.ceil(end - now))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PeriodClock:
    """The current day's and month's bounds, recomputed only when `now` leaves them (the
    request path asks for them on every request that has a budget)."""

    __slots__ = ("_bounds",)

    def __init__(self) -> None:
        self._bounds: dict[str, tuple[int, int]] = {}

    def bounds(self, period: str, now: float) -> tuple[int, int]:
        b = self._bounds.get(period)
        if b is None or not b[0] <= now < b[1]:
            b = self._bounds[period] = period_bounds(period, now)
        return b
