"""A worker's usage rows on local disk until the store has them, so a killed worker (SIGKILL,
the OOM killer) loses no row of a request it finished.

Each row is appended to `<data dir>/spool/usage-<pid>-<token>-<n>.jsonl` when the request ends: one write
of one line, in the kernel's page cache once `write` returns, so it survives the process (not a
power cut: there is no fsync a request). The writer thread switches to a new file before each
flush and deletes the old ones once their rows are in the store. A worker that starts replays
the files of workers that are gone (ON CONFLICT DO NOTHING on the request id: a row written
twice is kept once) and deletes them. The files also outlast the writer's memory queue: when
it overflows during a long outage of the store, the rows it dropped are written from here."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import orjson

from unigate.store.base import Store

log = logging.getLogger("unigate.usage")
PREFIX, SUFFIX = "usage-", ".jsonl"


class Spool:
    """Append-only files of one worker's records, rotated before each flush and deleted once
    their records are in the store. Subclasses say what a record is and how a file's records
    are written into the store (`replay_file`)."""

    PREFIX, SUFFIX = PREFIX, SUFFIX

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self.token = secrets.token_hex(4)  # a later worker with the same pid is told apart
        self._serial = 0
        self._lock = threading.Lock()  # rotation (writer thread) against appends (event loop)
        self._path, self._fd = self._open()
        self._retired: list[Path] = []

    def _open(self) -> tuple[Path, int]:
        self._serial += 1
        path = self.directory / f"{self.PREFIX}{self._pid}-{self.token}-{self._serial}{self.SUFFIX}"
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append_parts(self, parts: list[bytes]) -> None:
        """On the request path: one writev syscall (no copy of large parts), under a lock that
        only a rotation holds."""
        with self._lock:
            os.writev(self._fd, parts)

    def rotate(self) -> None:
        """Before a flush: records from now on go to a new file; the current one is retired."""
        with self._lock:
            old_path, old_fd = self._path, self._fd
            self._path, self._fd = self._open()
        os.close(old_fd)
        self._retired.append(old_path)

    def flushed(self, store: Store | None = None) -> None:
        """Every record queued before the last rotation is in the store: its files can go. With
        `store`, some of those records were only on disk (the memory queue overflowed during a
        long outage): the files are written into the store first."""
        for path in self._retired:
            if store is not None:
                self.replay_file(store, path)
            path.unlink(missing_ok=True)
        self._retired.clear()

    def close(self, clean: bool) -> None:
        """At shutdown; `clean`: every record was written, so the current file goes too."""
        os.close(self._fd)
        if clean:
            self._retired.append(self._path)
            self.flushed()

    @classmethod
    def replay_file(cls, store: Store, path: Path) -> int:
        """Write one file's records into the store (those already there are skipped) and delete
        it; returns how many records it held."""
        raise NotImplementedError

    @classmethod
    def replay_gone(cls, store: Store, directory: Path, own_token: str = "") -> int:
        """Write the records of spool files whose worker is gone into the store; returns how many."""
        if not directory.is_dir():
            return 0
        total = 0
        for path in sorted(directory.glob(f"{cls.PREFIX}*{cls.SUFFIX}")):
            owner = _owner(path, cls.PREFIX, cls.SUFFIX)
            if owner is None or owner[1] == own_token:
                continue
            pid = owner[0]
            if pid != os.getpid() and _alive(pid):  # the same pid with another token: a predecessor
                continue
            total += cls.replay_file(store, path)
        if total:
            log.warning("replayed %d %s row(s) of worker(s) that stopped without writing them",
                        total, cls.PREFIX.rstrip("-"))
        return total


class UsageSpool(Spool):
    """Usage rows, one JSON array a line."""

    def append(self, row: tuple[Any, ...]) -> None:
        self.append_parts([orjson.dumps(row) + b"\n"])

    @classmethod
    def replay_file(cls, store: Store, path: Path, batch: int = 500) -> int:
        rows: list[tuple[Any, ...]] = []
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0  # another worker replayed it first
        for line in data.splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the last line of a worker killed mid-write
            # a row spooled by an older version lacks the columns added since: they stay empty
            if isinstance(row, list) and 0 < len(row) <= len(store.USAGE_COLUMNS):
                rows.append(tuple(row) + (None,) * (len(store.USAGE_COLUMNS) - len(row)))
        for at in range(0, len(rows), batch):
            store.insert_usage(rows[at:at + batch])
        path.unlink(missing_ok=True)
        return len(rows)


def replay_spools(store: Store, directory: Path, own_token: str = "") -> int:
    """The usage rows of workers that are gone, into the store; returns how many rows."""
    return UsageSpool.replay_gone(store, directory, own_token)


def _owner(path: Path, prefix: str, suffix: str) -> tuple[int, str] | None:
    """(pid, token) from <prefix><pid>-<token>-<n><suffix>."""
    parts = path.name.removeprefix(prefix).removesuffix(suffix).split("-")
    return (int(parts[0]), parts[1]) if len(parts) == 3 and parts[0].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
