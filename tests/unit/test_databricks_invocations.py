"""The pure parts of Databricks querying (src/unigate/server/databricks/invocations.py,
errors.py): extra_params sent as strings, json_schema formats without a name, and the status and
error_code a refusal gets so that databricks-sdk raises or waits as it does against Databricks."""

from __future__ import annotations

from typing import Any

import pytest

from unigate.errors import (
    BudgetExceeded,
    CredentialsRefused,
    GatewayError,
    ProviderKeyMissing,
    RateLimited,
    UpstreamError,
    UpstreamUnreachable,
)
from unigate.server.databricks.errors import databricks_error, databricks_error_body, databricks_status
from unigate.server.databricks.invocations import as_provider_request, name_json_schema, typed


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("top_p", "0.5", 0.5), ("temperature", " 1 ", 1.0), ("max_tokens", "20", 20), ("seed", "-3", -3),
    ("dimensions", "256", 256), ("logprobs", "true", True), ("parallel_tool_calls", "False", False),
])
def test_string_extra_params_take_their_parameters_type(key: str, value: str, expected: Any) -> None:
    got = typed(key, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("key", "value"), [
    ("top_p", "high"), ("top_p", "nan"), ("temperature", "inf"), ("max_tokens", "2.5"), ("logprobs", "yes"),
    ("user", "42"), ("stop", "10"),  # strings by nature, or not listed: left alone
    ("top_p", 0.5), ("max_tokens", None), ("logprobs", 1),  # not strings: left alone
])
def test_other_extra_params_stay_as_they_are(key: str, value: Any) -> None:
    assert typed(key, value) is value


def test_extra_params_are_typed_when_merged_and_the_request_wins() -> None:
    body = {"messages": [], "top_p": 0.9, "extra_params": {"top_p": "0.1", "top_k": "5", "user": "7"}}
    assert as_provider_request(body, "ep") == {"messages": [], "top_p": 0.9, "top_k": 5, "user": "7",
                                               "model": "ep"}


def json_schema(spec: dict[str, Any]) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": spec}}


@pytest.mark.parametrize(("spec", "name"), [
    ({"strict": True, "schema": {"title": "Answer", "type": "object"}}, "Answer"),  # ChatDatabricks, pydantic
    ({"schema": {"title": "an answer", "type": "object"}}, "response"),  # not a valid OpenAI name
    ({"schema": {"type": "object"}}, "response"),
])
def test_a_json_schema_without_a_name_gets_one(spec: dict[str, Any], name: str) -> None:
    body = json_schema(spec)
    assert name_json_schema(body) is True
    assert body["response_format"]["json_schema"] == {**spec, "name": name}


@pytest.mark.parametrize("body", [
    json_schema({"name": "given", "schema": {"title": "Other"}}), {"response_format": {"type": "json_object"}},
    {"messages": []}, {"response_format": "json"}, json_schema("not an object"),  # type: ignore[arg-type]
])
def test_other_bodies_are_left_alone(body: dict[str, Any]) -> None:
    before = repr(body)
    assert name_json_schema(body) is False and repr(body) == before


def refusal(cls: type[GatewayError], retry_after: int) -> GatewayError:
    return cls("refused", headers={"Retry-After": str(retry_after)})


@pytest.mark.parametrize(("err", "status", "code"), [
    (refusal(RateLimited, 30), 429, "REQUEST_LIMIT_EXCEEDED"),  # per minute: the SDK waits, as at Databricks
    (refusal(RateLimited, 60), 429, "REQUEST_LIMIT_EXCEEDED"),
    (refusal(RateLimited, 3000), 403, "REQUEST_LIMIT_EXCEEDED"),  # hourly: raised at once
    (refusal(BudgetExceeded, 2_000_000), 403, "RESOURCE_EXHAUSTED"),
    (refusal(BudgetExceeded, 10), 403, "RESOURCE_EXHAUSTED"),  # a budget always
    (UpstreamError(429, "slow down", headers={"Retry-After": "600"}), 403, "REQUEST_LIMIT_EXCEEDED"),
    (UpstreamError(429, "slow down", headers={"Retry-After": "5"}), 429, "REQUEST_LIMIT_EXCEEDED"),
    (RateLimited("no header"), 429, "REQUEST_LIMIT_EXCEEDED"),
])
def test_refusals_that_cannot_clear_in_a_minute_are_403(err: GatewayError, status: int, code: str) -> None:
    assert databricks_status(err) == status
    response = databricks_error(err)
    assert response.status == status and response.headers.get("Retry-After") == err.headers.get("Retry-After")
    assert databricks_error_body(err)["error_code"] == code


def test_a_403_refusal_says_when_it_resets() -> None:
    message = databricks_error_body(refusal(RateLimited, 3000))["message"]
    assert message.startswith("refused; it resets in 3000 s, at 20") and message.endswith("Z")
    assert databricks_error_body(refusal(RateLimited, 30))["message"] == "refused"
    assert databricks_error_body(refusal(BudgetExceeded, 9000))["message"] == "refused"  # its own says when


@pytest.mark.parametrize(("err", "code"), [
    (ProviderKeyMissing("provider 'p' has no key"), "INTERNAL_ERROR"),
    (CredentialsRefused(502, "provider 'p' refused the gateway's credentials (401): bad key"), "INTERNAL_ERROR"),
    (UpstreamError(502, "bad gateway upstream"), "TEMPORARILY_UNAVAILABLE"),
    (UpstreamUnreachable("provider 'p' is unreachable"), "TEMPORARILY_UNAVAILABLE"),
])
def test_provider_failures_say_whether_a_retry_can_help(err: GatewayError, code: str) -> None:
    assert databricks_status(err) == 502 and databricks_error_body(err)["error_code"] == code
