"""OTLP/HTTP trace export, binary protobuf, standard library only.

`encode_export_request` writes an `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`
by hand: protobuf's wire format is small (a key -- field number and wire type -- then a varint, a
fixed-width number or a length-prefixed byte string), and the gateway uses few of OTLP's fields.
Fields are written in field-number order and proto3 defaults (0, "", b"") are left out, as the
official encoder does, so the bytes equal its own serialization of the same message.

`OtlpExporter` takes finished spans on the event loop's thread (`add`: a deque append, nothing
else) and a daemon thread POSTs them in batches to the collector (`http.client`, keep-alive).
A collector that is down or refuses costs the batch, counted in `failed` and logged once per
outage; the gateway never waits for it."""

from __future__ import annotations

import base64
import http.client
import logging
import math
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

from unigate.observability.spans import AttributeValue, Span

log = logging.getLogger("unigate.tracing")

SCOPE_NAME = "unigate"
TRACES_PATH = "/v1/traces"
CONTENT_TYPE = "application/x-protobuf"

# ---------------------------------------------------------------------------------------------
# Protobuf wire format

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5  # wire types
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_ONE_BYTE = [bytes((i,)) for i in range(0x80)]  # the varints of 0..127, most keys and lengths


def _varint(n: int) -> bytes:
    """Base-128, least significant group first. A negative int64 is its two's complement as an
    unsigned 64-bit number, hence always 10 bytes."""
    if 0 <= n < 0x80:
        return _ONE_BYTE[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _len_field(field: int, payload: bytes) -> bytes:
    """A string, bytes or embedded message: key, byte length, bytes."""
    return _key(field, _LEN) + _varint(len(payload)) + payload


def _utf8(s: str) -> bytes:
    # A lone surrogate cannot be UTF-8; the collector would reject the whole request for it.
    return s.encode("utf-8", "replace")


# Singular proto3 scalars: a default value is not written.

def _string(field: int, s: str) -> bytes:
    return _len_field(field, _utf8(s)) if s else b""


def _bytes(field: int, b: bytes | None) -> bytes:
    return _len_field(field, b) if b else b""


def _uint(field: int, n: int) -> bytes:  # int32/int64/uint*/enum, n >= 0
    return _key(field, _VARINT) + _varint(n) if n else b""


def _fixed64(field: int, n: int) -> bytes:
    return _key(field, _I64) + struct.pack("<Q", n) if n > 0 else b""


def _fixed32(field: int, n: int) -> bytes:
    return _key(field, _I32) + struct.pack("<I", n) if n else b""


# ---------------------------------------------------------------------------------------------
# opentelemetry/proto/common/v1/common.proto

def _any_value(v: object) -> bytes:
    """AnyValue. Its fields are a oneof, so the chosen one is written even when it holds its
    default (false, 0, "", an empty array): that is how a reader learns the type."""
    if isinstance(v, bool):  # before int: bool is an int
        return _key(2, _VARINT) + (b"\x01" if v else b"\x00")  # bool bool_value = 2
    if isinstance(v, int):
        if _INT64_MIN <= v <= _INT64_MAX:
            return _key(3, _VARINT) + _varint(v)  # int64 int_value = 3
        return _len_field(1, _utf8(str(v)))  # too big for int64: its decimal string, exact
    if isinstance(v, float):
        return _key(4, _I64) + struct.pack("<d", v)  # double double_value = 4
    if isinstance(v, list | tuple):
        # ArrayValue array_value = 5; ArrayValue { repeated AnyValue values = 1; }
        return _len_field(5, b"".join(_len_field(1, _any_value(x)) for x in v))
    if isinstance(v, bytes):
        return _len_field(7, v)  # bytes bytes_value = 7
    return _len_field(1, _utf8(v if isinstance(v, str) else str(v)))  # string string_value = 1


def _key_value(key: str, value: object) -> bytes:
    # KeyValue { string key = 1; AnyValue value = 2; }
    return _string(1, key) + _len_field(2, _any_value(value))


def _attributes(field: int, attributes: Mapping[str, object]) -> bytes:
    """repeated KeyValue attributes = field"""
    return b"".join(_len_field(field, _key_value(k, v)) for k, v in attributes.items())


def _scope(name: str, version: str) -> bytes:
    # InstrumentationScope { string name = 1; string version = 2; }
    return _string(1, name) + _string(2, version)


# ---------------------------------------------------------------------------------------------
# opentelemetry/proto/trace/v1/trace.proto

_FLAGS_SAMPLED = 0x01  # SPAN_FLAGS_TRACE_FLAGS_MASK: the W3C trace flags, sampled = bit 0


def _status(code: int, message: str) -> bytes:
    # Status { string message = 2; StatusCode code = 3; }  (field 1 is reserved)
    return _string(2, message) + _uint(3, code)


def _span(s: Span) -> bytes:
    # Span's flags carry the W3C trace flags in bits 0-7. Bits 8 and 9 (the parent is known to
    # be remote / is remote) are left clear: `Span` does not say, and clear means "unknown".
    flags = _FLAGS_SAMPLED if s.sampled else 0
    return b"".join((
        _bytes(1, s.trace_id),  # bytes trace_id = 1 (16 bytes)
        _bytes(2, s.span_id),  # bytes span_id = 2 (8 bytes)
        _string(3, s.trace_state),  # string trace_state = 3
        _bytes(4, s.parent_span_id),  # bytes parent_span_id = 4 (absent for a root span)
        _string(5, s.name),  # string name = 5
        _uint(6, s.kind),  # SpanKind kind = 6
        _fixed64(7, s.start_ns),  # fixed64 start_time_unix_nano = 7
        _fixed64(8, s.end_ns),  # fixed64 end_time_unix_nano = 8
        _attributes(9, s.attributes),  # repeated KeyValue attributes = 9
        _len_field(15, _status(s.status_code, s.status_message)),  # Status status = 15
        _fixed32(16, flags),  # fixed32 flags = 16
    ))


def encode_export_request(spans: Iterable[Span], resource: Mapping[str, AttributeValue], scope_name: str,
                          scope_version: str) -> bytes:
    """ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; } with one
    ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; } holding one
    ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }."""
    scope_spans = _len_field(1, _scope(scope_name, scope_version)) + b"".join(_len_field(2, _span(s)) for s in spans)
    resource_msg = _attributes(1, resource)  # Resource { repeated KeyValue attributes = 1; }
    resource_spans = _len_field(1, resource_msg) + _len_field(2, scope_spans)
    return _len_field(1, resource_spans)


# ---------------------------------------------------------------------------------------------
# The exporter

_RETRYABLE = frozenset((429, 502, 503, 504))  # OTLP/HTTP: retry these, drop on anything else
_RETRY_DELAY, _RETRY_DELAY_MAX = 0.5, 2.0
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class ExportError(Exception):
    pass


class OtlpExporter:
    """Batches finished spans and POSTs them to an OTLP/HTTP collector from a daemon thread.

    `endpoint` is the traces URL (http://host:4318/v1/traces); a URL without a path gets
    /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT does. `exported`, `failed` (spans whose POST
    failed) and `dropped` (spans refused by a full queue) count spans."""

    def __init__(self, endpoint: str, headers: dict[str, str] | None = None, timeout: float = 10.0,
                 resource: dict[str, AttributeValue] | None = None, scope_version: str = "",
                 max_queue: int = 4096, batch_size: int = 512, interval: float = 1.0) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OTLP endpoint must be an http:// or https:// URL, not {endpoint!r}")
        if batch_size < 1 or max_queue < 1 or interval <= 0 or timeout <= 0:
            raise ValueError("OTLP exporter: batch_size, max_queue, interval and timeout must be positive")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port  # None: the scheme's default
        path = parts.path if parts.path not in ("", "/") else TRACES_PATH
        self._target = path + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rpartition("@")[2]
        self.url = f"{parts.scheme}://{netloc}{self._target}"  # without the userinfo
        self._log_url = f"{parts.scheme}://{netloc}{path}"  # nor the query: it may hold a key
        self._headers = {"User-Agent": f"unigate/{scope_version}" if scope_version else "unigate"}
        if parts.username is not None:  # http://user:password@host/ -> Basic authentication
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode("ascii")
        self._headers.update((k, v) for k, v in (headers or {}).items() if k.lower() != "content-type")
        self._headers["Content-Type"] = CONTENT_TYPE
        self.timeout = timeout
        self.resource: dict[str, AttributeValue] = {"service.name": "unigate", **(resource or {})}
        self.scope_version = scope_version
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.interval = interval

        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self._queue: deque[Span] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stop_deadline = math.inf
        self._thread: threading.Thread | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._ssl: ssl.SSLContext | None = None
        self._outage = False
        self._outage_failed = 0

    # -- the event loop's side ------------------------------------------------------------------

    def add(self, span: Span) -> None:
        """Queue a finished span. Never blocks: a full queue drops the span (counted)."""
        queue = self._queue
        if len(queue) >= self.max_queue:
            self.dropped += 1
            return
        queue.append(span)
        if len(queue) >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def queued(self) -> int:
        return len(self._queue)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._stop_deadline = math.inf
        self._thread = threading.Thread(target=self._run, name="unigate-otlp-exporter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Export what is queued (for at most `timeout` seconds), then end the thread."""
        self._stop_deadline = time.monotonic() + timeout
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join(timeout)
        else:  # never started: flush from here
            self._flush(everything=True)
            self._close()

    # -- the exporter thread --------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self.interval
        while True:
            self._wake.wait(max(0.0, next_flush - time.monotonic()))
            self._wake.clear()
            stopping = self._stopping.is_set()
            due = stopping or time.monotonic() >= next_flush
            self._flush(everything=due)
            if due:
                next_flush = time.monotonic() + self.interval
            if stopping:
                self._close()
                return

    def _flush(self, everything: bool) -> None:
        """POST full batches; with `everything`, the last partial one too."""
        queue = self._queue
        while len(queue) >= self.batch_size or (everything and queue):
            if self._stopping.is_set() and time.monotonic() >= self._stop_deadline:
                return
            n = min(self.batch_size, len(queue))
            self._export([queue.popleft() for _ in range(n)])

    def _export(self, batch: list[Span]) -> None:
        try:
            body = encode_export_request(batch, self.resource, SCOPE_NAME, self.scope_version)
            self._post(body)
        except Exception as e:  # whatever it is, the thread must keep going
            self.failed += len(batch)
            self._outage_failed += len(batch)
            if not self._outage:
                self._outage = True
                log.warning("OTLP export to %s failed (%s); dropping spans until it succeeds",
                            self._log_url, _describe(e))
            return
        self.exported += len(batch)
        if self._outage:
            log.info("OTLP export to %s works again (%d spans were dropped)", self._log_url, self._outage_failed)
            self._outage = False
            self._outage_failed = 0

    def _post(self, body: bytes) -> None:
        status, retry_after = self._request(body)
        if status in _RETRYABLE:  # once, after a short pause
            delay = min(retry_after if retry_after is not None else _RETRY_DELAY, _RETRY_DELAY_MAX)
            if time.monotonic() + delay < self._stop_deadline:
                time.sleep(delay)
                status, _ = self._request(body)
        if not 200 <= status < 300:
            raise ExportError(f"HTTP {status}")

    def _request(self, body: bytes) -> tuple[int, float | None]:
        """(status, Retry-After in seconds) of one POST; a connection kept alive from an earlier
        POST that the collector has since closed is reopened once."""
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request("POST", self._target, body=body, headers=self._headers)
                resp = conn.getresponse()
                resp.read()
            except _STALE_CONNECTION:
                self._close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                self._close()
                raise
            if resp.will_close:
                self._close()
            return resp.status, _retry_after(resp.getheader("Retry-After"))
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            timeout = self.timeout
            if self._stopping.is_set():
                timeout = max(0.1, min(timeout, self._stop_deadline - time.monotonic()))
            if self._https:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: not worth parsing for a pause capped at 2 s
        return None


def _describe(e: BaseException) -> str:
    """The error for the log: its type and message, which name no header."""
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
