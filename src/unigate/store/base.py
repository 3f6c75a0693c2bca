"""The store interface every backend implements (SQLite embedded, PostgreSQL shared), and what
they share: tokens, the configuration version, the audit log, usage rows, migrations.

Synchronous: the store is used at start-up, from background threads (usage and payload
writers, the snapshot watcher) and from handlers through asyncio.to_thread, never on the
request path (DESIGN.md, "The hot path"). SQL is written once, with `?` placeholders, in the
subset both databases speak; a backend translates placeholders, and the few expressions that
differ (JSON tags, time buckets) are class attributes here."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from unigate.store.migrations import MIGRATIONS

TOKEN_PREFIX = "ug_"
ENV_ADMIN_TOKEN_ID = "env-admin"
T = TypeVar("T")
# Runs one statement inside a transaction; returns its rows.
Exec = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


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


class StoreUnavailable(Exception):
    """The database does not answer (PostgreSQL down, the network between): callers answer
    503, writers keep their rows and retry, the request path keeps its last snapshot."""


USAGE_COLUMNS = (
    "request_id", "event_time", "endpoint_name", "api_type", "url", "requester",
    "requester_type", "user_agent", "destination_provider", "destination_model",
    "status_code", "error_code", "streaming", "latency_ms", "time_to_first_byte_ms",
    "input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
    "cache_creation_input_tokens", "reasoning_tokens", "usage_estimated", "request_tags",
    "routing_information", "client_name", "client_version", "session_id",
    "dropped_parameters", "emulated_parameters", "mcp_service", "mcp_tool",
    "guardrails", "cost_usd",
)


class Store(ABC):
    """What the gateway keeps: one database, whichever. Subclasses provide a connection and
    a transaction; everything else is shared SQL."""

    USAGE_COLUMNS = USAGE_COLUMNS
    # Rows per INSERT statement: one statement for many rows releases and retakes the GIL once
    # (the drivers drop it around every round trip), where executemany did so for every row and
    # made the request thread wait for it each time. But binding a statement's parameters holds
    # the GIL: 512 rows (14,848 values) kept the event loop waiting ~2.5 ms; 64 rows ~0.3 ms.
    USAGE_ROWS_PER_STATEMENT = 64
    # The (key, value) rows of a JSON object column, for FROM/JOIN; `{}` is the column.
    TAGS_OF = "json_each({})"
    # A unix-seconds column as an ISO 8601 minute ('2024-06-10T08:13:00Z'), hour
    # ('2024-06-10T08:00:00Z') and day ('2024-06-10'), in UTC.
    MINUTE_OF = "strftime('%Y-%m-%dT%H:%M:00Z', {}, 'unixepoch')"
    HOUR_OF = "strftime('%Y-%m-%dT%H:00:00Z', {}, 'unixepoch')"
    DAY_OF = "strftime('%Y-%m-%d', {}, 'unixepoch')"
    # Run first in the migration transaction, so instances starting together migrate in turn.
    MIGRATION_LOCK: str | None = None
    kind = "store"
    # Called (from the writing thread) after a transaction that bumped the configuration
    # version commits: the worker tells the other instances (unigate.server.change_notices).
    on_bump: Callable[[], None] | None = None

    # --- what a backend provides -----------------------------------------------------------

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def execute(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement, committed on its own; raises Duplicate on a uniqueness violation."""

    @abstractmethod
    def atomic(self, work: Callable[[Exec], T]) -> T:
        """`work` in one transaction: committed when it returns, rolled back when it raises."""

    @abstractmethod
    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement for each of `rows`, in one transaction."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """A table's column names, in their order."""

    def ddl(self, sql: str) -> str:
        """A migration's statements in this database's types (migrations are written in SQLite's)."""
        return sql

    def after_import(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Statements that end an import (e.g. moving identity sequences past imported ids)."""
        return []

    # --- shared ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; returns their names."""
        def work(run: Exec) -> list[str]:
            if self.MIGRATION_LOCK:
                run(self.MIGRATION_LOCK, ())
            run("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at "
                + self.ddl("REAL") + " NOT NULL)", ())
            done = {r[0] for r in run("SELECT name FROM schema_migrations", ())}
            applied: list[str] = []
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in self.ddl(sql).split(";"):
                    if statement.strip():
                        run(statement, ())
                run("INSERT INTO schema_migrations VALUES (?, ?)", (name, time.time()))
                applied.append(name)
            return applied
        return self.atomic(work)

    def transaction(self, statements: list[tuple[str, tuple[Any, ...]]], bump: bool = True) -> None:
        """Several statements atomically; `bump` marks the configuration as changed, which
        every worker of every instance notices within a second and reloads its snapshot."""
        def work(run: Exec) -> None:
            for sql, args in statements:
                run(sql, args)
            if bump:
                run("UPDATE config_version SET version = version + 1 WHERE id = 1", ())
        self.atomic(work)
        if bump and self.on_bump is not None:
            self.on_bump()

    # --- tokens ---------------------------------------------------------------------------

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
        return bool(self.execute("SELECT 1 FROM tokens WHERE principal_type = 'admin' AND revoked_at IS NULL"))

    def active_tokens(self) -> list[TokenRow]:
        rows = self.execute("SELECT token_id, token_hash, principal, principal_type, expires_at "
                            "FROM tokens WHERE revoked_at IS NULL")
        return [TokenRow(*r) for r in rows]

    def touch_tokens(self, last_used: dict[str, float]) -> None:
        if last_used:
            self.execute_many("UPDATE tokens SET last_used_at = ? WHERE token_id = ? "
                              "AND (last_used_at IS NULL OR last_used_at < ?)",
                              [(t, token_id, t) for token_id, t in last_used.items()])

    # --- configuration version and audit ------------------------------------------------------

    def config_version(self) -> int:
        return int(self.execute("SELECT version FROM config_version WHERE id = 1")[0][0])

    def audit(self, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        self.execute("INSERT INTO audit_log (event_time, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
                     (time.time(), actor, action, target, json.dumps(details) if details else None))

    # --- usage ----------------------------------------------------------------------------

    def insert_usage(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows in one transaction; a request id already stored is skipped (replays are safe)."""
        def work(run: Exec) -> None:
            at = 0
            for size in statement_sizes(len(rows), self.USAGE_ROWS_PER_STATEMENT):
                part = rows[at:at + size]
                at += size
                run(usage_insert_sql(size), tuple(itertools.chain.from_iterable(part)))
        self.atomic(work)

    def usage_rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        cols = ", ".join(self.USAGE_COLUMNS)
        rows = self.execute(f"SELECT {cols} FROM usage ORDER BY event_time DESC LIMIT ?", (limit,))
        return [dict(zip(self.USAGE_COLUMNS, r, strict=False)) for r in rows]


def statement_sizes(rows: int, largest: int) -> list[int]:
    """Statement sizes that add up to `rows`: full ones, then the rest in powers of two. Drivers
    keep the statements they prepared (sqlite3 up to 128, each the size of its SQL), so one
    statement per batch length made a worker's memory grow by ~60 MB over 300,000 requests;
    with these sizes there are at most 10."""
    sizes = [largest] * (rows // largest)
    rest, size = rows % largest, largest // 2
    while rest:
        if rest >= size:
            sizes.append(size)
            rest -= size
        size //= 2
    return sizes


_USAGE_INSERTS: dict[int, str] = {}


def usage_insert_sql(rows: int) -> str:
    """INSERT of `rows` usage rows in one statement (each size's text is built once)."""
    sql = _USAGE_INSERTS.get(rows)
    if sql is None:
        one = "(" + ", ".join("?" for _ in USAGE_COLUMNS) + ")"
        sql = _USAGE_INSERTS[rows] = (f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) VALUES "
                                      + ", ".join([one] * rows) + " ON CONFLICT DO NOTHING")
    return sql
