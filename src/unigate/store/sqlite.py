"""The embedded SQLite store. Synchronous: it is used at start-up and from background
threads, never on the request path (see DESIGN.md, "The hot path")."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unigate.store.migrations import MIGRATIONS

TOKEN_PREFIX = "ug_"
ENV_ADMIN_TOKEN_ID = "env-admin"


def hash_token(token: str) -> str:
    """Tokens are long random strings, so one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(slots=True)
class TokenRow:
    token_id: str
    token_hash: str
    principal: str
    principal_type: str
    expires_at: float | None



class Duplicate(Exception):
    """A write would break a uniqueness rule (an object of that name exists), whatever the
    store behind it: callers answer 409."""

class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; returns their names."""
        applied: list[str] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                                 "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
                done = {r[0] for r in self._db.execute("SELECT name FROM schema_migrations")}
                for name, sql in MIGRATIONS:
                    if name in done:
                        continue
                    for statement in sql.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, time.time()))
                    applied.append(name)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return applied

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.IntegrityError as e:
                raise Duplicate(str(e)) from None

    # --- tokens --------------------------------------------------------------------------

    def create_token(self, principal: str, principal_type: str, comment: str | None = None,
                     lifetime_seconds: float | None = None,
                     token: str | None = None, token_id: str | None = None) -> tuple[str, str]:
        """Stores a token's hash; returns (token_id, token). The token itself is not kept."""
        token = token or new_token()
        token_id = token_id or secrets.token_hex(8)
        now = time.time()
        expires = now + lifetime_seconds if lifetime_seconds else None
        self.transaction([("INSERT INTO tokens (token_id, token_hash, principal, principal_type, comment,"
                           " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (token_id, hash_token(token), principal, principal_type, comment, now, expires))])
        return token_id, token

    def set_env_admin_token(self, token: str | None) -> None:
        """The token from UNIGATE_ADMIN_TOKEN replaces any earlier one from the environment."""
        self.transaction([("DELETE FROM tokens WHERE token_id = ?", (ENV_ADMIN_TOKEN_ID,))])
        if token:
            self.create_token("admin", "admin", "from UNIGATE_ADMIN_TOKEN", token=token,
                              token_id=ENV_ADMIN_TOKEN_ID)

    def has_admin_token(self) -> bool:
        rows = self._query("SELECT 1 FROM tokens WHERE principal_type = 'admin' AND revoked_at IS NULL")
        return bool(rows)

    def active_tokens(self) -> list[TokenRow]:
        rows = self._query("SELECT token_id, token_hash, principal, principal_type, expires_at "
                           "FROM tokens WHERE revoked_at IS NULL")
        return [TokenRow(*r) for r in rows]

    # --- configuration changes and audit --------------------------------------------------

    def execute(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement, committed (autocommit mode)."""
        return self._query(sql, args)

    def transaction(self, statements: list[tuple[str, tuple[Any, ...]]], bump: bool = True) -> None:
        """Several statements atomically; `bump` marks the configuration as changed, which
        every worker notices within a second and reloads its snapshot."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                if bump:
                    self._db.execute("UPDATE config_version SET version = version + 1 WHERE id = 1")
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as e:
                self._db.execute("ROLLBACK")
                raise Duplicate(str(e)) from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def config_version(self) -> int:
        return int(self._query("SELECT version FROM config_version WHERE id = 1")[0][0])

    def audit(self, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        self._query("INSERT INTO audit_log (event_time, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
                    (time.time(), actor, action, target, json.dumps(details) if details else None))

    # --- usage ---------------------------------------------------------------------------

    USAGE_COLUMNS = (
        "request_id", "event_time", "endpoint_name", "api_type", "url", "requester",
        "requester_type", "user_agent", "destination_provider", "destination_model",
        "status_code", "error_code", "streaming", "latency_ms", "time_to_first_byte_ms",
        "input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
        "cache_creation_input_tokens", "reasoning_tokens", "usage_estimated", "request_tags",
        "routing_information", "client_name", "client_version", "session_id",
        "dropped_parameters", "emulated_parameters", "mcp_service", "mcp_tool",
    )

    # Rows per INSERT statement: one statement for many rows releases and retakes the GIL once
    # (sqlite3 drops it around every step), where executemany did so for every row and made
    # the request thread wait for it each time. But sqlite3 binds a statement's parameters
    # holding the GIL: 512 rows (14,848 values) kept the event loop waiting ~2.5 ms; 64 rows
    # hold it ~0.3 ms.
    USAGE_ROWS_PER_STATEMENT = 64

    def insert_usage(self, rows: list[tuple[Any, ...]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                at = 0
                for size in _statement_sizes(len(rows), self.USAGE_ROWS_PER_STATEMENT):
                    part = rows[at:at + size]
                    at += size
                    self._db.execute(_usage_insert_sql(size), list(itertools.chain.from_iterable(part)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def touch_tokens(self, last_used: dict[str, float]) -> None:
        if last_used:
            with self._lock:
                self._db.executemany(
                    "UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE token_id = ?",
                    [(t, token_id) for token_id, t in last_used.items()])

    def usage_rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        cols = ", ".join(self.USAGE_COLUMNS)
        rows = self._query(f"SELECT {cols} FROM usage ORDER BY event_time DESC LIMIT ?", (limit,))
        return [dict(zip(self.USAGE_COLUMNS, r, strict=False)) for r in rows]


def _statement_sizes(rows: int, largest: int) -> list[int]:
    """Statement sizes that add up to `rows`: full ones, then the rest in powers of two. sqlite3
    keeps every distinct statement it prepared (up to 128, each the size of its SQL), so one
    statement per batch length made a worker's memory grow by ~60 MB over 300,000 requests;
    with these sizes it prepares at most 10."""
    sizes = [largest] * (rows // largest)
    rest, size = rows % largest, largest // 2
    while rest:
        if rest >= size:
            sizes.append(size)
            rest -= size
        size //= 2
    return sizes


@functools.lru_cache(maxsize=16)
def _usage_insert_sql(rows: int) -> str:
    """INSERT of `rows` usage rows in one statement (a full batch's text is built once)."""
    cols = SQLiteStore.USAGE_COLUMNS
    one = "(" + ", ".join("?" for _ in cols) + ")"
    return f"INSERT OR IGNORE INTO usage ({', '.join(cols)}) VALUES " + ", ".join([one] * rows)
