"""The type checker and the linter pass on the whole package (and the linter on the tests), as
part of the suite, so a change that breaks either does not land."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_mypy_finds_no_errors(tmp_path: Path) -> None:
    out = subprocess.run([str(BIN / "mypy"), "--cache-dir", str(tmp_path / "cache")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:]


def test_ruff_finds_no_errors() -> None:
    out = subprocess.run([str(BIN / "ruff"), "check", "src", "tests"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:]
