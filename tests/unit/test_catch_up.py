"""GatewayState.catch_up: a worker that meets a token it does not know checks the store once
more, sharing the check among the requests waiting and never more than once per interval."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from unigate.server import state as state_module
from unigate.server.state import CATCH_UP_INTERVAL, GatewayState


@dataclass
class _Snap:
    version: int


class _Worker:
    """The part of GatewayState catch_up uses, over a store whose version the test sets."""

    catch_up = GatewayState.catch_up
    _caught_up = GatewayState._caught_up

    def __init__(self) -> None:
        self.snap = _Snap(1)
        self.stored_version = 1
        self.checks = 0
        self._catching = None
        self._catching_since = self._caught_up_at = float("-inf")

    def _newer_snapshot(self) -> _Snap | None:  # in a thread, as the real one
        self.checks += 1
        time.sleep(0.02)  # the store's round trip
        return _Snap(self.stored_version) if self.stored_version != self.snap.version else None


def test_a_flood_of_unknown_tokens_checks_the_store_at_most_once_per_interval() -> None:
    w = _Worker()

    async def flood() -> list[bool]:
        async def one(delay: float) -> bool:
            await asyncio.sleep(delay)
            return await w.catch_up()  # type: ignore[no-any-return]
        return await asyncio.gather(*(one(i * 0.01) for i in range(60)))  # 60 misses over 0.6 s
    started = time.monotonic()
    results = asyncio.run(flood())
    took = time.monotonic() - started
    assert not any(results) and w.snap.version == 1
    assert w.checks <= took / CATCH_UP_INTERVAL + 2, (w.checks, took)


def test_a_token_issued_elsewhere_is_found_by_the_next_check() -> None:
    w = _Worker()

    async def run() -> tuple[bool, bool]:
        first = await w.catch_up()  # nothing new
        w.stored_version = 2  # another worker created a token: the store's version moved
        second = await w.catch_up()  # a miss after that: waits out the interval, then checks
        return first, second
    assert asyncio.run(run()) == (False, True)
    assert w.snap.version == 2 and w.checks == 2


def test_a_store_that_does_not_answer_leaves_the_answer_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    w = _Worker()
    w.stored_version = 2
    real = w._newer_snapshot
    monkeypatch.setattr(w, "_newer_snapshot", lambda: (time.sleep(0.3), real())[1])
    monkeypatch.setattr(state_module, "CATCH_UP_TIMEOUT", 0.05)
    assert asyncio.run(w.catch_up()) is False  # it gave up waiting: the 401 stands
