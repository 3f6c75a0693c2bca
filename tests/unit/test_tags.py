"""Request tags from the Unigate-Request-Tags / Databricks-Ai-Gateway-Request-Tags header."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from unigate.errors import InvalidRequest
from unigate.governance.tags import MAX_TAGS, parse_request_tags


def test_no_header_means_no_tags() -> None:
    assert parse_request_tags({}) is None
    assert parse_request_tags(CIMultiDict({"Content-Type": "application/json"})) is None


def test_string_tags_are_read_from_either_header_case_insensitively() -> None:
    assert parse_request_tags(CIMultiDict({"unigate-request-tags": '{"team": "search"}'})) == {"team": "search"}
    headers = CIMultiDict({"Databricks-AI-Gateway-Request-Tags": '{"app": "bot", "env": "prod"}'})
    assert parse_request_tags(headers) == {"app": "bot", "env": "prod"}


def test_unigate_header_wins_over_the_databricks_one() -> None:
    headers = CIMultiDict({"Databricks-Ai-Gateway-Request-Tags": '{"a": "db"}',
                           "Unigate-Request-Tags": '{"a": "ug"}'})
    assert parse_request_tags(headers) == {"a": "ug"}


def test_numbers_and_booleans_become_their_json_text() -> None:
    tags = parse_request_tags({"Unigate-Request-Tags": '{"build": 42, "ratio": 1.5, "beta": true}'})
    assert tags == {"build": "42", "ratio": "1.5", "beta": "true"}


def test_an_empty_object_is_no_tags_but_valid() -> None:
    assert parse_request_tags({"Unigate-Request-Tags": "{}"}) == {}


@pytest.mark.parametrize(("raw", "says"), [
    ("{team: x}", "not valid JSON"),
    ("", "not valid JSON"),
    ('["team", "x"]', "must be a JSON object"),
    ('"team=x"', "must be a JSON object"),
    ('{"team": null}', "tag 'team' must be a string"),
    ('{"team": ["a"]}', "got an array"),
    ('{"team": {"a": "b"}}', "got an object"),
    ('{"": "x"}', "tag names must have"),
    ('{"k": "' + "v" * 300 + '"}', "longer than 256"),
])
def test_invalid_tags_are_refused_naming_the_header(raw: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request_tags({"Unigate-Request-Tags": raw})
    assert says in info.value.message
    assert info.value.param == "Unigate-Request-Tags"
    assert info.value.status == 400


def test_too_many_tags_are_refused() -> None:
    raw = "{" + ", ".join(f'"k{i}": "v"' for i in range(MAX_TAGS + 1)) + "}"
    with pytest.raises(InvalidRequest, match="at most"):
        parse_request_tags({"Unigate-Request-Tags": raw})


def test_the_databricks_header_is_named_in_its_errors() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request_tags({"Databricks-Ai-Gateway-Request-Tags": "nope"})
    assert info.value.param == "Databricks-Ai-Gateway-Request-Tags"
