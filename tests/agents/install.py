"""Install the pinned coding-agent CLIs from npm, once, into the test cache.

Each agent+version gets its own npm prefix under `cache_dir()/agents/<name>-<version>`; a marker
file written after a successful install makes later runs reuse it, and a lock file keeps two
concurrent runs (pytest-xdist workers, a script next to a test run) from installing twice.

    python -m tests.agents.install          # install them all, print their bin paths
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.node_env import cache_dir, node_bin_dir, node_env


@dataclass(frozen=True)
class AgentPackage:
    name: str  # short name: claude, codex, gemini, opencode
    package: str
    version: str
    bin: str  # the executable npm links into <prefix>/node_modules/.bin

    @property
    def prefix(self) -> Path:
        return cache_dir() / "agents" / f"{self.name}-{self.version}"

    @property
    def executable(self) -> Path:
        return self.prefix / "node_modules" / ".bin" / self.bin

    @property
    def marker(self) -> Path:
        return self.prefix / ".unigate-installed.json"


AGENTS: dict[str, AgentPackage] = {
    "claude": AgentPackage("claude", "@anthropic-ai/claude-code", "2.1.332", "claude"),
    "codex": AgentPackage("codex", "@openai/codex", "0.171.0", "codex"),
    "gemini": AgentPackage("gemini", "@google/gemini-cli", "0.61.0", "gemini"),
    "opencode": AgentPackage("opencode", "opencode-ai", "1.18.33", "opencode"),
}


def _installed(agent: AgentPackage) -> bool:
    if not agent.marker.exists() or not agent.executable.exists():
        return False
    try:
        info = json.loads(agent.marker.read_text())
    except ValueError:
        return False
    return info.get("package") == agent.package and info.get("version") == agent.version


def install(agent: AgentPackage, timeout: float = 600) -> Path:
    """Install `agent` unless already installed; return its executable."""
    if _installed(agent):
        return agent.executable
    agent.prefix.parent.mkdir(parents=True, exist_ok=True)
    lock_path = agent.prefix.parent / f".{agent.name}-{agent.version}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(agent):  # another process finished while we waited
            return agent.executable
        if agent.prefix.exists():
            shutil.rmtree(agent.prefix)  # a half-finished earlier attempt
        agent.prefix.mkdir(parents=True)
        (agent.prefix / "package.json").write_text('{"name": "unigate-agent-cache", "private": true}\n')
        # the wheel's bin/npm shim cannot find its lib/cli.js: run npm-cli.js with its node
        npm_cli = node_bin_dir().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        cmd = [
            str(node_bin_dir() / "node"), str(npm_cli), "install", "--prefix", str(agent.prefix),
            "--no-audit", "--no-fund",
            "--no-update-notifier", "--loglevel=error", "--save-exact",
            f"{agent.package}@{agent.version}",
        ]
        env = node_env()
        env["npm_config_cache"] = str(cache_dir() / "npm-cache")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not agent.executable.exists():
            raise RuntimeError(
                f"npm install {agent.package}@{agent.version} failed ({proc.returncode}):\n"
                f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )
        agent.marker.write_text(json.dumps({"package": agent.package, "version": agent.version}))
    return agent.executable


def install_all(names: list[str] | None = None) -> dict[str, Path]:
    """Install the named agents (default: all) in parallel; return name -> executable."""
    chosen = [AGENTS[n] for n in (names or list(AGENTS))]
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        paths = list(pool.map(install, chosen))
    return {a.name: p for a, p in zip(chosen, paths, strict=True)}


if __name__ == "__main__":
    for name, path in install_all(sys.argv[1:] or None).items():
        print(f"{name}\t{path}")
