"""The embedded SQLite store: one file in the data directory, for one machine (all its workers
share the file through SQLite's WAL). One connection per process, serialised by a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from unigate.store.base import (
    ENV_ADMIN_TOKEN_ID,
    TOKEN_PREFIX,
    Duplicate,
    Exec,
    Store,
    T,
    TokenRow,
    hash_token,
    new_token,
)

__all__ = ["ENV_ADMIN_TOKEN_ID", "TOKEN_PREFIX", "Duplicate", "SQLiteStore", "TokenRow", "hash_token",
           "new_token"]


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")

    def __repr__(self) -> str:
        return f"SQLite at {self.path}"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def execute(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.IntegrityError as e:
                raise Duplicate(str(e)) from None

    def atomic(self, work: Callable[[Exec], T]) -> T:
        def run(sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            return self._db.execute(sql, args).fetchall()

        with self._lock:
            # IMMEDIATE takes the write lock now: two workers' read-then-write transactions
            # would otherwise deadlock into SQLITE_BUSY.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(run)
                self._db.execute("COMMIT")
                return result
            except sqlite3.IntegrityError as e:
                self._db.execute("ROLLBACK")
                raise Duplicate(str(e)) from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.atomic(lambda _run: self._db.executemany(sql, rows))

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.execute(f"PRAGMA table_info({table})")]
