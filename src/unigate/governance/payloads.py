"""Inference (payload) tables: request and response bodies of endpoints that opted in.

The request path only hands over raw bytes (`PayloadWriter.put(PayloadRecord(...))`, no
parsing, no I/O); the writer thread decodes them to text, folds a stream into the full
response it stood for, applies the 10 MiB limit and writes rows in batches. Like usage
rows, payload rows wait (bounded) while the store is unavailable and are written on a
clean shutdown. The same thread runs the retention purge."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from unigate.codecs.registry import FORMATS, WireFormat
from unigate.governance.retention import RetentionPurger, RetentionSource
from unigate.ir.fold import StreamFolder
from unigate.sse import SSEDecoder, SSEEvent
from unigate.store.base import Store
from unigate.store.payloads import insert_payloads

if TYPE_CHECKING:
    from unigate.governance.payload_spool import PayloadSpool

log = logging.getLogger("unigate.payloads")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
BATCH_BYTES = 32 * 1024 * 1024  # rows being written are held apart from the bounded queue


@dataclass(slots=True)
class PayloadRecord:
    """What the request path knows when a request of a payload-logging endpoint ends.

    `response_body` is the raw response the client got: the JSON bytes, or when `streaming`,
    the SSE bytes (or a streamed JSON array, `WireFormat.json_array_streams`). `fmt_name` is the
    client's wire format, a key of `codecs.registry.FORMATS` (any other name, such as an
    embeddings dialect's, is fine for unary responses). The sizes say how many bytes there were
    in all when the caller stopped keeping them (see `BodyCapture`); by default the lengths of
    the bodies."""

    request_id: str
    started: float  # time.time() at arrival, as in the usage row
    endpoint_name: str
    fmt_name: str
    request_body: bytes
    response_body: bytes
    streaming: bool = False
    status_code: int = 0
    requester: str | None = None
    latency_ms: float | None = None
    request_size: int | None = None
    response_size: int | None = None

    def weight(self) -> int:
        return len(self.request_body) + len(self.response_body)


class BodyCapture:
    """Collects a streamed response for the payload row without holding more than the limit:
    past `MAX_PAYLOAD_BYTES` it only counts (the row will say the response was too large)."""

    __slots__ = ("_chunks", "size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= MAX_PAYLOAD_BYTES:
            self._chunks.append(chunk)

    def data(self) -> bytes:
        return b"" if self.size > MAX_PAYLOAD_BYTES else b"".join(self._chunks)


def fold_stream_to_response(fmt_name: str, sse_bytes: bytes, endpoint_name: str) -> dict[str, Any]:
    """A client stream of format `fmt_name` → the full response body the same request would
    have got unary. Raises (GatewayError, KeyError, ValueError) when the stream cannot be
    read: an unknown format, malformed events, or an in-stream error event."""
    fmt = FORMATS[fmt_name]
    decoder = fmt.stream_decoder()
    folder = StreamFolder()
    for event in _stream_events(fmt, sse_bytes):
        for ir_event in decoder.feed(event):
            folder.add(ir_event)
    for ir_event in decoder.close():
        folder.add(ir_event)
    return fmt.encode_response(folder.response(), endpoint_name, None)  # type: ignore[arg-type]


def _stream_events(fmt: WireFormat, data: bytes) -> list[SSEEvent]:
    if fmt.json_array_streams and data.lstrip()[:1] == b"[":  # streams sent as one JSON array
        chunks = orjson.loads(data)
        if not isinstance(chunks, list):
            raise ValueError("a JSON stream must be an array")
        return [SSEEvent(orjson.dumps(c).decode()) for c in chunks]
    decoder = SSEDecoder()
    return decoder.feed(data) + decoder.close()


def _too_large(what: str, size: int) -> str:
    return f"{what} of {size} bytes exceeds the {MAX_PAYLOAD_BYTES} byte (10 MiB) payload limit"


def payload_row(r: PayloadRecord) -> tuple[Any, ...]:
    """The table row for a record: bodies as text, a stream folded; too large → no bodies and
    `not_stored_reason` saying which and how large. A stream that cannot be folded (cut off,
    or ended by an error event) is kept as the SSE text the client received."""
    request_size = r.request_size if r.request_size is not None else len(r.request_body)
    response_size = r.response_size if r.response_size is not None else len(r.response_body)
    reason: str | None = None
    request_text = response_text = None
    if request_size > MAX_PAYLOAD_BYTES:
        reason = _too_large("request body", request_size)
    elif response_size > MAX_PAYLOAD_BYTES:
        reason = _too_large("response body", response_size)
    else:
        request_text = r.request_body.decode("utf-8", "replace")
        response_text = _response_text(r)
        if len(response_text) > MAX_PAYLOAD_BYTES:
            reason = _too_large("folded response", len(response_text.encode()))
            request_text = response_text = None
    return (r.request_id, r.started, r.endpoint_name, r.requester, r.status_code, r.latency_ms,
            request_text, response_text, reason)


def safe_payload_row(record: PayloadRecord) -> tuple[Any, ...]:
    """`payload_row`, or a row that says why it could not be made: never lose the row to a
    decoding bug."""
    try:
        return payload_row(record)
    except Exception as e:
        log.exception("payload of %s could not be prepared", record.request_id)
        return (record.request_id, record.started, record.endpoint_name, record.requester,
                record.status_code, record.latency_ms, None, None, f"could not be prepared: {e}")


def _response_text(r: PayloadRecord) -> str:
    if r.streaming and r.status_code < 400 and r.response_body:
        try:
            folded = fold_stream_to_response(r.fmt_name, r.response_body, r.endpoint_name)
            return orjson.dumps(folded).decode()
        except Exception as e:  # keep what the client saw rather than nothing
            log.debug("stream of %s not folded (%s): storing it as received", r.request_id, e)
    return r.response_body.decode("utf-8", "replace")


class PayloadWriter:
    """A queue the request path appends to and a thread that turns records into rows and
    writes them in batches. Bounded by bytes: past `max_queued_bytes` (the store has been
    away long) the oldest records are dropped, counted in `dropped`, and logged."""

    # Small batches with a pause between them, as the usage writer does (accounting.usage):
    # building rows is Python code that holds the GIL the event loop waits for.
    SLICE_PAUSE = 0.0002  # seconds

    def __init__(self, store: Store, interval: float = 0.5, batch: int = 32,
                 max_queued_bytes: int = 256 * 1024 * 1024,
                 retention: RetentionSource | None = None, spool: PayloadSpool | None = None) -> None:
        self._store = store
        self._spool = spool  # records on disk until written (governance/payload_spool.py)
        self._overflowed = False  # records left the memory queue but not the spool
        self._interval = interval
        self._batch = batch
        self._max_bytes = max_queued_bytes
        self._queue: deque[PayloadRecord] = deque()
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, ...]] = []  # rows built but not yet written
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="payload-writer", daemon=True)
        self.purger = RetentionPurger(store, retention)
        self.dropped = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def set_retention_source(self, source: RetentionSource) -> None:
        """Where the purge reads {endpoint: retention days}; e.g.
        `lambda: retention_days(state.endpoints)`, read anew at each purge."""
        self.purger.source = source

    def start(self) -> None:
        self._thread.start()

    def put(self, record: PayloadRecord) -> None:
        """Called on the request path: O(1), never blocks on I/O."""
        weight = record.weight()
        with self._lock:
            self._queue.append(record)
            self._queued_bytes += weight
            while self._queued_bytes > self._max_bytes and len(self._queue) > 1:
                old = self._queue.popleft()
                self._queued_bytes -= old.weight()
                if self._spool is not None:
                    self._overflowed = True  # written from the spool once the store is back
                    continue
                self.dropped += 1
                log.error("payload queue full: dropped the payload row of %s", old.request_id)
        if self._spool is not None:  # queued first: see UsageWriter.put
            self._spool.append(record)

    def _take(self, most: int) -> list[PayloadRecord]:
        """The next batch: at most `most` and `batch` records and about BATCH_BYTES of bodies."""
        taken: list[PayloadRecord] = []
        size = 0
        with self._lock:
            while self._queue and len(taken) < min(most, self._batch) and size < BATCH_BYTES:
                record = self._queue.popleft()
                size += record.weight()
                taken.append(record)
            self._queued_bytes -= size
        return taken

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush()
            self.purger.maybe_purge()
        self._flush(final=True)

    def _flush(self, final: bool = False) -> None:
        if self._spool is not None and self._queue:
            self._spool.rotate()  # what is queued now is in the retired files
        queued = len(self._queue)  # only these (see UsageWriter._flush); at the end, all
        while self._pending or (self._queue and (queued > 0 or final)):
            if not self._pending:
                taken = self._take(queued if not final else len(self._queue))
                queued -= len(taken)
                self._pending = [safe_payload_row(r) for r in taken]
            try:
                insert_payloads(self._store, self._pending)
            except Exception as e:  # store unavailable: keep the rows and retry later
                log.warning("payload rows not written yet (%d pending, %d queued): %s",
                            len(self._pending), len(self._queue), e)
                if final:
                    time.sleep(0.5)  # bounded by the caller's join timeout
                    continue
                return
            self._pending = []
            if queued > 0 and not final:
                time.sleep(self.SLICE_PAUSE)
        if self._spool is not None:
            with self._lock:
                overflowed, self._overflowed = self._overflowed, False
            try:
                self._spool.flushed(self._store if overflowed else None)
            except Exception as e:  # the store went away again: the files stay, retried next time
                self._overflowed = True
                log.warning("spooled payload rows not written yet: %s", e)


    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._spool is not None:
            self._spool.close(clean=not self._queue and not self._pending and not self._thread.is_alive())
