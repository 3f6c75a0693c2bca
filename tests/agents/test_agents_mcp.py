"""The real coding agents add one URL, /ai-gateway/mcp/calc, and call the governed MCP server.

Each agent (Claude Code, Codex, Gemini CLI) is configured with the gateway's MCP URL and its
own token, and sent to an endpoint backed by Anthropic (translated for Codex and Gemini CLI:
Codex's namespaced MCP tools must survive that). The mock model calls the server's `add`
tool (tests/mocks/mcp_script.py); the agent calls it through the gateway, which checks the
caller's CAN_USE and writes a usage row for the call; the model's final text quotes the result.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.agents.runner import RUNNERS, AgentRun
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call

# (agent, endpoint): Anthropic behind each (translated for Codex and Gemini CLI), and Codex on
# its own dialect too (namespaced tools passed through to an OpenAI Responses provider)
RUNS = [("claude", "agent-anthropic"), ("codex", "agent-anthropic"), ("codex", "agent-openai"),
        ("gemini", "agent-anthropic")]
SURFACES = {"claude": "/anthropic", "codex": "/codex/v1", "gemini": "/gemini"}
PROMPT = 'Use the add tool. MOCK_MCP_CALL:add{"a":20,"b":22}'


def _user(run: tuple[str, str]) -> str:
    return f"mcp-{run[0]}-{run[1]}@agents.test"  # one user per run: its usage rows are its own


def _admin(gw: Gateway, method: str, path: str, body: Any = None) -> Any:
    r = call(method, f"{gw.url}/api/v1{path}", body, bearer(gw.token))
    assert r.status < 300, (path, r.status, r.body[:300])
    return r.json()


@pytest.fixture(scope="module")
def mcp_runs(agent_bins: dict[str, Path], agent_gateway: Gateway,
             tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], AgentRun]:
    gw = agent_gateway
    tokens: dict[tuple[str, str], str] = {}
    for run in RUNS:
        email = _user(run)
        _admin(gw, "POST", "/users", {"email": email})
        tokens[run] = _admin(gw, "POST", "/tokens", {"principal": email})["token"]
        _admin(gw, "PATCH", f"/endpoints/{run[1]}/permissions",
               {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]})
    _admin(gw, "PUT", "/mcp-services/calc/permissions",
           {"access_control_list": [{"user_name": _user(r)} for r in RUNS]})
    deadline = time.monotonic() + 10  # every worker sees the new tokens and grants
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    while sum(call("POST", f"{gw.base}/mcp/calc", ping, bearer(t)).status == 200
              for t in tokens.values() for _ in range(3)) < 3 * len(RUNS):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    root = tmp_path_factory.mktemp("mcp-agents")

    def one(run: tuple[str, str]) -> AgentRun:
        agent, endpoint = run
        workdir = root / f"{agent}-{endpoint}"
        workdir.mkdir()
        return RUNNERS[agent](agent_bins[agent], gw.base + SURFACES[agent], tokens[run], endpoint, PROMPT,
                              workdir, mcp=("calc", f"{gw.base}/mcp/calc"))

    with ThreadPoolExecutor(len(RUNS)) as pool:
        return dict(zip(RUNS, pool.map(one, RUNS), strict=True))


@pytest.mark.parametrize("case", RUNS, ids=["-".join(r) for r in RUNS])
def test_the_agent_calls_the_governed_mcp_server(case: tuple[str, str],
                                                 mcp_runs: dict[tuple[str, str], AgentRun],
                                                 agent_gateway: Gateway) -> None:
    run = mcp_runs[case]
    assert run.returncode == 0, run.describe()
    assert "TOOL_SAID:" in run.stdout, run.describe()
    assert "NO_TOOL_CALLED" not in run.stdout, run.describe()
    deadline = time.monotonic() + 10
    while True:
        mine = _admin(agent_gateway, "GET", f"/usage?mcp_service=calc&requester={_user(case)}")["rows"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine, run.describe()
    assert mine[0]["mcp_tool"] == "add" and mine[0]["status_code"] == 200 and mine[0]["api_type"] == "mcp"
