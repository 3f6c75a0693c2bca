"""Saying plainly what is missing: the start-up line per endpoint (key present, host resolves),
and the 502 of a provider without a key, which names the variable to set and is refused
before anything goes upstream; a fallback with a key still answers."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from tests.integration.clients import DRIVERS, OpenAIChatDriver
from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call

MISSING = "UNIGATE_TEST_ANTHROPIC_KEY_UNSET"  # never set: the example's `${ANTHROPIC_API_KEY:-}`
EMPTY = "UNIGATE_TEST_GEMINI_KEY_EMPTY"  # set, but to nothing


def config(mock: str) -> str:
    # The keyless providers point at paths of the mock no request should ever reach.
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: claude, type: anthropic, base_url: "{mock}/never-claude", api_key: "${{{MISSING}:-}}"}}
  - {{name: gem, type: gemini, base_url: "{mock}/never-gem", api_key: "${{{EMPTY}}}"}}
  - {{name: compat, type: openai_compatible, base_url: "{mock}/compat/v1"}}
  - {{name: by-header, type: openai, base_url: "{mock}/v1", headers: {{Authorization: Bearer sk-mock-openai}}}}
  - {{name: far, type: openai, base_url: "https://api.unigate-test.invalid/v1", api_key: sk-far-secret-9876}}
endpoints:
  - {{name: my-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: claude-sonnet, destinations: [{{provider: claude, model: claude-sonnet-4-5}}]}}
  - {{name: gemini-flash, destinations: [{{provider: gem, model: gemini-2.5-flash}}]}}
  - {{name: compat-chat, destinations: [{{provider: compat, model: llama-3.1-8b}}]}}
  - {{name: header-chat, destinations: [{{provider: by-header, model: gpt-4o-mini}}]}}
  - {{name: far-chat, destinations: [{{provider: far, model: gpt-4o-mini}}]}}
  - name: claude-then-openai
    destinations: [{{provider: claude, model: claude-haiku-4-5}}]
    fallbacks: [{{provider: gem, model: gemini-2.5-flash}}, {{provider: openai-main, model: gpt-4o-mini}}]
"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(config(mock_url), env={EMPTY: ""})
    yield g
    g.stop()


def readiness(gw: Gateway) -> dict[str, str]:
    """endpoint -> its start-up line (they come within the DNS check's 2 s)."""
    deadline = time.monotonic() + 10
    while True:
        lines = {ln.split(":")[0].removeprefix("endpoint "): ln for ln in gw.log().splitlines()
                 if ln.startswith("endpoint ")}
        if len(lines) >= 7 or time.monotonic() > deadline:
            return lines


def mock_requests(mock_url: str, path: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{mock_url}/_mock/requests?path_contains={path}") as r:
        return list(json.load(r))


def test_one_line_per_endpoint_says_whether_it_can_answer(gw: Gateway) -> None:
    lines = readiness(gw)
    assert lines["my-chat"] == "endpoint my-chat: ready (openai-main)"
    assert lines["claude-sonnet"] == (f"endpoint claude-sonnet: cannot answer: provider 'claude' has no key "
                                      f"({MISSING} is not set)")
    assert lines["gemini-flash"] == (f"endpoint gemini-flash: cannot answer: provider 'gem' has no key "
                                     f"({EMPTY} is empty)")
    assert lines["compat-chat"] == "endpoint compat-chat: ready (compat)"  # its type needs no key
    assert lines["header-chat"] == "endpoint header-chat: ready (by-header)"  # the key is a header
    assert lines["far-chat"] == ("endpoint far-chat: cannot answer: provider 'far': "
                                 "host api.unigate-test.invalid does not resolve")
    assert lines["claude-then-openai"].startswith("endpoint claude-then-openai: ready (openai-main); "
                                                  "not through claude, gem: ")
    log = gw.log()
    assert len([ln for ln in log.splitlines() if ln.startswith("endpoint my-chat:")]) == 1  # the supervisor's
    assert "sk-far-secret-9876" not in log and "sk-mock-openai" not in log


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.name)
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_a_provider_without_a_key_is_a_502_naming_the_variable(gw: Gateway, mock_url: str, driver: Any,
                                                                stream: bool) -> None:
    client = driver(gw.base, gw.token)
    with pytest.raises((openai.APIStatusError, anthropic.APIStatusError, genai_errors.APIError)) as caught:
        client.ask("claude-sonnet", "hi", stream, False)
    err = caught.value
    status = getattr(err, "status_code", None) or getattr(err, "code", None)
    assert status == 502
    message = str(err)
    assert f"provider 'claude' has no key ({MISSING} is not set)" in message
    assert f"set {MISSING} where the gateway runs" in message
    assert mock_requests(mock_url, "never-claude") == []  # refused before the upstream call


def test_the_502_has_each_dialects_error_shape(gw: Gateway) -> None:
    body = {"model": "gemini-flash", "messages": [{"role": "user", "content": "hi"}]}
    r = call("POST", f"{gw.base}/mlflow/v1/chat/completions", body, bearer(gw.token))
    assert r.status == 502 and r.json()["error"]["code"] == "provider_key_missing"
    assert f"provider 'gem' has no key ({EMPTY} is empty)" in r.json()["error"]["message"]
    r = call("POST", f"{gw.base}/anthropic/v1/messages",
             {"model": "claude-sonnet", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
             bearer(gw.token))
    assert r.status == 502 and r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error"
    assert MISSING in r.json()["error"]["message"]
    r = call("POST", f"{gw.base}/gemini/v1beta/models/gemini-flash:generateContent",
             {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, bearer(gw.token))
    err = r.json()["error"]
    assert r.status == 502 and err["code"] == 502 and isinstance(err["status"], str) and EMPTY in err["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_fallbacks_go_past_providers_without_a_key(gw: Gateway, mock_url: str, stream: bool) -> None:
    answer = OpenAIChatDriver(gw.base, gw.token).ask("claude-then-openai", "hi", stream, False)
    assert answer.text
    assert mock_requests(mock_url, "never-") == []


def test_providers_that_need_no_key_are_not_refused(gw: Gateway) -> None:
    for endpoint in ("compat-chat", "header-chat"):
        assert OpenAIChatDriver(gw.base, gw.token).ask(endpoint, "hi", False, False).text


def test_a_provider_made_through_the_admin_api_without_a_key(gw: Gateway, mock_url: str) -> None:
    admin = {**bearer(gw.token)}
    r = call("POST", f"{gw.url}/api/v1/providers",
             {"name": "api-claude", "type": "anthropic", "base_url": f"{mock_url}/never-api"}, admin)
    assert r.status == 201, r.body
    r = call("POST", f"{gw.url}/api/v1/endpoints",
             {"name": "api-ep", "destinations": [{"provider": "api-claude", "model": "claude-haiku-4-5"}]}, admin)
    assert r.status == 201, r.body
    body = {"model": "api-ep", "messages": [{"role": "user", "content": "hi"}]}
    deadline = time.monotonic() + 5
    while True:  # the change reaches every worker within a second
        r = call("POST", f"{gw.base}/mlflow/v1/chat/completions", body, bearer(gw.token))
        if r.status == 502 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 502, r.body
    assert r.json()["error"]["message"] == ("provider 'api-claude' has no key (its api_key is empty): give it one "
                                            "(PUT /api/v1/providers/api-claude, or the configuration file)")
    r = call("PUT", f"{gw.url}/api/v1/providers/api-claude",
             {"type": "anthropic", "base_url": mock_url, "api_key": "sk-ant-mock"}, admin)
    assert r.status == 200, r.body
    deadline = time.monotonic() + 5
    while True:  # with a key it answers
        r = call("POST", f"{gw.base}/mlflow/v1/chat/completions", body, bearer(gw.token))
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == 200, r.body
    assert mock_requests(mock_url, "never-api") == []
