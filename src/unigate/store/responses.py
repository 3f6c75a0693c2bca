"""Stored Responses (the agent loop's `store: true` and background mode): the conversation's
items up to a response and the Response object, so `previous_response_id`, `GET
/responses/{id}`, cancel and input items work from any worker, across restarts.

`owner` is the worker that runs a background response (host and pid): a response still
queued or in progress whose owner is gone is reported as failed."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import orjson

from unigate.store.base import Store

OWNER = f"{socket.gethostname()}:{os.getpid()}"
_COLUMNS = "response_id, endpoint_name, principal, principal_type, status, background, owner, items, response"


@dataclass(slots=True)
class StoredResponse:
    response_id: str
    endpoint_name: str
    principal: str
    principal_type: str
    status: str
    background: bool
    owner: str
    items: list[dict[str, Any]]  # the conversation's items before this response
    response: dict[str, Any]

    def live_status(self) -> str:
        """`status`, except that an unfinished response whose worker is gone has failed."""
        if self.status in ("queued", "in_progress") and not _alive(self.owner):
            return "failed"
        return self.status


def _alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: trust the row
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def save_response(store: Store, r: StoredResponse) -> None:
    now = time.time()
    store.execute(
        f"INSERT INTO responses ({_COLUMNS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(response_id) DO UPDATE SET status = excluded.status, response = excluded.response, "
        "updated_at = excluded.updated_at",
        (r.response_id, r.endpoint_name, r.principal, r.principal_type, r.status, int(r.background),
         r.owner, orjson.dumps(r.items).decode(), orjson.dumps(r.response).decode(), now, now))


def get_response(store: Store, response_id: str) -> StoredResponse | None:
    rows = store.execute(f"SELECT {_COLUMNS} FROM responses WHERE response_id = ?", (response_id,))
    if not rows:
        return None
    rid, endpoint, principal, ptype, status, background, owner, items, response = rows[0]
    return StoredResponse(rid, endpoint, principal, ptype, status, bool(background), owner,
                          orjson.loads(items), orjson.loads(response))


def request_cancel(store: Store, response_id: str) -> None:
    store.execute("UPDATE responses SET cancel_requested = 1 WHERE response_id = ?", (response_id,))


def cancel_requested(store: Store, response_id: str) -> bool:
    rows = store.execute("SELECT cancel_requested FROM responses WHERE response_id = ?", (response_id,))
    return bool(rows and rows[0][0])


def delete_response(store: Store, response_id: str) -> None:
    store.execute("DELETE FROM responses WHERE response_id = ?", (response_id,))
