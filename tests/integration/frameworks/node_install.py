"""Install the pinned Vercel AI SDK packages from npm, once, into the test cache.

One npm prefix per package set under `cache_dir()/vercel-ai/<digest of the pins>`; a marker file
written after a successful install makes later runs reuse it, and a lock keeps concurrent runs
from installing twice (tests/cached_install.py).

    python -m tests.integration.frameworks.node_install    # install, print the prefix
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.cached_install import install_once, npm_install
from tests.node_env import cache_dir

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


def install(timeout: float = 600) -> Path:
    """Install the packages unless already installed; return the prefix (holding node_modules)."""
    install_once(prefix(), PACKAGES, lambda where: npm_install(
        where, [f"{name}@{version}" for name, version in PACKAGES.items()], timeout))
    return prefix()


if __name__ == "__main__":
    print(install())
