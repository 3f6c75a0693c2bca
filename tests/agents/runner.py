"""Run a real coding agent headless, once, against a loopback base URL.

Each run gets a fresh HOME (and CODEX_HOME) under `workdir`, an environment built from scratch
(nothing inherited but what Node needs, so no real provider key or proxy leaks in), every base
URL on loopback and telemetry, update checks and non-essential traffic switched off.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.node_env import node_bin_dir

AGENT_TIMEOUT = 90.0
Mcp = tuple[str, str]  # an MCP server the agent is configured with: (name, streamable HTTP URL)


@dataclass
class AgentRun:
    agent: str
    cmd: list[str]
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"

    def describe(self) -> str:
        return (f"{self.agent} exited {self.returncode} after {self.seconds:.1f}s\n"
                f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def base_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{node_bin_dir()}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TMPDIR": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _run(agent: str, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> AgentRun:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the agent and whatever it spawned (a shell tool, a sandbox)
        out, err = proc.communicate()
        code = None
    return AgentRun(agent, cmd, code, out, err, time.monotonic() - start)


def run_claude(exe: Path, base_url: str, token: str, model: str, prompt: str, workdir: Path,
               timeout: float = AGENT_TIMEOUT, mcp: Mcp | None = None) -> AgentRun:
    """`claude -p`, base URL e.g. http://127.0.0.1:PORT/ai-gateway/anthropic."""
    env = base_env(workdir / "home")
    env.update({
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": token,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
    })
    allowed = "Read"
    cmd = [str(exe), "-p", prompt, "--model", model]
    if mcp is not None:
        name, url = mcp
        config = {"mcpServers": {name: {"type": "http", "url": url,
                                        "headers": {"Authorization": f"Bearer {token}"}}}}
        cmd += ["--mcp-config", json.dumps(config)]
        allowed += f",mcp__{name}"  # every tool of that server
        env["ENABLE_TOOL_SEARCH"] = "false"  # offer MCP tools at once, not behind a search tool
    return _run("claude", cmd + ["--allowedTools", allowed], env, workdir, timeout)


def codex_config(base_url: str, model: str, mcp: Mcp | None = None) -> str:
    # reasoning on, as users run it: the signed reasoning must survive the tool loop
    return (f'model = "{model}"\nmodel_provider = "unigate"\nmodel_reasoning_effort = "medium"\n'
            'check_for_update_on_startup = false\n\n'
            '[analytics]\nenabled = false\n\n'
            '[model_providers.unigate]\nname = "unigate"\n'
            f'base_url = "{base_url}"\nenv_key = "UNIGATE_TOKEN"\nwire_api = "responses"\n'
            + (f'\n[mcp_servers.{mcp[0]}]\nurl = "{mcp[1]}"\nbearer_token_env_var = "UNIGATE_TOKEN"\n'
               'default_tools_approval_mode = "approve"\n' if mcp else ""))


def run_codex(exe: Path, base_url: str, token: str, model: str, prompt: str, workdir: Path,
              timeout: float = AGENT_TIMEOUT, mcp: Mcp | None = None) -> AgentRun:
    """`codex exec` with a custom provider, base URL e.g. .../ai-gateway/codex/v1."""
    env = base_env(workdir / "home")
    codex_home = workdir / "home" / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url, model, mcp))
    env.update({"CODEX_HOME": str(codex_home), "UNIGATE_TOKEN": token})
    cmd = [str(exe), "exec", "--skip-git-repo-check", "--color", "never", prompt]
    return _run("codex", cmd, env, workdir, timeout)


GEMINI_SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
}


def run_gemini(exe: Path, base_url: str, token: str, model: str, prompt: str, workdir: Path,
               timeout: float = AGENT_TIMEOUT, mcp: Mcp | None = None) -> AgentRun:
    """`gemini -p`, base URL e.g. .../ai-gateway/gemini (the SDK appends /v1beta/models/...)."""
    home = workdir / "home"
    env = base_env(home)
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = dict(GEMINI_SETTINGS)
    if mcp is not None:
        settings["mcpServers"] = {mcp[0]: {"httpUrl": mcp[1], "trust": True,
                                           "headers": {"Authorization": f"Bearer {token}"}}}
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env.update({
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": token,
        "GEMINI_TELEMETRY_ENABLED": "false",
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "GEMINI_CLI_NO_RELAUNCH": "true",
    })
    cmd = [str(exe), "-p", prompt, "-m", model, "--output-format", "text"]
    return _run("gemini", cmd, env, workdir, timeout)


RUNNERS = {"claude": run_claude, "codex": run_codex, "gemini": run_gemini}
