"""What every `unigate` subcommand shares: the gateway URL and token, one HTTP client for the
admin API, one error class, one table printer."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"
API = "/api/v1"


class CliError(Exception):
    """A one-line message for the user, and the exit code (1: it failed; 2: it was misused)."""

    exit_code = 1


class UsageError(CliError):
    exit_code = 2


def gateway_url(url: str | None) -> str:
    return (url or os.environ.get("UNIGATE_URL") or DEFAULT_URL).rstrip("/")


def guarded(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """A command whose failures print `unigate: message` and exit non-zero, never a traceback."""
    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args) or 0)
        except CliError as e:
            print(f"unigate: {e}", file=sys.stderr)
            return e.exit_code
        except OSError as e:
            print(f"unigate: {e.filename or ''}: {e.strerror}", file=sys.stderr)
            return 1
    return run


def add_connection_args(p: argparse.ArgumentParser, json_output: bool = True) -> None:
    p.add_argument("--url", help=f"gateway URL (default $UNIGATE_URL or {DEFAULT_URL})")
    p.add_argument("--token", help="admin or manager token (default $UNIGATE_TOKEN)")
    if json_output:
        p.add_argument("--json", action="store_true", help="print the raw JSON answer")


def connection_parent() -> argparse.ArgumentParser:
    """--url, --token and --json, for `parents=[...]` of every admin-API command."""
    p = argparse.ArgumentParser(add_help=False)
    add_connection_args(p)
    return p


# --- HTTP ------------------------------------------------------------------------------------

def request(args: argparse.Namespace, method: str, path: str, body: Any = None,
            accept: str = "application/json") -> bytes:
    """One admin-API call (`path` under /api/v1); an error answer raises CliError naming it."""
    url = gateway_url(args.url) + API + path
    token = args.token or os.environ.get("UNIGATE_TOKEN")
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as e:
        raise CliError(error_text(e.code, e.read())) from None
    except urllib.error.URLError as e:
        raise CliError(f"cannot reach {url}: {e.reason}") from None


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    raw = request(args, method, path, body)
    return json.loads(raw) if raw else None


def query(params: dict[str, Any]) -> str:
    """`?a=1&tag=x&tag=y` from a dict whose None values are left out and lists repeat."""
    text = urllib.parse.urlencode([(k, v) for k, vs in params.items() if vs is not None
                                   for v in (vs if isinstance(vs, list) else [vs])])
    return f"?{text}" if text else ""


def error_text(status: int, raw: bytes) -> str:
    try:
        err = json.loads(raw)["error"]
        where = f" (field {err['field']})" if err.get("field") else ""
        return f"{status} {err.get('code', '')}: {err.get('message', '')}{where}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {raw.decode(errors='replace')[:300]}"


def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# --- output ----------------------------------------------------------------------------------

def when(ts: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if isinstance(ts, int | float) else "-"


def _cell(column: str, value: Any, width: int | None) -> str:
    if value is None:
        text = "-"
    elif column.endswith("_at") or column == "event_time":
        text = when(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | bool):
        text = json.dumps(value)
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int | None = None) -> str:
    """Aligned columns under upper-case headings; values longer than `width` are cut."""
    cells = [[_cell(c, r.get(c), width) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def show(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2) if args.json else render(data))
