"""Choosing the store: a PostgreSQL URL (several instances share it) or an SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from unigate.store.base import Store
from unigate.store.postgres import PostgresStore, is_postgres_url
from unigate.store.sqlite import SQLiteStore

STORE_ENV = "UNIGATE_STORE_URL"


def store_location(configured: str | None, data_dir: Path) -> str:
    """The configuration's `store:`, else UNIGATE_STORE_URL, else the data directory's SQLite file."""
    return configured or os.environ.get(STORE_ENV) or str(data_dir / "unigate.db")


def open_store(location: str) -> Store:
    """`postgresql://user:password@host:5432/db` (libpq's URL, its query options included), or
    a path (`sqlite:///path` too) to an SQLite file."""
    if is_postgres_url(location):
        return PostgresStore(location)
    if location.startswith("sqlite:///"):
        location = location[len("sqlite://"):]
    return SQLiteStore(location)
