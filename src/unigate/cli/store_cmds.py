"""`unigate migrate`, `unigate export` and `unigate import`: the store of a data directory,
without a running gateway (stop it first for an import; an export reads a consistent snapshot
while it serves)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unigate.store.dump import DumpError, export_to, import_lines
from unigate.store.sqlite import Duplicate, SQLiteStore


def _store(data_dir: str) -> SQLiteStore:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(path / "unigate.db")
    store.migrate()
    return store


def migrate_cmd(a: argparse.Namespace) -> int:
    store = SQLiteStore(Path(a.data_dir) / "unigate.db")
    applied = store.migrate()
    store.close()
    print(f"applied {', '.join(applied)}" if applied else "the store is up to date")
    return 0


def export_cmd(a: argparse.Namespace) -> int:
    store = _store(a.data_dir)
    try:
        rows = export_to(store, Path(a.output) if a.output else None, sys.stdout.buffer)
    finally:
        store.close()
    if a.output:
        print(f"exported {rows} row(s) to {a.output} (it holds provider keys: keep it safe)", file=sys.stderr)
    return 0


def import_cmd(a: argparse.Namespace) -> int:
    store = _store(a.data_dir)
    try:
        with open(a.file, "rb") as f:
            counts = import_lines(store, f)
    except (DumpError, Duplicate, OSError) as e:
        print(f"unigate import: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    summary = ", ".join(f"{n} {t}" for t, n in counts.items()) or "nothing"
    print(f"imported {summary} into {a.data_dir}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="bring a data directory's store to this version's schema")
    p.add_argument("--data-dir", default=".unigate")
    p.set_defaults(func=migrate_cmd)
    p = sub.add_parser("export", help="write a store's whole content as JSON lines")
    p.add_argument("--data-dir", default=".unigate")
    p.add_argument("-o", "--output", help="file to write (created 0600); default: standard output")
    p.set_defaults(func=export_cmd)
    p = sub.add_parser("import", help="load an export into an empty store")
    p.add_argument("file")
    p.add_argument("--data-dir", default=".unigate")
    p.set_defaults(func=import_cmd)
