"""The payloads table (migration 0003): writing batches, reading, and purging old rows.

Functions over a `Store` rather than methods on it, so the inference tables live in
one place, whichever database holds them."""

from __future__ import annotations

from typing import Any

from unigate.store.base import Store

PAYLOAD_COLUMNS = ("request_id", "event_time", "endpoint_name", "requester", "status_code",
                   "latency_ms", "request_body", "response_body", "not_stored_reason")
_INSERT = (f"INSERT INTO payloads ({', '.join(PAYLOAD_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in PAYLOAD_COLUMNS)}) ON CONFLICT DO NOTHING")


def insert_payloads(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """One transaction per batch; a request id already stored is ignored (retries are safe)."""
    if rows:
        store.execute_many(_INSERT, rows)  # on PostgreSQL one pipeline: no round trip per row


def payload_rows(store: Store, endpoint: str, limit: int = 100, offset: int = 0,
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


def purge_payloads(store: Store, endpoint: str, before: float) -> int:
    """Deletes the endpoint's rows older than `before` (unix seconds); returns how many."""
    rows = store.execute("DELETE FROM payloads WHERE endpoint_name = ? AND event_time < ? "
                         "RETURNING 1", (endpoint, before))
    return len(rows)
