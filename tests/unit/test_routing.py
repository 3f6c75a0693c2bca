"""Routing decisions: weighted choice, attempt order, passive health, which errors retry."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from unigate.accounting.clients import session_id
from unigate.config import Destination, EndpointConfig
from unigate.errors import (
    InvalidRequest,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from unigate.routing.health import Health
from unigate.routing.outcome import is_retryable, most_meaningful
from unigate.routing.plan import plan_attempts, weighted_pick

A = Destination("p1", "a", 70)
B = Destination("p2", "b", 30)
F1 = Destination("p3", "f1")
F2 = Destination("p4", "f2")


@pytest.mark.parametrize("weights", [(70, 30), (50, 25, 25), (1, 99), (34, 33, 33)])
def test_weighted_shares_within_two_points_over_10000_requests(weights: tuple[int, ...]) -> None:
    dests = [Destination(f"p{i}", "m", w) for i, w in enumerate(weights)]
    rng = random.Random(7)
    counts = Counter(weighted_pick(dests, rng.random()) for _ in range(10_000))
    for i, w in enumerate(weights):
        assert abs(counts[i] / 100 - w) <= 2, (weights, counts)


def test_zero_weight_is_never_chosen() -> None:
    dests = [Destination("p1", "a", 100), Destination("p2", "b", 0)]
    assert {weighted_pick(dests, x / 100) for x in range(100)} == {0}


def endpoint(**kw: object) -> EndpointConfig:
    return EndpointConfig("e", [A, B], [F1, F2], **kw)  # type: ignore[arg-type]


def test_plan_is_primary_then_fallbacks_in_order() -> None:
    plan = plan_attempts(endpoint(), Health())
    assert plan[0] in (A, B) and plan[1:] == [F1, F2]


def test_max_attempts_bounds_the_plan() -> None:
    assert len(plan_attempts(endpoint(max_attempts=2), Health())) == 2


def test_cooling_destinations_go_last_and_are_not_chosen_as_primary() -> None:
    health = Health(failures_to_cool=1, cool_down=60)
    health.failure(A)
    health.failure(F1)
    for _ in range(50):
        plan = plan_attempts(endpoint(), health)
        assert plan[0] == B and plan[1:] == [F2, F1]


def test_a_cooled_destination_is_tried_again_after_the_cool_down() -> None:
    health = Health(failures_to_cool=3, cool_down=10)
    for _ in range(3):
        health.failure(A, now=100.0)
    assert health.is_cooling(A, now=105.0) and not health.is_cooling(A, now=111.0)
    health.failure(A, now=111.0)  # the retry fails: cooling again at once
    assert health.is_cooling(A, now=112.0)
    health.success(A)
    assert not health.is_cooling(A, now=112.0)


def test_session_affinity_is_stable() -> None:
    health = Health()
    for s in ("s1", "s2", "s3", "s4"):
        assert len({plan_attempts(endpoint(), health, s)[0].provider for _ in range(20)}) == 1
    assert session_id({"x-claude-code-session-id": "abc"}) == "abc"
    assert session_id({"x-gemini-cli-session-id": "g"}) == "g"
    assert session_id({}) is None


def test_which_errors_retry() -> None:
    assert is_retryable(UpstreamError(429, "slow down"))
    assert is_retryable(UpstreamError(503, "x")) and is_retryable(UpstreamError(529, "x"))
    assert is_retryable(UpstreamUnreachable("x")) and is_retryable(UpstreamTimeout("x"))
    assert is_retryable(UpstreamBadResponse("x"))
    assert not is_retryable(UpstreamError(400, "bad")) and not is_retryable(UpstreamError(404, "x"))
    assert not is_retryable(InvalidRequest("x"))


def test_most_meaningful_keeps_429_with_the_longest_retry_after() -> None:
    errs = [UpstreamError(429, "a", headers={"Retry-After": "3"}), UpstreamError(503, "b"),
            UpstreamError(429, "c", headers={"Retry-After": "7"})]
    assert most_meaningful(errs).headers["Retry-After"] == "7"
    assert most_meaningful([UpstreamError(502, "a"), UpstreamTimeout("t")]).status == 504


def test_health_tells_of_its_changes_and_takes_another_workers_news() -> None:
    from unigate.config import Destination
    from unigate.routing.health import Health

    told: list[tuple[str, str, float]] = []
    h = Health(failures_to_cool=2, cool_down=30)
    h.on_change = lambda p, m, s: told.append((p, m, s))
    d = Destination("p", "m")
    h.success(d)  # healthy already: nothing to tell
    h.failure(d)
    assert told == [] and not h.is_cooling(d)
    h.failure(d)
    assert told == [("p", "m", 30)] and h.is_cooling(d)
    h.success(d)
    assert told[-1] == ("p", "m", 0.0) and not h.is_cooling(d)
    other = Destination("q", "m")
    h.apply("q", "m", 10)  # news from another worker are not told again
    assert h.is_cooling(other) and len(told) == 2
    h.apply("q", "m", 0)
    assert not h.is_cooling(other)
