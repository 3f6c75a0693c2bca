"""Raw HTTP for tests that need to see exact statuses, headers and bytes."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(method: str, url: str, body: bytes | dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> Reply:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def until_stable(check: Callable[[], bool], timeout: float = 5.0, times: int = 6) -> None:
    """Wait until `check` holds `times` times in a row: each request may reach another worker,
    and each worker picks an admin change up on its own (within about a second)."""
    deadline = time.monotonic() + timeout
    held = 0
    while held < times:
        held = held + 1 if check() else 0
        if held == 0:
            assert time.monotonic() < deadline, "the change did not reach every worker in time"
            time.sleep(0.05)


def raw_exchange(url: str, pieces: list[bytes], timeout: float = 10) -> Reply:
    """Bytes written as they are (in these pieces) on one connection, and the one answer read
    until the gateway closes it: for requests no HTTP client would send. A gateway that closes
    while pieces are still going (it refused the head) ends the writing, not the test."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as s:
        for piece in pieces:
            try:
                s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass  # refused with unread bytes behind: the answer came before the reset
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    return Reply(status, headers, body)
