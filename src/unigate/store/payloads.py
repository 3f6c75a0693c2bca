"""The payloads table (migration 0003): writing batches, reading, and purging old rows.

Functions over a `SQLiteStore` rather than methods on it, so the inference tables live in
one place; a PostgreSQL store will offer the same three calls."""

from __future__ import annotations

from typing import Any

from unigate.store.sqlite import SQLiteStore

PAYLOAD_COLUMNS = ("request_id", "event_time", "endpoint_name", "requester", "status_code",
                   "latency_ms", "request_body", "response_body", "not_stored_reason")
_INSERT = (f"INSERT OR IGNORE INTO payloads ({', '.join(PAYLOAD_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in PAYLOAD_COLUMNS)})")


def insert_payloads(store: SQLiteStore, rows: list[tuple[Any, ...]]) -> None:
    """One transaction per batch; a request id already stored is ignored (retries are safe)."""
    store.transaction([(_INSERT, row) for row in rows], bump=False)


def payload_rows(store: SQLiteStore, endpoint: str, limit: int = 100, offset: int = 0,
                 start: float | None = None, end: float | None = None,
                 request_id: str | None = None) -> list[dict[str, Any]]:
    """An endpoint's payload rows, newest first."""
    sql = f"SELECT {', '.join(PAYLOAD_COLUMNS)} FROM payloads WHERE endpoint_name = ?"
    args: list[Any] = [endpoint]
    if start is not None:
        sql += " AND event_time >= ?"
        args.append(start)
    if end is not None:
        sql += " AND event_time < ?"
        args.append(end)
    if request_id is not None:
        sql += " AND request_id = ?"
        args.append(request_id)
    sql += " ORDER BY event_time DESC, request_id LIMIT ? OFFSET ?"
    rows = store.execute(sql, [*args, limit, offset])
    return [dict(zip(PAYLOAD_COLUMNS, r, strict=True)) for r in rows]


def purge_payloads(store: SQLiteStore, endpoint: str, before: float) -> int:
    """Deletes the endpoint's rows older than `before` (unix seconds); returns how many."""
    rows = store.execute("DELETE FROM payloads WHERE endpoint_name = ? AND event_time < ? "
                         "RETURNING 1", (endpoint, before))
    return len(rows)
