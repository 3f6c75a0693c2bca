"""The shared-memory backend: exact across forked processes and threads, bounded, fast."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator

import pytest

from unigate.errors import RateLimited
from unigate.governance.ratelimit import RateLimiter, SharedMemoryBackend, parse_rate_limits

WINDOW = 1_700_000_040  # a minute boundary
FORK = multiprocessing.get_context("fork")
LIMIT_50 = parse_rate_limits([{"key": "endpoint", "requests": 50, "renewal_period": "minute"}], "rate_limits")


@pytest.fixture
def backend() -> Iterator[SharedMemoryBackend]:
    b = SharedMemoryBackend(capacity=1024)
    yield b
    b.close()


def _attempts(backend: SharedMemoryBackend, n: int, start: threading.Barrier | None, proc_start: object) -> int:
    if proc_start is not None:
        proc_start.wait()  # type: ignore[attr-defined]
    if start is not None:
        start.wait()
    limiter = RateLimiter(backend)
    granted = 0
    for _ in range(n):
        try:
            limiter.check("ep", LIMIT_50, "user", f"u{os.getpid()}", frozenset(), {}, 1, WINDOW + 30.0)
            granted += 1
        except RateLimited:
            pass
    return granted


def _child(backend: SharedMemoryBackend, barrier: object, results: object, threads: int) -> None:
    granted = [0] * threads
    tbarrier = threading.Barrier(threads)

    def run(i: int) -> None:
        granted[i] = _attempts(backend, 50 // threads, tbarrier, None)

    barrier.wait()  # type: ignore[attr-defined]
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    results.put(sum(granted))  # type: ignore[attr-defined]


@pytest.mark.parametrize("threads", [1, 5])
def test_exact_across_forked_processes(backend: SharedMemoryBackend, threads: int) -> None:
    """4 processes x 50 concurrent attempts against 50/minute: exactly 50 granted in total."""
    barrier = FORK.Barrier(4)
    results = FORK.Queue()
    procs = [FORK.Process(target=_child, args=(backend, barrier, results, threads)) for _ in range(4)]
    for p in procs:
        p.start()
    granted = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sum(granted) == 50, granted
    with pytest.raises(RateLimited):
        RateLimiter(backend).check("ep", LIMIT_50, "user", "a", frozenset(), {}, 1, WINDOW + 59.0)


def test_exact_from_200_threads(backend: SharedMemoryBackend) -> None:
    limiter = RateLimiter(backend)
    barrier = threading.Barrier(200)
    granted: list[bool] = []

    def one() -> None:
        barrier.wait()
        try:
            limiter.check("ep", LIMIT_50, "user", "a", frozenset(), {}, 1, WINDOW + 1.0)
            granted.append(True)
        except RateLimited:
            pass

    ts = [threading.Thread(target=one) for _ in range(200)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(granted) == 50


def _settle_child(backend: SharedMemoryBackend) -> None:
    backend.adjust("k", WINDOW, -30)
    os._exit(0)


def test_adjust_is_seen_by_other_processes(backend: SharedMemoryBackend) -> None:
    assert backend.try_acquire([("k", WINDOW, 60, 100, 80)]) is None
    p = FORK.Process(target=_settle_child, args=(backend,))
    p.start()
    p.join(timeout=30)
    assert backend.try_acquire([("k", WINDOW, 60, 100, 50)]) is None  # 80 - 30 + 50 = 100
    assert backend.try_acquire([("k", WINDOW, 60, 100, 1)]) == 0


def _die_holding_the_lock(backend: SharedMemoryBackend) -> None:
    backend._enter()
    os._exit(1)  # killed inside the critical section, as by SIGKILL: no release


def test_a_worker_dying_inside_the_lock_does_not_wedge_the_others(backend: SharedMemoryBackend) -> None:
    p = FORK.Process(target=_die_holding_the_lock, args=(backend,))
    p.start()
    p.join(timeout=30)
    assert p.exitcode == 1
    done = threading.Event()

    def acquire() -> None:
        backend.try_acquire([("k", WINDOW, 60, 5, 1)])
        done.set()

    threading.Thread(target=acquire, daemon=True).start()
    assert done.wait(5)


def test_all_or_nothing(backend: SharedMemoryBackend) -> None:
    assert backend.try_acquire([("a", WINDOW, 60, 1, 1)]) is None
    assert backend.try_acquire([("b", WINDOW, 60, 5, 1), ("a", WINDOW, 60, 1, 1), ("c", WINDOW, 60, 5, 1)]) == 1
    assert backend.try_acquire([("b", WINDOW, 60, 1, 1), ("c", WINDOW, 60, 1, 1)]) is None  # b, c untouched
    assert backend.used() == 3


def test_a_counter_in_a_later_window_is_not_reset_by_a_late_request(backend: SharedMemoryBackend) -> None:
    assert backend.try_acquire([("k", WINDOW + 60, 60, 1, 1)]) is None
    assert backend.try_acquire([("k", WINDOW, 60, 1, 1)]) == 0  # raced the window change: still counted
    assert backend.try_acquire([("k", WINDOW + 120, 60, 1, 1)]) is None


def test_full_table_evicts_expired_windows_then_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    b = SharedMemoryBackend(capacity=16)  # 12 usable slots
    try:
        for i in range(12):
            assert b.try_acquire([(f"old{i}", WINDOW, 60, 1, 1)]) is None
        assert b.used() == 12
        assert b.try_acquire([("old0", WINDOW, 60, 1, 1)]) == 0  # existing keys still counted
        # the next minute: the old windows are over and get evicted to make room
        for i in range(12):
            assert b.try_acquire([(f"new{i}", WINDOW + 60, 60, 1, 1)]) is None
        assert b.used() == 12
        assert b.try_acquire([("new0", WINDOW + 60, 60, 1, 1)]) == 0
        # still the same minute and full: a 13th counter cannot be kept, so it is not enforced
        with caplog.at_level(logging.WARNING, logger="unigate.ratelimit"):
            assert b.try_acquire([("extra", WINDOW + 60, 60, 1, 1)]) is None
            assert b.try_acquire([("extra", WINDOW + 60, 60, 1, 1)]) is None
            assert b.try_acquire([("extra", WINDOW + 60, 60, 1, 1), ("new1", WINDOW + 60, 60, 1, 1)]) == 1
        assert "rate-limit table full" in caplog.text
        assert b.try_acquire([("extra", WINDOW + 120, 60, 1, 1)]) is None  # later: room again
        assert b.try_acquire([("extra", WINDOW + 120, 60, 1, 1)]) == 0
    finally:
        b.close()


def test_cost_per_check(backend: SharedMemoryBackend, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the cost of a typical check + settle; timings are not asserted."""
    limiter = RateLimiter(backend)
    lims = parse_rate_limits([{"key": "endpoint", "requests": 10**9, "renewal_period": "minute"},
                              {"key": "endpoint", "tokens": 10**12, "renewal_period": "minute"},
                              {"key": "user_default", "requests": 10**9, "renewal_period": "minute"},
                              {"key": "group", "principal": "g", "requests": 10**9, "renewal_period": "hour"}],
                             "rate_limits")
    groups = frozenset({"g", "h"})
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        limiter.check("ep", lims, "user", "a@b.c", groups, {}, 500, WINDOW + 1.0)
    check = (time.perf_counter() - t) / n
    r = limiter.check("ep", lims, "user", "a@b.c", groups, {}, 500, WINDOW + 1.0)
    t = time.perf_counter()
    for _ in range(n):
        r.settled = False
        limiter.settle(r, 300)
    settle = (time.perf_counter() - t) / n
    one = parse_rate_limits([{"key": "user_default", "requests": 10**9, "renewal_period": "minute"}], "r")
    t = time.perf_counter()
    for _ in range(n):
        limiter.check("ep", one, "user", "a@b.c", groups, {}, 500, WINDOW + 1.0)
    check1 = (time.perf_counter() - t) / n
    item = [("ep\x1fendpoint\x1frequests\x1fminute", WINDOW, 60, 10**9, 1)]
    t = time.perf_counter()
    for _ in range(n):
        backend.try_acquire(item)
    raw = (time.perf_counter() - t) / n
    with capsys.disabled():
        print(f"\nrate limiter: check (1 limit) {check1 * 1e6:.2f} us, check (4 limits) {check * 1e6:.2f} us, "
              f"settle (1 token counter) {settle * 1e6:.2f} us, "
              f"backend try_acquire (1 counter) {raw * 1e6:.2f} us")
