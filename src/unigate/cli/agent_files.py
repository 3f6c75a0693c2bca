"""Reading, merging and safely replacing the agents' own configuration files.

Every write is atomic (a temporary file in the same directory, then rename), so an agent never
reads half a file; a file that is replaced is first copied next to itself with a timestamp;
files that hold a token are 0600 from the moment they exist."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from unigate.cli.common import CliError


class FileError(CliError):
    """An agent's file that cannot be read, merged or written."""


def backup(path: Path) -> Path:
    """Copy `path` to `path.unigate-backup-YYYYmmdd-HHMMSS` (-N if that exists); 0600, since the
    original may hold a secret of the user's."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.unigate-backup-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.unigate-backup-{stamp}-{n}")
        n += 1
    shutil.copyfile(path, target)
    os.chmod(target, 0o600)
    return target


def _atomic_write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: Path, text: str) -> None:
    """A file only its owner may read (credentials), in a directory only they may enter."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    _atomic_write(path, text, 0o600)


def replace_file(path: Path, text: str, *, secret: bool) -> tuple[bool, Path | None]:
    """Write `text` to `path` unless it already says exactly that. Returns (written, backup).
    A secret file is 0600; any other keeps the mode it had (0644 when new)."""
    if path.is_symlink():
        path = path.resolve()  # a dotfile manager's link stays a link; its target is updated
    old: str | None = None
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if old == text:
            if secret:
                os.chmod(path, 0o600)
            return False, None
    saved = backup(path) if old is not None else None
    mode = 0o600 if secret else (path.stat().st_mode & 0o777 if old is not None else 0o644)
    _atomic_write(path, text, mode)
    return True, saved


def read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as e:
        raise FileError(f"{path} is not valid JSON ({e}); fix or move it, then run this again") from None
    if not isinstance(data, dict):
        raise FileError(f"{path} does not hold a JSON object; fix or move it, then run this again")
    return data


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise FileError(f"{path} is not valid TOML ({e}); fix or move it, then run this again") from None


def dump_toml(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def section(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """data[k1][k2]..., created as empty tables where missing; a non-table in the way is an error
    rather than something to overwrite silently."""
    for key in keys:
        value = data.setdefault(key, {})
        if not isinstance(value, dict):
            raise FileError(f"'{key}' is set to something other than a table/object; fix it by hand")
        data = value
    return data


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def merge_dotenv(text: str, values: dict[str, str]) -> str:
    """Set `values` in a .env text: lines of those keys are replaced in place, others (comments,
    the user's own keys) are kept, missing keys are appended."""
    out, seen = [], set()
    for line in text.splitlines():
        m = _ENV_LINE.match(line)
        if m and m.group(1) in values:
            if m.group(1) not in seen:
                out.append(f"{m.group(1)}={_quote(values[m.group(1)])}")
                seen.add(m.group(1))
            continue
        out.append(line)
    out += [f"{k}={_quote(v)}" for k, v in values.items() if k not in seen]
    return "\n".join(out) + "\n"


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@%+=,-]*", value) else json.dumps(value)
