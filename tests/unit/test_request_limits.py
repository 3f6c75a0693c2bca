"""The request-head limits as settings: the file's value, else the environment's, else the
default; a bad value is a configuration error naming where it came from."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from unigate.config import ConfigError
from unigate.server.http.limits import RequestLimits, parse_request_limits, request_limits


def test_defaults() -> None:
    assert parse_request_limits({}, environ={}) == RequestLimits(8192, 32768, 100)


def test_the_file_wins_over_the_environment_which_wins_over_the_default() -> None:
    env = {"UNIGATE_MAX_URL_BYTES": "4096", "UNIGATE_MAX_HEADERS": "50"}
    got = parse_request_limits({"max_url_bytes": 2048, "max_header_bytes": 65536}, environ=env)
    assert got == RequestLimits(max_url_bytes=2048, max_header_bytes=65536, max_headers=50)


@pytest.mark.parametrize(("settings", "env", "where"), [
    ({"max_headers": 0}, {}, "settings.max_headers"),
    ({"max_url_bytes": "8k"}, {}, "settings.max_url_bytes"),
    ({"max_header_bytes": True}, {}, "settings.max_header_bytes"),
    ({"max_header_bytes": 1 << 40}, {}, "settings.max_header_bytes"),
    ({}, {"UNIGATE_MAX_HEADERS": "many"}, "UNIGATE_MAX_HEADERS"),
    ({}, {"UNIGATE_MAX_URL_BYTES": "-1"}, "UNIGATE_MAX_URL_BYTES"),
])
def test_a_bad_value_is_a_configuration_error(settings: dict[str, object], env: dict[str, str], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        parse_request_limits(settings, environ=env)


def test_a_parser_reports_through_its_own_fail() -> None:
    said: list[str] = []

    def fail(where: str, message: str) -> None:
        said.append(where)
        raise ValueError(message)

    with pytest.raises(ValueError, match="whole number"):
        parse_request_limits({"max_headers": -5}, fail, environ={})
    assert said == ["settings.max_headers"]


def test_a_configuration_carrying_limits_gives_them() -> None:
    mine = RequestLimits(max_headers=7)
    assert request_limits(SimpleNamespace(request_limits=mine)) is mine
    assert isinstance(request_limits(SimpleNamespace()), RequestLimits)  # one without: env and defaults
