"""instructor in a venv of its own, built once in the test cache.

instructor 1.17 pins `jiter<0.15`, and the openai SDK the rest of the suite uses needs `jiter>=0.16`,
so instructor cannot live in .venv; it gets a venv under `cache_dir()/instructor/<digest of the
pins>` (built once, tests/cached_install.py) and runs as a subprocess (instructor_client.py).

    python -m tests.integration.frameworks.instructor_env    # build it, print its python
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from tests.cached_install import install_once, run_or_fail
from tests.node_env import cache_dir

# instructor and the newest SDKs it co-installs with (what pip resolves for instructor==1.17.0)
PINS = ["instructor==1.17.0", "openai==3.3.0", "anthropic==2.17.0"]


def prefix() -> Path:
    digest = hashlib.sha256(json.dumps([sys.version_info[:2], PINS]).encode()).hexdigest()[:12]
    return cache_dir() / "instructor" / digest


def python() -> Path:
    return prefix() / "bin" / "python"


def _build(where: Path, timeout: float) -> None:
    run_or_fail([sys.executable, "-m", "venv", str(where)], timeout)
    run_or_fail([str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 *PINS], timeout)


def install(timeout: float = 600) -> Path:
    """Build the venv unless already built; return its python."""
    install_once(prefix(), PINS, lambda where: _build(where, timeout), ready=python().exists)
    return python()


if __name__ == "__main__":
    print(install())
