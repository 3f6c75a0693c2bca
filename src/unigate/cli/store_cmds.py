"""`unigate migrate`, `unigate export` and `unigate import`: a store (the data directory's
SQLite file, or `--store postgresql://...` / UNIGATE_STORE_URL) without a running gateway.
An import goes into an empty store; an export reads a consistent snapshot while it serves.
Moving from SQLite to PostgreSQL is one pipe:
    unigate export --data-dir .unigate | unigate import - --store postgresql://..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unigate.store.base import Duplicate, Store, StoreUnavailable
from unigate.store.dump import DumpError, export_to, import_lines
from unigate.store.open import open_store, store_location


def _store(a: argparse.Namespace) -> Store:
    """The store named by --store (or UNIGATE_STORE_URL, or --data-dir), migrated."""
    location = store_location(a.store, Path(a.data_dir))
    store = open_store(location)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _unavailable(command: str, e: Exception) -> int:
    print(f"unigate {command}: the store is not available: {e}", file=sys.stderr)
    return 1


def migrate_cmd(a: argparse.Namespace) -> int:
    location = store_location(a.store, Path(a.data_dir))
    store = open_store(location)
    try:
        applied = store.migrate()
    except StoreUnavailable as e:
        return _unavailable("migrate", e)
    finally:
        store.close()
    print(f"applied {', '.join(applied)} to {store!r}" if applied else f"{store!r} is up to date")
    return 0


def export_cmd(a: argparse.Namespace) -> int:
    try:
        store = _store(a)
    except StoreUnavailable as e:
        return _unavailable("export", e)
    try:
        rows = export_to(store, Path(a.output) if a.output else None, sys.stdout.buffer)
    except StoreUnavailable as e:
        return _unavailable("export", e)
    finally:
        store.close()
    if a.output:
        print(f"exported {rows} row(s) to {a.output} (provider keys and other secrets in it are encrypted "
              "under the master key, which a store importing it needs too)", file=sys.stderr)
    return 0


def import_cmd(a: argparse.Namespace) -> int:
    try:
        store = _store(a)
    except StoreUnavailable as e:
        return _unavailable("import", e)
    try:
        if a.file == "-":
            counts = import_lines(store, sys.stdin.buffer)
        else:
            with open(a.file, "rb") as f:
                counts = import_lines(store, f)
    except (DumpError, Duplicate, OSError, StoreUnavailable) as e:
        print(f"unigate import: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    summary = ", ".join(f"{n} {t}" for t, n in counts.items()) or "nothing"
    print(f"imported {summary} into {store!r}")
    return 0


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=".unigate", help="its unigate.db, when no --store is given")
    p.add_argument("--store", help="postgresql://... or an SQLite file (default: UNIGATE_STORE_URL, "
                                   "else the data directory's)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="bring a store to this version's schema")
    _where(p)
    p.set_defaults(func=migrate_cmd)
    p = sub.add_parser("export", help="write a store's whole content as JSON lines")
    _where(p)
    p.add_argument("-o", "--output", help="file to write (created 0600); default: standard output")
    p.set_defaults(func=export_cmd)
    p = sub.add_parser("import", help="load an export (a file, or - for standard input) into an empty store")
    p.add_argument("file")
    _where(p)
    p.set_defaults(func=import_cmd)
