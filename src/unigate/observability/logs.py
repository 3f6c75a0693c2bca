"""Logging: `--log-format text|json` and `--log-level`, and one line per request.

Lines are written by a background thread: the event loop only appends a record to a queue, so a
slow terminal or a full pipe never stalls requests, and a burst is written in few system calls.
A request's line names who asked for what and how it went (ids, endpoint, principal, status,
timings, tokens) and never a header, a body or a URL's query (where a Gemini key may be)."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from typing import IO, Any

import orjson

ACCESS = logging.getLogger("unigate.access")
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the
    record's `fields` (a request line's) and the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        t = time.gmtime(record.created)
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None and k != "message")
        return line


class BackgroundHandler(logging.Handler):
    """Formats and writes records on a thread of its own (started in each process that logs:
    threads do not survive the supervisor's fork)."""

    MAX_QUEUED = 100_000  # beyond this (the output is stuck), new lines are dropped and counted

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self._queue: deque[logging.LogRecord] = deque()
        self._wake = threading.Event()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self._pid != os.getpid():
            self._start()
        if len(self._queue) >= self.MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append(record)
        self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._queue = deque()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._write_queued()

    def _write_queued(self) -> None:
        lines = []
        while self._queue:
            record = self._queue.popleft()
            try:
                lines.append(self.format(record))
            except Exception:
                self.handleError(record)
        if lines:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # the output went away (a closed pipe)
                pass

    def flush(self) -> None:
        """Writes what is queued, from the caller's thread (at exit, and in tests)."""
        if self._thread is not None and self._pid == os.getpid():
            self._write_queued()


def setup_logging(fmt: str = "text", level: str = "INFO", stream: IO[str] | None = None) -> None:
    handler = BackgroundHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    atexit.register(handler.flush)


def flush_logs() -> None:
    """Write what is queued now (a worker about to leave with os._exit, which skips atexit)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def log_request(fields: dict[str, Any]) -> None:
    """One line for a finished request (at INFO: `--log-level warning` turns them off)."""
    ACCESS.info("request", extra={"fields": fields})
