"""Installing test tools once into the test cache (`tests.node_env.cache_dir()`): the coding
agents and the Vercel AI SDK from npm, instructor's own venv from PyPI.

`install_once` builds a prefix unless a marker written after a successful build says it holds
exactly `spec`; a lock keeps concurrent runs (a script beside the test run, parallel installs)
from building the same prefix twice, and a half-finished earlier attempt is removed first."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.node_env import cache_dir, node_bin_dir, node_env

MARKER = ".unigate-installed.json"


def _installed(prefix: Path, spec: Any, ready: Callable[[], bool]) -> bool:
    try:
        return bool(json.loads((prefix / MARKER).read_text()) == spec) and ready()
    except (OSError, ValueError):
        return False


def install_once(prefix: Path, spec: Any, build: Callable[[Path], None],
                 ready: Callable[[], bool] = lambda: True) -> None:
    """Run `build(prefix)` unless `prefix` already holds `spec` (and `ready()` agrees)."""
    if _installed(prefix, spec, ready):
        return
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f".{prefix.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(prefix, spec, ready):  # another process finished while we waited
            return
        if prefix.exists():
            shutil.rmtree(prefix)
        build(prefix)
        (prefix / MARKER).write_text(json.dumps(spec))


def run_or_fail(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def npm_install(prefix: Path, packages: list[str], timeout: float) -> None:
    """`npm install --save-exact` of `packages` ("name@version") into a fresh `prefix`."""
    prefix.mkdir(parents=True)
    (prefix / "package.json").write_text('{"name": "unigate-test-cache", "private": true}\n')
    # the wheel's bin/npm shim cannot find its lib/cli.js: run npm-cli.js with its node
    npm_cli = node_bin_dir().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env = node_env()
    env["npm_config_cache"] = str(cache_dir() / "npm-cache")
    run_or_fail([str(node_bin_dir() / "node"), str(npm_cli), "install", "--prefix", str(prefix), "--no-audit",
                 "--no-fund", "--no-update-notifier", "--loglevel=error", "--save-exact", *packages],
                timeout, env)
