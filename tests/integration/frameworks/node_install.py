"""Install the pinned Vercel AI SDK packages from npm, once, into the test cache.

One npm prefix per package set under `cache_dir()/vercel-ai/<digest of the pins>`; a marker file
written after a successful install makes later runs reuse it, and a lock keeps concurrent runs
from installing twice (the same scheme as tests/agents/install.py).

    python -m tests.integration.frameworks.node_install    # install, print the prefix
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from tests.node_env import cache_dir, node_bin_dir, node_env

PACKAGES = {
    "ai": "7.0.173",
    "@ai-sdk/openai": "4.0.118",
    "@ai-sdk/anthropic": "4.0.105",
    "@ai-sdk/google": "4.0.121",
    "zod": "4.6.7",
}


def prefix() -> Path:
    digest = hashlib.sha256(json.dumps(PACKAGES, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / "vercel-ai" / digest


def _marker() -> Path:
    return prefix() / ".unigate-installed.json"


def _installed() -> bool:
    try:
        return bool(json.loads(_marker().read_text()) == PACKAGES)
    except (OSError, ValueError):
        return False


def install(timeout: float = 600) -> Path:
    """Install the packages unless already installed; return the prefix (holding node_modules)."""
    if _installed():
        return prefix()
    prefix().parent.mkdir(parents=True, exist_ok=True)
    with open(prefix().parent / f".{prefix().name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():  # another process finished while we waited
            return prefix()
        if prefix().exists():
            shutil.rmtree(prefix())  # a half-finished earlier attempt
        prefix().mkdir(parents=True)
        (prefix() / "package.json").write_text('{"name": "unigate-vercel-ai-cache", "private": true}\n')
        # the wheel's bin/npm shim cannot find its lib/cli.js: run npm-cli.js with its node
        npm_cli = node_bin_dir().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        cmd = [str(node_bin_dir() / "node"), str(npm_cli), "install", "--prefix", str(prefix()),
               "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error", "--save-exact",
               *(f"{name}@{version}" for name, version in PACKAGES.items())]
        env = node_env()
        env["npm_config_cache"] = str(cache_dir() / "npm-cache")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"npm install of the Vercel AI SDK failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        _marker().write_text(json.dumps(PACKAGES))
    return prefix()


if __name__ == "__main__":
    print(install())
