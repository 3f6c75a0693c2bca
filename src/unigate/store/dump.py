"""`unigate export` / `unigate import`: a store's whole content as JSON lines, to move it to
another data directory, between SQLite and PostgreSQL (either way), or to keep a
backup that does not depend on the database's own format.

The first line names the format and the schema migrations the store had; then one line per
row, `{"table": ..., "row": {column: value}}`, tables in an order that respects their
references. An import goes into an empty store (migrated to the same schema or a later one):
its built-in rows (the admins group, the configuration version) are replaced, anything else
already there is refused. Tokens are kept as their hashes; provider keys and MCP service
secrets are in the file as they are in the store, so the file is written 0600."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from unigate.store.base import Store

FORMAT = "unigate-export"
VERSION = 1
# Referenced tables first (group_members -> groups).
TABLES = ("users", "service_principals", "groups", "group_members", "tokens",
          "service_principal_secrets", "providers", "endpoints",
          "grants", "mcp_services", "mcp_grants", "prices", "budgets", "budget_alerts",
          "audit_log", "responses", "usage", "payloads",
          "config_version")
BUILT_IN = {"groups": "name = 'admins'", "config_version": "id = 1"}  # rows every new store has


class DumpError(ValueError):
    """The file or the target store cannot take the import; the message says why."""


def export_rows(store: Store) -> Iterator[bytes]:
    """The export, line by line."""
    migrations = [r[0] for r in store.execute("SELECT name FROM schema_migrations ORDER BY name")]
    yield orjson.dumps({"format": FORMAT, "version": VERSION, "migrations": migrations,
                        "exported_at": time.time()}) + b"\n"
    for table in TABLES:
        cols = store.columns(table)
        for row in store.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            yield orjson.dumps({"table": table, "row": dict(zip(cols, row, strict=True))}) + b"\n"


def export_to(store: Store, path: Path | None, out: BinaryIO) -> int:
    """Write the export to `path` (created 0600) or `out`; returns the number of rows."""
    count = -1
    if path is not None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            for line in export_rows(store):
                f.write(line)
                count += 1
    else:
        for line in export_rows(store):
            out.write(line)
            count += 1
    return count


def import_lines(store: Store, lines: Iterable[bytes], batch: int = 500) -> dict[str, int]:
    """Load an export into an empty store; returns rows per table."""
    it = iter(lines)
    try:
        head = orjson.loads(next(it))
    except (StopIteration, orjson.JSONDecodeError):
        raise DumpError("not a unigate export: the first line is not its header") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise DumpError("not a unigate export: the first line is not its header")
    if head.get("version") != VERSION:
        raise DumpError(f"export format version {head.get('version')} is not supported (this unigate reads {VERSION})")
    have = {r[0] for r in store.execute("SELECT name FROM schema_migrations")}
    unknown = sorted(set(head.get("migrations") or []) - have)
    if unknown:
        raise DumpError(f"the export comes from a newer unigate (schema {', '.join(unknown)}): upgrade first")
    _require_empty(store)
    columns = {t: set(store.columns(t)) for t in TABLES}
    statements: list[tuple[str, tuple[Any, ...]]] = [(f"DELETE FROM {t} WHERE {w}", ()) for t, w in BUILT_IN.items()]
    counts: dict[str, int] = {}
    for n, line in enumerate(it, start=2):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            table, row = item["table"], item["row"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise DumpError(f"line {n}: not a row of the export") from None
        if table not in columns or not isinstance(row, dict) or not set(row) <= columns[table]:
            raise DumpError(f"line {n}: unknown table or columns ({table!r})")
        cols = list(row)
        statements.append((f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                           tuple(row[c] for c in cols)))
        counts[table] = counts.get(table, 0) + 1
    if "config_version" not in counts:
        statements.append(("INSERT INTO config_version VALUES (1, 1)", ()))
    if "groups" not in counts:
        statements.append(("INSERT INTO groups VALUES ('admins', 0) ON CONFLICT DO NOTHING", ()))
    statements.extend(store.after_import())
    store.transaction(statements, bump=True)  # one transaction: all of it, or none
    return counts


def _require_empty(store: Store) -> None:
    for table in TABLES:
        where = BUILT_IN.get(table)
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE NOT ({where})" if where else "")
        if store.execute(sql)[0][0]:
            raise DumpError(f"the target store is not empty (table {table} has rows): import into a new "
                            "data directory")
