"""Install the pinned coding-agent CLIs from npm, once, into the test cache.

Each agent+version gets its own npm prefix under `cache_dir()/agents/<name>-<version>`, built once
(tests/cached_install.py: a marker after a successful install, a lock against two
concurrent runs).

    python -m tests.agents.install          # install them all, print their bin paths
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.cached_install import install_once, npm_install
from tests.node_env import cache_dir


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


AGENTS: dict[str, AgentPackage] = {
    "claude": AgentPackage("claude", "@anthropic-ai/claude-code", "2.1.332", "claude"),
    "codex": AgentPackage("codex", "@openai/codex", "0.171.0", "codex"),
    "gemini": AgentPackage("gemini", "@google/gemini-cli", "0.61.0", "gemini"),
    "opencode": AgentPackage("opencode", "opencode-ai", "1.18.33", "opencode"),
}


def install(agent: AgentPackage, timeout: float = 600) -> Path:
    """Install `agent` unless already installed; return its executable."""
    install_once(agent.prefix, {"package": agent.package, "version": agent.version},
                 lambda where: npm_install(where, [f"{agent.package}@{agent.version}"], timeout),
                 ready=agent.executable.exists)
    if not agent.executable.exists():
        raise RuntimeError(f"npm install {agent.package}@{agent.version} linked no {agent.bin}")
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
