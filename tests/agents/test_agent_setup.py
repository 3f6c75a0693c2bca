"""`unigate agents configure` and `unigate agents run` with the real, pinned agents.

configure: `unigate agents configure <agent> --endpoint agent-openai --url ... --token ...` in a
    fresh HOME, then the agent itself, headless, with nothing but HOME/PATH-level variables (no
    base URL, no key): it must answer through the gateway from what configure wrote alone.
run: `unigate agents run <agent> --endpoint agent-anthropic -- <headless args>` in a HOME that
    configure already pointed at agent-openai: the run must go to agent-anthropic and leave the
    user's files as they were.
Gemini CLI only reads ~/.gemini/.env in folders the user trusts (and refuses to run headless in
others), so each HOME trusts its work folder the way answering Gemini's trust prompt does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.agents.runner import AGENT_TIMEOUT, base_env
from tests.integration.gateway import Gateway

AGENTS = ("claude", "codex", "gemini", "opencode")
HEADLESS = {
    "claude": lambda prompt: ["-p", prompt],
    "codex": lambda prompt: ["exec", "--skip-git-repo-check", "--color", "never", prompt],
    "gemini": lambda prompt: ["-p", prompt, "--output-format", "text"],
    "opencode": lambda prompt: ["run", prompt],
}
PROVIDER_PATHS = {"agent-openai": ("/v1/chat/completions", "/v1/responses"),
                  "agent-anthropic": ("/v1/messages",)}


def _env(home: Path, bins: dict[str, Path]) -> dict[str, str]:
    env = base_env(home)
    env["PATH"] = os.pathsep.join([str(b.parent) for b in bins.values()] + [env["PATH"]])
    # opencode would otherwise fetch its model catalogue and look for updates on the internet
    env.update({"OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1"})
    return env


def _home(root: Path, agent: str) -> tuple[Path, Path]:
    home, work = root / "home", root / "work"
    work.mkdir(parents=True)
    if agent == "gemini":
        (home / ".gemini").mkdir(parents=True)
        (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(work): "TRUST_FOLDER"}))
    return home, work


def _unigate(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=AGENT_TIMEOUT, stdin=subprocess.DEVNULL)


def _configure(agent: str, endpoint: str, gw: Gateway, env: dict[str, str], cwd: Path) -> None:
    done = _unigate(["agents", "configure", agent, "--endpoint", endpoint, "--url", gw.url, "--token", gw.token],
                    env, cwd)
    assert done.returncode == 0, done.stderr
    assert gw.token not in done.stdout + done.stderr


def _mock_paths(mock_url: str, nonce: str) -> set[str]:
    with urllib.request.urlopen(f"{mock_url}/_mock/requests", timeout=10) as r:
        records = json.load(r)
    return {r["path"] for r in records if nonce in json.dumps(r.get("body"))}


def _usage_rows(gw: Gateway, endpoint: str, since: float) -> list[dict]:
    """The gateway's own record of the calls (written off the hot path: wait for it)."""
    deadline = time.monotonic() + 10
    while True:
        req = urllib.request.Request(f"{gw.url}/api/v1/usage?endpoint={endpoint}&start={since - 1:.0f}&limit=1000",
                                     headers={"Authorization": f"Bearer {gw.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            rows = json.load(r)["rows"]
        if rows or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.3)


def _check_answer(out: subprocess.CompletedProcess[str], endpoint: str, nonce: str, gw: Gateway,
                  mock_url: str, since: float) -> None:
    explain = f"exit {out.returncode}\n--- stdout ---\n{out.stdout[-3000:]}\n--- stderr ---\n{out.stderr[-3000:]}"
    assert out.returncode == 0, explain
    assert "MOCK-UPSTREAM-OK:" in out.stdout, explain
    paths = _mock_paths(mock_url, nonce)
    assert paths, f"no request reached the mock\n{explain}"
    assert all(any(p.endswith(x) for x in PROVIDER_PATHS[endpoint]) for p in paths), paths
    assert _usage_rows(gw, endpoint, since), f"no usage row for {endpoint}"


def _digests(home: Path) -> dict[str, str]:
    files = [home / ".claude" / "settings.json", home / ".codex" / "config.toml",
             home / ".gemini" / ".env", home / ".gemini" / "settings.json",
             home / ".config" / "opencode" / "opencode.json"]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


@pytest.mark.parametrize("agent", AGENTS)
def test_configure_then_agent(agent: str, agent_bins: dict[str, Path], agent_gateway: Gateway,
                              agent_mock_url: str, tmp_path: Path) -> None:
    home, work = _home(tmp_path, agent)
    env = _env(home, agent_bins)
    _configure(agent, "agent-openai", agent_gateway, env, work)
    nonce = secrets.token_hex(6)
    since = time.time()
    out = subprocess.run([str(agent_bins[agent]), *HEADLESS[agent](f"Say hello. run {nonce}")], env=env, cwd=work,
                         text=True, capture_output=True, timeout=AGENT_TIMEOUT, stdin=subprocess.DEVNULL)
    _check_answer(out, "agent-openai", nonce, agent_gateway, agent_mock_url, since)


@pytest.mark.parametrize("agent", AGENTS)
def test_agents_run(agent: str, agent_bins: dict[str, Path], agent_gateway: Gateway,
                    agent_mock_url: str, tmp_path: Path) -> None:
    home, work = _home(tmp_path, agent)
    env = _env(home, agent_bins)
    _configure(agent, "agent-openai", agent_gateway, env, work)  # run must override this, not use it
    before = _digests(home)
    nonce = secrets.token_hex(6)
    since = time.time()
    out = _unigate(["agents", "run", agent, "--endpoint", "agent-anthropic", "--url", agent_gateway.url,
                    "--", *HEADLESS[agent](f"Say hello. run {nonce}")], env, work)
    _check_answer(out, "agent-anthropic", nonce, agent_gateway, agent_mock_url, since)
    assert _digests(home) == before
