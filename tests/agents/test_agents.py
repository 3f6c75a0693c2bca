"""The real coding agents, headless, through unigate, in front of the mock providers.

For each agent (Claude Code on /anthropic, Codex on /codex/v1 with wire_api "responses", Gemini
CLI on /gemini) and each provider type behind the endpoint:
  plain: a prompt; the agent prints the mock's text;
  read:  the mock calls the agent's file-reading tool on a temp file (tests/mocks/agent_script.py),
         the agent runs it, the result reaches the mock paired with its call, and the agent
         prints the mock's final text, which quotes the file's first line; where the provider
         signs its reasoning, the signed reasoning comes back with the tool result.
All runs start together in a thread pool (each bounded by AGENT_TIMEOUT); each test waits for
its own.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conftest import ENDPOINTS
from tests.agents.runner import RUNNERS, AgentRun
from tests.integration.gateway import Gateway
from tests.mocks.agent_script import SAID, UNPAIRED

AGENTS = ("claude", "codex", "gemini")
SURFACES = {"claude": "/anthropic", "codex": "/codex/v1", "gemini": "/gemini"}
# where a request of each provider type lands at the mock
PROVIDER_PATHS = {
    "anthropic": ("/v1/messages",),
    "openai": ("/v1/chat/completions", "/v1/responses"),
    "gemini": (":generateContent", ":streamGenerateContent"),
    "openai_compatible": ("/compat/v1/chat/completions",),
}
KINDS = ("plain", "read")
COMBOS = [(a, p, k) for a in AGENTS for p in ENDPOINTS for k in KINDS]
PARALLEL = 8


@dataclass
class Outcome:
    run: AgentRun
    nonce: str
    first_line: str


def _combo_id(combo: tuple[str, str, str]) -> str:
    return "-".join(combo)


def _run_one(bins: dict[str, Path], gw: Gateway, root: Path, combo: tuple[str, str, str]) -> Outcome:
    agent, provider, kind = combo
    workdir = root / _combo_id(combo)
    workdir.mkdir(parents=True)
    nonce = secrets.token_hex(6)
    first_line = f"UNIGATE-FILE-{nonce}"
    target = workdir / "notes.txt"
    target.write_text(f"{first_line}\nthe second line\n")
    if kind == "plain":
        prompt = f"Say hello. run {nonce}"
    else:
        prompt = f"Read the file {target} and tell me its first line. run {nonce} MOCK_AGENT_READ:{target}"
    run = RUNNERS[agent](bins[agent], gw.base + SURFACES[agent], gw.token, ENDPOINTS[provider], prompt,
                         workdir)
    return Outcome(run, nonce, first_line)


@pytest.fixture(scope="session")
def agent_runs(request: pytest.FixtureRequest, agent_bins: dict[str, Path], agent_gateway: Gateway,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str, str], Future[Outcome]]]:
    """Start every selected combination at once; tests wait for their own future."""
    wanted = [c for c in COMBOS if any(_combo_id(c) in item.nodeid for item in request.session.items)]
    root = tmp_path_factory.mktemp("agents")
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {c: pool.submit(_run_one, agent_bins, agent_gateway, root, c) for c in wanted}
        yield futures


def _mock_records(mock_url: str, nonce: str) -> list[dict]:
    with urllib.request.urlopen(f"{mock_url}/_mock/requests", timeout=10) as r:
        records = json.load(r)
    return [r for r in records if nonce in json.dumps(r.get("body"))]


def _explain(outcome: Outcome, gw: Gateway) -> str:
    log = gw.log().splitlines()[-15:]
    return outcome.run.describe() + "\n--- gateway log (tail) ---\n" + "\n".join(log)


@pytest.mark.parametrize("combo", COMBOS, ids=[_combo_id(c) for c in COMBOS])
def test_agent(combo: tuple[str, str, str], agent_runs: dict[tuple[str, str, str], Future[Outcome]],
               agent_gateway: Gateway, agent_mock_url: str) -> None:
    agent, provider, kind = combo
    outcome = agent_runs[combo].result()
    run = outcome.run
    assert run.returncode is not None, f"{agent} timed out\n{_explain(outcome, agent_gateway)}"
    assert run.returncode == 0, _explain(outcome, agent_gateway)
    records = _mock_records(agent_mock_url, outcome.nonce)
    assert records, f"no request reached the mock\n{_explain(outcome, agent_gateway)}"
    paths = {r["path"] for r in records}
    assert all(any(p.endswith(x) or x in p for x in PROVIDER_PATHS[provider]) for p in paths), paths
    if provider != "openai_compatible":
        assert not any(p.startswith("/compat/") for p in paths), paths
    if kind == "plain":
        assert "MOCK-UPSTREAM-OK:" in run.stdout, _explain(outcome, agent_gateway)
        return
    assert UNPAIRED not in run.output, _explain(outcome, agent_gateway)
    assert f"{SAID}{outcome.first_line}" in run.stdout, _explain(outcome, agent_gateway)
    assert len(records) >= 2, f"the tool result never reached the mock: {paths}"
    # The mocks sign their reasoning and refuse a forged or altered signature; the agent's
    # follow-up must carry the signed reasoning back (translated by the gateway where the
    # agent's API is another): the thinking survived the tool loop.
    if provider in ("anthropic", "gemini") or any(p.endswith("/v1/responses") for p in paths):
        assert any(_carries_signed_reasoning(r["body"]) for r in records[1:]), \
            f"no signed reasoning came back to the provider\n{_explain(outcome, agent_gateway)}"


def _carries_signed_reasoning(body: dict) -> bool:
    """Anthropic thinking with its signature, a Gemini thoughtSignature on a model turn, or a
    Responses reasoning item with encrypted_content, in a request's history."""
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list) and any(b.get("type") == "thinking" and b.get("signature")
                                             for b in content if isinstance(b, dict)):
            return True
    for c in body.get("contents") or []:
        if c.get("role") == "model" and any(p.get("thoughtSignature") or p.get("thought_signature")
                                            for p in c.get("parts") or []):
            return True
    items = body.get("input")
    return isinstance(items, list) and any(
        isinstance(i, dict) and i.get("type") == "reasoning" and i.get("encrypted_content") for i in items)


