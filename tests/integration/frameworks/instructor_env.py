"""instructor in a venv of its own, built once in the test cache.

instructor 1.17 pins `jiter<0.15`, and the openai SDK the rest of the suite uses needs `jiter>=0.16`,
so instructor cannot live in .venv; it gets a venv under `cache_dir()/instructor/<digest of the
pins>` (a marker after a successful install, a lock against concurrent builds, as
tests/agents/install.py does for npm) and runs as a subprocess (instructor_client.py).

    python -m tests.integration.frameworks.instructor_env    # build it, print its python
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.node_env import cache_dir

# instructor and the newest SDKs it co-installs with (what pip resolves for instructor==1.17.0)
PINS = ["instructor==1.17.0", "openai==3.3.0", "anthropic==2.17.0"]


def prefix() -> Path:
    digest = hashlib.sha256(json.dumps([sys.version_info[:2], PINS]).encode()).hexdigest()[:12]
    return cache_dir() / "instructor" / digest


def python() -> Path:
    return prefix() / "bin" / "python"


def _marker() -> Path:
    return prefix() / ".unigate-installed.json"


def _installed() -> bool:
    try:
        return bool(json.loads(_marker().read_text()) == PINS) and python().exists()
    except (OSError, ValueError):
        return False


def install(timeout: float = 600) -> Path:
    """Build the venv unless already built; return its python."""
    if _installed():
        return python()
    prefix().parent.mkdir(parents=True, exist_ok=True)
    with open(prefix().parent / f".{prefix().name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():  # another process finished while we waited
            return python()
        if prefix().exists():
            shutil.rmtree(prefix())  # a half-finished earlier attempt
        steps = [[sys.executable, "-m", "venv", str(prefix())],
                 [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINS]]
        for cmd in steps:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                                   f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        _marker().write_text(json.dumps(PINS))
    return python()


if __name__ == "__main__":
    print(install())
