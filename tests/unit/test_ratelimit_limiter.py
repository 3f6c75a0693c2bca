"""Which limits apply and what a denial says, on both backends, with an injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from unigate.errors import RateLimited
from unigate.governance.ratelimit import (
    CounterBackend,
    LocalBackend,
    RateLimiter,
    Reservation,
    SharedMemoryBackend,
    parse_rate_limits,
)

T0 = 1_700_000_040.0  # 0 s into a minute (1_700_000_040 = 28_333_334 * 60)
NO_GROUPS: frozenset[str] = frozenset()


@pytest.fixture(params=["local", "shared_memory"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    backend: CounterBackend
    if request.param == "local":
        backend = LocalBackend()
        yield RateLimiter(backend)
    else:
        shm = SharedMemoryBackend(capacity=256)
        yield RateLimiter(shm)
        shm.close()


def limits(*entries: dict[str, Any]) -> list:
    return parse_rate_limits([{"renewal_period": "minute", **e} for e in entries], "rate_limits")


def passes(limiter: RateLimiter, lims: list, who: str = "a@b.c", ptype: str = "user",
           groups: frozenset[str] = NO_GROUPS, tags: dict[str, str] | None = None, tokens: int = 10,
           now: float = T0, endpoint: str = "ep") -> bool:
    try:
        limiter.check(endpoint, lims, ptype, who, groups, tags or {}, tokens, now)
    except RateLimited:
        return False
    return True


def count_passing(limiter: RateLimiter, lims: list, attempts: int = 20, **kw: Any) -> int:
    return sum(passes(limiter, lims, **kw) for _ in range(attempts))


def test_no_limits_reserve_nothing(limiter: RateLimiter) -> None:
    r = limiter.check("ep", [], "user", "a", NO_GROUPS, {}, 100, T0)
    assert r.tokens == []
    limiter.settle(r, 5)


def test_endpoint_limit_is_shared_by_everyone(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "requests": 3})
    assert [passes(limiter, lims, who=w) for w in ("a", "b", "c", "d")] == [True, True, True, False]
    assert passes(limiter, lims, who="e", endpoint="other")  # counters are per endpoint


def test_denial_names_the_limit_and_retry_after(limiter: RateLimiter) -> None:
    lims = limits({"key": "user", "principal": "a@b.c", "requests": 5})
    for _ in range(5):
        limiter.check("x", lims, "user", "a@b.c", NO_GROUPS, {}, 1, T0 + 15.2)
    with pytest.raises(RateLimited) as e:
        limiter.check("x", lims, "user", "a@b.c", NO_GROUPS, {}, 1, T0 + 15.2)
    assert e.value.message == "rate limit exceeded: user 'a@b.c' may send 5 requests per minute on endpoint 'x'"
    assert e.value.headers == {"Retry-After": "45"}
    assert e.value.status == 429
    with pytest.raises(RateLimited) as e:
        limiter.check("x", lims, "user", "a@b.c", NO_GROUPS, {}, 1, T0 + 59.99)
    assert e.value.headers == {"Retry-After": "1"}  # never 0


def test_zero_denies_all(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "requests": 0})
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 0, T0)
    assert "accepts 0 requests per minute" in e.value.message
    assert not passes(limiter, limits({"key": "endpoint", "tokens": 0}), tokens=0)


def test_user_and_service_principal_limits_apply_to_that_principal_only(limiter: RateLimiter) -> None:
    lims = limits({"key": "user", "principal": "a@b.c", "requests": 2},
                  {"key": "service_principal", "principal": "app-1", "requests": 1})
    assert count_passing(limiter, lims, who="a@b.c") == 2
    assert count_passing(limiter, lims, who="app-1", ptype="service_principal") == 1
    assert count_passing(limiter, lims, who="someone@else") == 20
    # a service principal named like the user is another principal
    assert count_passing(limiter, lims, who="a@b.c", ptype="service_principal") == 20


def test_user_default_is_per_user_and_yields_to_a_user_limit(limiter: RateLimiter) -> None:
    lims = limits({"key": "user_default", "requests": 2}, {"key": "user", "principal": "vip", "requests": 5})
    assert count_passing(limiter, lims, who="a") == 2
    assert count_passing(limiter, lims, who="b") == 2  # each user has their own default allowance
    assert count_passing(limiter, lims, who="app", ptype="service_principal") == 2
    assert count_passing(limiter, lims, who="vip") == 5  # the specific limit replaces the default


def test_user_limit_overrides_the_default_only_for_its_measure_and_period(limiter: RateLimiter) -> None:
    lims = limits({"key": "user_default", "tokens": 100}, {"key": "user", "principal": "vip", "requests": 50})
    assert count_passing(limiter, lims, who="vip", tokens=30) == 3  # the default token limit still holds


def test_group_limit_is_shared_by_its_members(limiter: RateLimiter) -> None:
    lims = limits({"key": "group", "principal": "team", "requests": 3}, {"key": "user_default", "requests": 100})
    team = frozenset({"team"})
    assert [passes(limiter, lims, who=w, groups=team) for w in ("a", "b", "c", "d")] == [True] * 3 + [False]
    assert count_passing(limiter, lims, who="outsider") == 20  # default applies, not the group's


def test_group_limit_replaces_default_and_user_limit_replaces_group(limiter: RateLimiter) -> None:
    lims = limits({"key": "group", "principal": "team", "requests": 10}, {"key": "user_default", "requests": 1},
                  {"key": "user", "principal": "lead", "requests": 2})
    team = frozenset({"team"})
    assert count_passing(limiter, lims, who="member", groups=team) == 10
    assert count_passing(limiter, lims, who="lead", groups=team) == 2
    assert not passes(limiter, lims, who="member2", groups=team)  # the lead did not use the group's


def test_several_groups_strictest_wins(limiter: RateLimiter) -> None:
    lims = limits({"key": "group", "principal": "big", "requests": 10},
                  {"key": "group", "principal": "small", "requests": 2})
    assert count_passing(limiter, lims, groups=frozenset({"big", "small"})) == 2
    assert count_passing(limiter, lims, who="b", groups=frozenset({"big"})) == 8  # 2 went to big too


def test_strictest_of_endpoint_and_user_wins(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "requests": 3}, {"key": "user_default", "requests": 5})
    assert count_passing(limiter, lims, who="a") == 3
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "b", NO_GROUPS, {}, 1, T0)
    assert "endpoint 'ep' accepts 3 requests per minute" in e.value.message


def test_refusal_takes_nothing_from_the_other_limits(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "requests": 5}, {"key": "user", "principal": "a", "requests": 1})
    assert count_passing(limiter, lims, who="a") == 1  # 19 refusals by the user limit...
    assert count_passing(limiter, lims, who="b") == 4  # ...took nothing from the endpoint's 5


def test_request_tag_value_and_per_value_limits(limiter: RateLimiter) -> None:
    lims = limits({"key": "request_tag", "principal": "team=search", "requests": 2},
                  {"key": "request_tag", "principal": "project", "requests": 3})
    assert count_passing(limiter, lims, tags={"team": "search"}) == 2
    assert count_passing(limiter, lims, tags={"team": "ads"}) == 20
    assert count_passing(limiter, lims, tags={"project": "p1"}) == 3
    assert count_passing(limiter, lims, tags={"project": "p2"}) == 3  # a counter per value
    assert count_passing(limiter, lims) == 20  # untagged requests are not limited by tag limits
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "a", NO_GROUPS, {"project": "p1"}, 1, T0)
    assert e.value.message == ("rate limit exceeded: requests tagged project=p1 may send 3 requests per minute "
                               "on endpoint 'ep' (a limit per value of tag 'project')")


def test_messages_for_each_key(limiter: RateLimiter) -> None:
    cases = [
        ({"key": "service_principal", "principal": "app"}, "service_principal", "app", NO_GROUPS, {},
         "service principal 'app' may send 0 requests per minute on endpoint 'ep'"),
        ({"key": "group", "principal": "g"}, "user", "u", frozenset({"g"}), {},
         "group 'g' may send 0 requests per minute on endpoint 'ep', shared by all its members"),
        ({"key": "user_default"}, "user", "first_last@x", NO_GROUPS, {},
         "user 'first_last@x' may send 0 requests per minute on endpoint 'ep' (the endpoint's default per-user "
         "limit)"),
        ({"key": "request_tag", "principal": "t=v"}, "user", "u", NO_GROUPS, {"t": "v"},
         "requests tagged t=v may send 0 requests per minute on endpoint 'ep'"),
    ]
    for entry, ptype, who, groups, tags, text in cases:
        with pytest.raises(RateLimited) as e:
            limiter.check("ep", limits({**entry, "requests": 0}), ptype, who, groups, tags, 1, T0)
        assert e.value.message == f"rate limit exceeded: {text}"


def test_token_limit_reserves_the_estimate_and_settles_on_usage(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "tokens": 1000})
    r1 = limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 600, T0)
    assert not passes(limiter, lims, tokens=600)  # 600 reserved + 600 > 1000
    limiter.settle(r1, 100)  # the call really used 100: 900 free again
    r2 = limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 900, T0)
    assert not passes(limiter, lims, tokens=1)
    limiter.settle(r2, 950)  # more than estimated: 1050 used
    limiter.settle(r2, 0)  # a second settle is ignored
    assert not passes(limiter, lims, tokens=1)
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 1, T0)
    assert "accepts 1000 tokens per minute" in e.value.message
    assert passes(limiter, lims, tokens=1000, now=T0 + 60)  # next window


def test_settle_none_keeps_estimate_and_zero_refunds(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "tokens": 100})
    limiter.settle(limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 60, T0), None)
    assert not passes(limiter, lims, tokens=60)
    limiter.settle(limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 40, T0), 0)
    assert passes(limiter, lims, tokens=40)


def test_settle_after_the_window_is_over_changes_nothing(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "tokens": 100})
    r = limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 100, T0 + 59)
    assert passes(limiter, lims, tokens=100, now=T0 + 60)  # new window, full allowance
    limiter.settle(r, 0)  # must not refund the new window
    assert not passes(limiter, lims, tokens=1, now=T0 + 61)


def test_estimate_above_the_whole_limit_passes_in_an_untouched_window(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "tokens": 1000})
    r = limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 64000, T0)
    assert r.tokens[0][2] == 1000
    assert not passes(limiter, lims, tokens=64000)
    limiter.settle(r, 300)
    assert passes(limiter, lims, tokens=700)


def test_window_rollover_minute_and_hour(limiter: RateLimiter) -> None:
    hour_start = 1_699_999_200.0  # a multiple of 3600
    lims = parse_rate_limits([{"key": "endpoint", "requests": 2, "renewal_period": "minute"},
                              {"key": "endpoint", "requests": 3, "renewal_period": "hour"}], "rate_limits")
    assert count_passing(limiter, lims, now=hour_start + 10) == 2
    assert count_passing(limiter, lims, now=hour_start + 59.9) == 0
    assert count_passing(limiter, lims, now=hour_start + 60) == 1  # the minute renewed, the hour has 1 left
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 1, hour_start + 120)
    assert "3 requests per hour" in e.value.message
    assert e.value.headers == {"Retry-After": str(3600 - 120)}
    assert count_passing(limiter, lims, now=hour_start + 3600) == 2


def test_hourly_limit_reported_when_both_are_exhausted(limiter: RateLimiter) -> None:
    lims = parse_rate_limits([{"key": "endpoint", "requests": 1, "renewal_period": "minute"},
                              {"key": "endpoint", "requests": 1, "renewal_period": "hour"}], "rate_limits")
    assert passes(limiter, lims)
    with pytest.raises(RateLimited) as e:
        limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 1, T0)
    assert "per hour" in e.value.message


def test_reservation_records_token_counters_only(limiter: RateLimiter) -> None:
    lims = limits({"key": "endpoint", "requests": 10}, {"key": "user_default", "tokens": 500})
    r = limiter.check("ep", lims, "user", "a", NO_GROUPS, {}, 50, T0)
    assert isinstance(r, Reservation) and len(r.tokens) == 1 and r.tokens[0][1:] == (int(T0), 50)


@pytest.mark.parametrize("entry, field", [
    ({"key": ["user_default"], "requests": 1, "renewal_period": "minute"}, "key"),
    ({"key": {"a": 1}, "requests": 1, "renewal_period": "minute"}, "key"),
    ({"key": "endpoint", "requests": 1, "renewal_period": ["minute"]}, "renewal_period"),
])
def test_a_key_or_period_of_the_wrong_type_is_a_spec_error_not_a_crash(entry: dict[str, Any], field: str) -> None:
    from unigate.governance.ratelimit.spec import RateLimitSpecError
    with pytest.raises(RateLimitSpecError) as err:
        parse_rate_limits([entry], "rate_limits")
    assert err.value.field == f"rate_limits[0].{field}"
