"""The Databricks clients in a venv of their own, built once in the test cache.

databricks-openai, databricks-langchain and mlflow pin versions of openai, mcp, openai-agents
and langchain that the rest of the suite cannot take, so they live in a venv under
`cache_dir()/databricks/<digest of the pins>` (built once, tests/cached_install.py). Tests run
small scripts with that venv's python (`run_client`), configured as a user would configure
them: only DATABRICKS_HOST and DATABRICKS_TOKEN (or a service principal's client id and secret).

    python -m tests.integration.databricks.client_env    # build it, print its python
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cached_install import install_once, run_or_fail
from tests.node_env import cache_dir

# What pip resolves for these four together (2026-12): the real clients from PyPI.
PINS = ["databricks-sdk==0.167.0", "databricks-openai==0.18.0", "databricks-langchain==0.17.0",
        "mlflow==3.17.2"]


def prefix() -> Path:
    digest = hashlib.sha256(json.dumps([sys.version_info[:2], PINS]).encode()).hexdigest()[:12]
    return cache_dir() / "databricks" / digest


def python() -> Path:
    return prefix() / "bin" / "python"


def _build(where: Path, timeout: float) -> None:
    # uv, not pip: pip's resolver spent over ten minutes backtracking through these clients'
    # dependencies in a fresh venv; uv resolves and installs them in seconds.
    import uv

    run_or_fail([sys.executable, "-m", "venv", str(where)], timeout)
    run_or_fail([uv.find_uv_bin(), "pip", "install", "-q", "--python", str(where / "bin" / "python"), *PINS],
                timeout)


def install(timeout: float = 1200) -> Path:
    """Build the venv unless already built; return its python."""
    install_once(prefix(), PINS, lambda where: _build(where, timeout), ready=python().exists)
    return python()


def client_env(host: str, token: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a Databricks client reads its configuration from: nothing of the
    developer's own (~/.databrickscfg, other DATABRICKS_* variables) leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_"))}
    home = prefix().parent / "home"  # an empty home: no ~/.databrickscfg
    home.mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), "DATABRICKS_HOST": host, "DATABRICKS_CONFIG_FILE": str(home / "none.cfg"),
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    if token is not None:
        env["DATABRICKS_TOKEN"] = token
    env.update(extra)
    return env


def run_client(script: str, env: dict[str, str], timeout: float = 120) -> Any:
    """Runs `script` with the clients' python; the script prints one JSON value last, returned."""
    done = subprocess.run([str(install()), "-c", script], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"client script failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"the script printed nothing; stderr:\n{done.stderr[-2000:]}"
    return json.loads(lines[-1])


if __name__ == "__main__":
    print(install())
