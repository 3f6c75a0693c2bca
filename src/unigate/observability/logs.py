"""Logging: `--log-format text|json` and `--log-level`, and one line per request.

Lines are written by a background thread, so a slow terminal or a full pipe never stalls
requests, and the lines of many requests go out in one system call. A request's line is not a
`logging.LogRecord` (making and formatting one cost about 80 µs of CPU per request in the
benchmark): the request path queues a function that returns its fields, and the loop formats
the queued lines in small batches (`BackgroundHandler.request`).

A request's line names who asked for what and how it went (ids, endpoint, principal, status,
timings, tokens) and never a header, a body or a URL's query (where a Gemini key may be)."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any

import orjson

ACCESS = logging.getLogger("unigate.access")
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WRITE_INTERVAL = 0.05  # seconds between the writer's rounds; warnings and errors wake it at once
# Request lines are formatted on the event loop in batches this often: small batches (about 50
# lines at 5,000 requests/s) hold the loop for well under a millisecond at a time.
FORMAT_INTERVAL = 0.01

Fields = Callable[[], dict[str, Any]]


def _iso_time(created: float) -> str:
    t = time.gmtime(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(created * 1000) % 1000:03d}Z"


class LineFormatter(logging.Formatter):
    """A formatter of log records that also formats request lines."""

    def request_line(self, created: float, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonFormatter(LineFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the
    record's `fields` and the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _iso_time(record.created), "level": record.levelname.lower(),
                               "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()

    def request_line(self, created: float, fields: dict[str, Any]) -> str:
        return orjson.dumps({"time": _iso_time(created), "level": "info", "logger": ACCESS.name,
                             "message": "request", **fields}, default=str).decode()


class TextFormatter(LineFormatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        return line + " " + _pairs(fields) if fields else line

    def request_line(self, created: float, fields: dict[str, Any]) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
        return f"{stamp},{int(created * 1000) % 1000:03d} INFO {ACCESS.name}: request {_pairs(fields)}"


def _pairs(fields: dict[str, Any]) -> str:
    return " ".join([f"{k}={v}" for k, v in fields.items() if v is not None])


_TEXT = TextFormatter()


class BackgroundHandler(logging.Handler):
    """Formats and writes log records and request lines on a thread of its own (started in
    each process that logs: threads do not survive the supervisor's fork)."""

    MAX_QUEUED = 100_000  # beyond this (the output is stuck), new lines are dropped and counted

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        # log records, and formatted batches of request lines
        self._queue: deque[logging.LogRecord | str] = deque()
        self._requests: deque[tuple[float, Fields]] = deque()  # request lines to format
        self._timer: asyncio.TimerHandle | None = None
        self._wake = threading.Event()
        self._pid = 0
        self._fork_hook = False
        self._thread: threading.Thread | None = None
        self._writing = threading.Lock()  # the writer thread, or flush() in another
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        self._put(record)
        if record.levelno >= logging.WARNING:
            self._wake.set()

    def request(self, fields: Fields) -> None:
        """A request line, from the event loop: formatted there, in a batch every
        FORMAT_INTERVAL (a writer thread busy formatting contended with the loop for the GIL:
        13 µs of its CPU per line, and as much again in the loop), written by the writer thread."""
        self._requests.append((time.time(), fields))
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not on a loop: format now
                self._format_requests()
                return
            self._timer = loop.call_later(FORMAT_INTERVAL, self._format_requests)

    def _format_requests(self) -> None:
        self._timer = None
        formatter = self.formatter if isinstance(self.formatter, LineFormatter) else _TEXT
        batch, self._requests = self._requests, deque()
        lines = []
        for created, fields in batch:
            try:
                lines.append(formatter.request_line(created, fields()))
            except Exception:  # a line that cannot be made is not worth a failing request
                continue
        if lines:
            self._put("\n".join(lines))
            self._wake.set()

    def _put(self, item: logging.LogRecord | str) -> None:
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append(item)

    def _start(self) -> None:
        if not self._fork_hook:  # a forked child starts a writer of its own
            os.register_at_fork(after_in_child=self._forked)
            self._fork_hook = True
        self._pid = os.getpid()
        self._queue = deque()
        self._wake = threading.Event()
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def _forked(self) -> None:
        """In a forked child: the parent's writer thread is not here; the next line starts one."""
        self._thread = None
        self._queue = deque()
        self._requests = deque()
        self._timer = None
        self._writing = threading.Lock()

    def _run(self) -> None:
        while True:
            self._wake.wait(WRITE_INTERVAL)
            self._wake.clear()
            if self._queue:
                self._write_queued()

    def _write_queued(self) -> None:
        with self._writing:
            self._write_batch()

    def _write_batch(self) -> None:
        lines = []
        for _ in range(len(self._queue)):
            item = self._queue.popleft()
            try:
                lines.append(item if isinstance(item, str) else self.format(item))
            except Exception:
                if not isinstance(item, str):
                    self.handleError(item)
        if lines:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # the output went away (a closed pipe)
                pass

    def flush(self) -> None:
        """Writes what is queued, from the caller's thread (at exit, and in tests)."""
        if self._requests:
            if self._timer is not None:
                self._timer.cancel()
            self._format_requests()
        if self._thread is not None and self._pid == os.getpid():
            self._write_queued()


_handler: BackgroundHandler | None = None


def setup_logging(fmt: str = "text", level: str = "INFO", stream: IO[str] | None = None) -> None:
    global _handler
    handler = _handler = BackgroundHandler(stream or sys.stderr)
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


def log_request(fields: Fields) -> None:
    """One line for a finished request, at INFO (`--log-level warning` turns them off).
    `fields` is called later, by the writer thread: what it reads must not change any more."""
    if _handler is not None:
        _handler.request(fields)
    else:  # logging set up by someone else (an embedding program, tests): an ordinary record
        ACCESS.info("request", extra={"fields": fields()})
