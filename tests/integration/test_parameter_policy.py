"""The parameter policy end to end: advisory parameters dropped and context_management emulated
toward another provider, semantic ones refused in the client's dialect (or dropped where the
endpoint says so), every drop and emulation named in the response headers and the usage row,
nothing changed on the same-format path, and the policy set from the CLI."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.test_usage_api import usage

HEADER_DROPPED = "x-unigate-dropped-parameters"
HEADER_EMULATED = "x-unigate-emulated-parameters"
CONTEXT_MANAGEMENT = {"edits": [{"type": "clear_tool_uses_20250919",
                                 "trigger": {"type": "input_tokens", "value": 100000}}]}


def policy_config(mock: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
endpoints:
  - {{name: p-openai, destinations: [{{provider: openai-main, model: gpt-4.1}}]}}
  - {{name: p-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
  - name: p-anthropic-drop
    unsupported_parameters: drop
    destinations: [{{provider: claude, model: claude-haiku-4-5}}]
  - {{name: p-anthropic-cli, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(policy_config(mock_url))
    yield g
    g.stop()


def claude(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="unused", base_url=gw.base + "/anthropic", max_retries=0,
                               default_headers={"Authorization": f"Bearer {gw.token}"})


def gpt(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key=gw.token, base_url=gw.base + "/openai/v1", max_retries=0)


def mock_bodies(mock_url: str, nonce: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{mock_url}/_mock/requests", timeout=10) as r:
        records = json.load(r)
    return [r["body"] for r in records if nonce in json.dumps(r.get("body"))]


def usage_row(gw: Gateway, session: str) -> dict[str, Any]:
    """The one usage row of a session (rows are written in batches: wait, bounded)."""
    deadline = time.monotonic() + 10
    while True:
        rows = usage(gw, session=session).json()["rows"]
        if rows or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return dict(rows[0])
        time.sleep(0.2)


def header_list(headers: Any, name: str) -> list[str]:
    value = headers.get(name)
    return value.split(",") if value else []


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_a_claude_code_shaped_request_reaches_a_gpt_endpoint(gw: Gateway, mock_url: str, stream: bool) -> None:
    nonce, session = secrets.token_hex(6), secrets.token_hex(8)
    kwargs: dict[str, Any] = dict(
        model="p-openai", max_tokens=64, messages=[{"role": "user", "content": f"hello {nonce}"}],
        metadata={"user_id": "dev-1"}, extra_body={"context_management": CONTEXT_MANAGEMENT},
        extra_headers={"anthropic-beta": "context-management-2025-06-27", "x-unigate-session-id": session})
    if stream:
        with claude(gw).messages.with_streaming_response.create(stream=True, **kwargs) as r:
            headers = r.headers
            text = "".join(line for line in r.iter_lines())
        assert "MOCK-UPSTREAM-OK" in text
    else:
        raw = claude(gw).messages.with_raw_response.create(**kwargs)
        headers = raw.headers
        assert "MOCK-UPSTREAM-OK" in raw.parse().content[0].text  # type: ignore[union-attr]
    assert header_list(headers, HEADER_EMULATED) == ["context_management"]
    assert HEADER_DROPPED not in headers  # metadata.user_id has a counterpart: `user`
    (sent,) = mock_bodies(mock_url, nonce)
    assert "context_management" not in sent and "metadata" not in sent and sent["user"] == "dev-1"
    row = usage_row(gw, session)
    assert row["client_name"] == "anthropic-python" and row["client_version"] == anthropic.__version__
    assert row["dropped_parameters"] is None
    assert row["emulated_parameters"] == ["context_management"]
    assert row["status_code"] == 200 and row["streaming"] is stream


def test_a_semantic_parameter_is_refused_in_the_clients_dialect(gw: Gateway, mock_url: str) -> None:
    nonce = secrets.token_hex(6)
    with pytest.raises(openai.BadRequestError) as info:
        gpt(gw).chat.completions.create(model="p-anthropic", messages=[{"role": "user", "content": nonce}],
                                        logit_bias={"50256": -100})
    assert info.value.status_code == 400
    body: Any = info.value.body
    assert body["param"] == "logit_bias" and "logit_bias" in body["message"], body
    assert mock_bodies(mock_url, nonce) == []  # refused before the provider


def test_an_endpoint_that_drops_says_what_it_dropped(gw: Gateway, mock_url: str) -> None:
    nonce, session = secrets.token_hex(6), secrets.token_hex(8)
    raw = gpt(gw).chat.completions.with_raw_response.create(
        model="p-anthropic-drop", messages=[{"role": "user", "content": nonce}], logit_bias={"50256": -100},
        prompt_cache_key="repo-1", extra_headers={"x-unigate-session-id": session})
    assert raw.http_response.status_code == 200
    assert sorted(header_list(raw.headers, HEADER_DROPPED)) == ["logit_bias", "prompt_cache_key"]
    assert HEADER_EMULATED not in raw.headers
    (sent,) = mock_bodies(mock_url, nonce)
    assert "logit_bias" not in sent
    row = usage_row(gw, session)
    assert sorted(row["dropped_parameters"]) == ["logit_bias", "prompt_cache_key"]
    assert row["emulated_parameters"] is None and row["client_name"] == "openai-python"


def test_the_same_format_path_changes_nothing_and_reports_nothing(gw: Gateway, mock_url: str) -> None:
    nonce = secrets.token_hex(6)
    raw = gpt(gw).chat.completions.with_raw_response.create(
        model="p-openai", messages=[{"role": "user", "content": nonce}], user="dev-1",
        metadata={"team": "search"}, store=False)
    assert raw.http_response.status_code == 200
    assert HEADER_DROPPED not in raw.headers and HEADER_EMULATED not in raw.headers
    (sent,) = mock_bodies(mock_url, nonce)
    assert (sent["user"], sent["metadata"], sent["store"]) == ("dev-1", {"team": "search"}, False)


def cli(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args, "--url", gw.url, "--token", gw.token],
                          capture_output=True, text=True, timeout=60)


def test_the_policy_is_set_from_the_cli(gw: Gateway) -> None:
    shown = cli(gw, "endpoints", "parameters", "p-anthropic-cli")
    assert shown.returncode == 0 and "unsupported_parameters=refuse" in shown.stdout, shown
    changed = cli(gw, "endpoints", "parameters", "p-anthropic-cli", "--unsupported", "drop", "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {"name": "p-anthropic-cli", "unsupported_parameters": "drop"}
    assert "unsupported parameters: drop" in cli(gw, "endpoints", "get", "p-anthropic-cli").stdout
    bad = cli(gw, "endpoints", "parameters", "p-anthropic-cli", "--unsupported", "ignore")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr

    def ask() -> int:
        try:
            gpt(gw).chat.completions.create(model="p-anthropic-cli", messages=[{"role": "user", "content": "x"}],
                                            logit_bias={"50256": -100})
            return 200
        except openai.BadRequestError:
            return 400
    deadline = time.monotonic() + 5  # every worker picks the change up within a second or so
    while ask() != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(ask() == 200 for _ in range(4))  # both workers
