"""Parsing the `rate_limits` list: good entries round-trip, bad ones name the field."""

from __future__ import annotations

import pytest

from unigate.governance.ratelimit import RateLimit, RateLimitSpecError, parse_rate_limits


def test_good_list_and_round_trip() -> None:
    raw = [{"key": "user_default", "requests": 60, "renewal_period": "minute"},
           {"key": "endpoint", "tokens": 100000, "renewal_period": "minute"},
           {"key": "user", "principal": "a@b.c", "requests": 5, "renewal_period": "hour"},
           {"key": "request_tag", "principal": "team=search", "tokens": 0, "renewal_period": "minute"}]
    limits = parse_rate_limits(raw, "rate_limits")
    assert limits[0] == RateLimit("user_default", None, "requests", 60, "minute")
    assert limits[2].window_seconds == 3600
    assert [lim.to_dict() for lim in limits] == raw
    assert parse_rate_limits(None, "x") == []


@pytest.mark.parametrize(("raw", "field", "words"), [
    ("nope", "endpoints[0].rate_limits", "must be a list"),
    (["x"], "endpoints[0].rate_limits[0]", "must be a mapping"),
    ([{"requests": 1, "renewal_period": "minute"}], "endpoints[0].rate_limits[0].key", "missing"),
    ([{"key": "team", "requests": 1, "renewal_period": "minute"}], "endpoints[0].rate_limits[0].key",
     "must be one of"),
    ([{"key": "user", "requests": 1, "renewal_period": "minute"}], "endpoints[0].rate_limits[0].principal",
     "missing"),
    ([{"key": "endpoint", "principal": "x", "requests": 1, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[0].principal", "not allowed"),
    ([{"key": "request_tag", "principal": "=x", "requests": 1, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[0].principal", "tag key"),
    ([{"key": "endpoint", "renewal_period": "minute"}], "endpoints[0].rate_limits[0].requests", "exactly one"),
    ([{"key": "endpoint", "requests": 1, "tokens": 2, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[0].requests", "exactly one"),
    ([{"key": "endpoint", "requests": -1, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[0].requests", "non-negative"),
    ([{"key": "endpoint", "tokens": True, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[0].tokens", "non-negative"),
    ([{"key": "endpoint", "requests": 1, "renewal_period": "minute"},
      {"key": "endpoint", "requests": 1, "renewal_period": "day"}],
     "endpoints[0].rate_limits[1].renewal_period", "must be minute or hour"),
    ([{"key": "endpoint", "requests": 1, "renewal_period": "minute", "calls": 3}],
     "endpoints[0].rate_limits[0].calls", "unknown field"),
    ([{"key": "endpoint", "requests": 1, "renewal_period": "minute"},
      {"key": "endpoint", "requests": 2, "renewal_period": "minute"}],
     "endpoints[0].rate_limits[1]", "duplicates endpoints[0].rate_limits[0]"),
])
def test_bad_entries_name_the_field(raw: object, field: str, words: str) -> None:
    with pytest.raises(RateLimitSpecError) as e:
        parse_rate_limits(raw, "endpoints[0].rate_limits")
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")
    assert words in str(e.value)
    assert isinstance(e.value, ValueError)


def test_requests_and_tokens_for_the_same_key_are_not_duplicates() -> None:
    raw = [{"key": "endpoint", "requests": 1, "renewal_period": "minute"},
           {"key": "endpoint", "tokens": 1, "renewal_period": "minute"},
           {"key": "endpoint", "requests": 10, "renewal_period": "hour"}]
    assert len(parse_rate_limits(raw, "rate_limits")) == 3
