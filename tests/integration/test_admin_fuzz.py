"""The admin API fuzzed from its own OpenAPI document (GET /api/v1/openapi.json) with
schemathesis, against a real `unigate serve`: every operation gets generated requests, valid
and invalid, and every answer must be one the document describes (status, content type, body
schema), never a 5xx, never a traceback in the body or in the gateway's log.

Two passes: an administrator (every operation, destructive ones included: the gateway is this
module's own), then a plain user with a token of its own (fewer cases), whose every answer on
an operation for administrators or managers must be a refusal. Bounded and deterministic:
a fixed number of cases per operation, derandomised generation, a deadline per case."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.integration.gateway import ADMIN_TOKEN, Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import bearer, call

ADMIN_CASES, USER_CASES = 20, 6  # generated requests per operation, per pass
DEADLINE = timedelta(seconds=5)  # one case (its request and answer); far above a normal answer
TIMEOUT = 10.0  # seconds, one request
USER_EMAIL = "fuzz-user@example.com"
# The operations any signed-in principal may call about itself (their description says so).
FOR_EVERYONE = "every signed-in principal"
# What keeps the fuzzing run's own credentials usable: the administrator's token is the
# environment's (the API refuses to revoke it, 409); the plain user must keep its token and
# its user, so the admin pass leaves that one user alone.
PROTECTED = (USER_EMAIL,)


@dataclass
class Run:
    """What one pass did: cases sent, answers by status, failures by operation."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    without_invalid: int = 0  # operations for which no invalid request exists


def _get(url: str, token: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        return json.loads(r.read())


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def fuzzed(mock_url: str) -> Iterator[tuple[Gateway, str]]:
    """The gateway under fuzzing and a plain user's token."""
    gw = start_gateway(config_yaml(mock_url, refusing_port()), workers=2)
    try:
        _post(f"{gw.url}/api/v1/users", ADMIN_TOKEN, {"email": USER_EMAIL})
        token = _post(f"{gw.url}/api/v1/tokens", ADMIN_TOKEN, {"principal": USER_EMAIL})["token"]
        yield gw, token
    finally:
        gw.stop()


def _operations(gw: Gateway) -> list[APIOperation]:
    schema = schemathesis.openapi.from_dict(_get(f"{gw.url}/api/v1/openapi.json", ADMIN_TOKEN))
    schema.config.update(base_url=gw.url)
    # Unknown query parameters are ignored by design (as most HTTP APIs do); unknown body
    # fields are refused where the document says additionalProperties: false.
    # The token is the run's own (not generated): invalid data goes into paths, queries and
    # bodies, where it reaches the handlers (test_admin_authz covers missing and bad tokens).
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    return [result.ok() for result in schema.get_all_operations()]


def _touches_protected(case: Case) -> bool:
    text = json.dumps([case.path_parameters, case.query, case.body], default=str)
    return any(name in text for name in PROTECTED)


def _fuzz(operations: list[APIOperation], token: str, cases: int,
          also: Callable[[Case, requests.Response], None] | None = None) -> Run:
    run = Run()
    headers = {"Authorization": f"Bearer {token}"}
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @given(operation.as_strategy(mode))
                @settings(max_examples=cases, derandomize=True, deadline=DEADLINE, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                def one(case: Case) -> None:
                    if _touches_protected(case):
                        return
                    run.cases += 1
                    response = case.call(session=session, headers=headers, timeout=TIMEOUT)
                    run.statuses[response.status_code] += 1
                    text = response.text
                    assert "Traceback" not in text and 'File "' not in text, text[:2000]
                    # All checks but "every schema-valid request is accepted": the document cannot
                    # say that a destination must name an existing provider, or that a PUT's
                    # body must name the object its path names; those 400s are the API's job.
                    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
                    if also is not None:
                        also(case, response)

                try:
                    one()
                except Unsatisfiable:  # nothing sent can be invalid (a path of any string): no negative cases
                    run.without_invalid += 1
                except (Exception, BaseExceptionGroup) as e:  # collected, all reported at the end
                    run.failures[f"{operation.label} ({mode.value})"] = str(e)[:3000]
    return run


def _report(name: str, operations: list[APIOperation], run: Run) -> str:
    return (f"{name}: {len(operations)} operations ({run.without_invalid} without invalid input), {run.cases} cases, "
            f"statuses {dict(sorted(run.statuses.items()))}, "
            f"{len(run.failures)} failing:\n" + "\n\n".join(f"== {k}\n{v}" for k, v in run.failures.items()))


def test_every_operation_as_an_administrator(fuzzed: tuple[Gateway, str]) -> None:
    gw, _ = fuzzed
    operations = _operations(gw)
    started = time.monotonic()
    run = _fuzz(operations, ADMIN_TOKEN, ADMIN_CASES)
    print(_report("administrator", operations, run), f"in {time.monotonic() - started:.1f}s")
    assert not run.failures, _report("administrator", operations, run)
    assert _get(f"{gw.url}/api/v1/me", ADMIN_TOKEN)["is_admin"]  # the run left its own credentials working


def test_every_operation_as_a_plain_user(fuzzed: tuple[Gateway, str]) -> None:
    gw, token = fuzzed
    operations = _operations(gw)

    def refused_unless_for_everyone(case: Case, response: requests.Response) -> None:
        if FOR_EVERYONE not in (case.operation.definition.raw.get("description") or ""):
            assert response.status_code in (401, 403, 404), (
                f"{case.method} {case.formatted_path}: a plain user got {response.status_code}: {response.text[:500]}")

    started = time.monotonic()
    run = _fuzz(operations, token, USER_CASES, refused_unless_for_everyone)
    print(_report("plain user", operations, run), f"in {time.monotonic() - started:.1f}s")
    assert not run.failures, _report("plain user", operations, run)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/providers", {"name": "h1", "type": "openai", "headers": {"x-team": None}}),  # was stored as "None"
    ("POST", "/providers", {"name": "h2", "type": "openai", "headers": {"x-team": "a\r\nx-evil: 1"}}),
    ("POST", "/apply", {"providers": [{"name": "h3", "type": "openai", "headers": {"x": "a\nb"}}], "dry_run": True}),
    ("GET", "/tokens?include_revoked=maybe", None),  # was read as false
    ("GET", "/audit?offset=1&offset=2", None),  # was the first of them
    ("GET", "/usage?format=", None),  # was JSON
    ("GET", "/usage/aggregate?group_by=all&bucket=", None),  # was no bucket
    ("GET", "/usage/aggregate?group_by=all&limit=", None),  # was the default limit
    ("GET", "/usage?status=", None),  # was every status
    ("GET", "/usage?start=", None),  # was no start
    ("GET", "/usage/aggregate?group_by=all&end=", None),  # was no end
    # NUL in any string of a body: PostgreSQL cannot store it (was a 500 there)
    ("POST", "/service-principals", {"display_name": "a\u0000b"}),
    ("POST", "/tokens", {"principal": "x\u0000y"}),
    ("POST", "/users", {"email": "n@example.com", "display_name": "ok", "extra": {"k\u0000": 1}}),
])
def test_what_the_fuzzer_found_stays_refused(fuzzed: tuple[Gateway, str], method: str, path: str,
                                             body: dict[str, Any] | None) -> None:
    reply = call(method, f"{fuzzed[0].url}/api/v1{path}", body, bearer(ADMIN_TOKEN))
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["field"], reply.body  # the error names what is wrong


def test_the_gateway_logged_no_traceback(fuzzed: tuple[Gateway, str]) -> None:
    """After everything above (tests run in file order): no handler failed unseen behind a 4xx."""
    log = fuzzed[0].log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-4000:]