# What each agent's usage rows must show on a translated endpoint: the client the User-Agent
# names, whether it sends a session id, and a parameter it always sends that the target lacks.
ATTRIBUTION: dict[tuple[str, str], tuple[str, bool, str, str | None]] = {
    ("claude", "anthropic"): ("claude-code", True, "dropped_parameters", None),  # same API: untouched
    ("claude", "openai"): ("claude-code", True, "emulated_parameters", "context_management"),
    ("codex", "anthropic"): ("codex", True, "dropped_parameters", "client_metadata"),
    ("gemini", "openai"): ("gemini-cli", False, "dropped_parameters", "generationConfig.topK"),
}


@pytest.mark.parametrize("combo", [(a, p, "plain") for a, p in ATTRIBUTION],
                         ids=[f"usage-{a}-{p}-plain" for a, p in ATTRIBUTION])
def test_usage_rows_attribute_the_agent(combo: tuple[str, str, str],
                                        agent_runs: dict[tuple[str, str, str], Future[Outcome]],
                                        agent_gateway: Gateway) -> None:
    agent, provider, _ = combo
    outcome = agent_runs[combo].result()
    assert outcome.run.returncode == 0, _explain(outcome, agent_gateway)
    client, has_session, column, parameter = ATTRIBUTION[(agent, provider)]
    rows = _usage_rows(agent_gateway, client, ENDPOINTS[provider])
    assert rows, f"no usage row for {client} on {ENDPOINTS[provider]}"
    installed = {"claude": "2.1", "codex": "0.171", "gemini": "0.61"}[agent]
    assert all(r["client_version"].startswith(installed) for r in rows), rows
    assert all(bool(r["session_id"]) is has_session for r in rows), rows
    assert all(r["status_code"] == 200 for r in rows), rows  # nothing refused and retried
    if parameter is None:
        assert all(r["dropped_parameters"] is None and r["emulated_parameters"] is None for r in rows), rows
    else:
        assert any(parameter in (r[column] or []) for r in rows), rows


def _usage_rows(gw: Gateway, client: str, endpoint: str) -> list[dict]:
    """Rows are written in batches off the request path: wait for them (bounded)."""
    url = f"{gw.url}/api/v1/usage?client={client}&endpoint={endpoint}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {gw.token}"})
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(req, timeout=10) as r:
            rows: list[dict] = json.load(r)["rows"]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)
