"""An OTLP/HTTP trace collector for tests: POST /v1/traces with a binary protobuf body, decoded
with the official generated classes (`opentelemetry-proto`), so the gateway's hand-written
encoder is checked against OpenTelemetry's own reading of it.

    url, collector, stop = start_collector()       # url: http://127.0.0.1:<port>/v1/traces
    spans = collector.wait_for(lambda s: len(s) >= 2)
    collector.requests[0]["headers"]["x-api-key"]
    collector.respond_with(503, times=1)           # the next POST fails, then 200 again
    stop()
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

SpanDict = dict[str, Any]


def any_value(v: AnyValue) -> Any:
    """An AnyValue as the Python value it holds (None when none is set)."""
    which = v.WhichOneof("value")
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return attributes(v.kvlist_value.values)
    return getattr(v, which) if which else None


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in kvs:
        out[kv.key] = any_value(kv.value)
    return out


def flatten(request: ExportTraceServiceRequest) -> list[SpanDict]:
    """One plain dict per span, with its resource's attributes and its scope's name."""
    out: list[SpanDict] = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append({
                    "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(), "name": s.name, "kind": s.kind,
                    "start_ns": s.start_time_unix_nano, "end_ns": s.end_time_unix_nano,
                    "attributes": attributes(s.attributes), "status_code": s.status.code,
                    "status_message": s.status.message, "trace_state": s.trace_state, "flags": s.flags,
                    "resource": resource, "scope": ss.scope.name, "scope_version": ss.scope.version,
                })
    return out


class Collector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[SpanDict] = []
        # One entry per POST, whatever its fate: {"path", "headers" (lower-case names),
        # "content_type", "spans" (how many it held, 0 when refused), "status" (the answer)}
        self.requests: list[dict[str, Any]] = []
        self.status = 200  # what the collector answers; see respond_with
        self._status_times: int | None = None
        self.delay = 0.0  # seconds to wait before answering (to test the exporter's timeout)

    def respond_with(self, status: int, times: int | None = None) -> None:
        """Answer `status` to the next `times` POSTs (all of them when None), then 200. A
        non-2xx answer stores nothing."""
        with self._lock:
            self.status, self._status_times = status, times

    def spans(self) -> list[SpanDict]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.requests.clear()

    def wait_for(self, predicate: Callable[[list[SpanDict]], bool], timeout: float = 10) -> list[SpanDict]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() >= deadline:
                names = [s["name"] for s in spans]
                raise AssertionError(f"collector: condition not met in {timeout} s; {len(spans)} spans received "
                                     f"in {len(self.requests)} POSTs: {names[:50]}")
            time.sleep(0.01)

    def _next_status(self) -> int:
        with self._lock:
            status = self.status
            if self._status_times is not None:
                self._status_times -= 1
                if self._status_times <= 0:
                    self.status, self._status_times = 200, None
            return status

    def _record(self, entry: dict[str, Any], spans: list[SpanDict]) -> None:
        with self._lock:
            self.requests.append(entry)
            self._spans.extend(spans)


def _handler(collector: Collector, connections: set[socket.socket]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real collector does
        timeout = 30

        def setup(self) -> None:
            super().setup()
            connections.add(self.connection)

        def finish(self) -> None:
            connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            entry: dict[str, Any] = {"path": self.path, "headers": headers,
                                     "content_type": headers.get("content-type", ""), "spans": 0}
            if collector.delay:
                time.sleep(collector.delay)
            if self.path.split("?")[0] != "/v1/traces":
                entry["status"] = 404
            elif entry["content_type"].split(";")[0].strip() != "application/x-protobuf":
                entry["status"] = 415
            else:
                entry["status"] = collector._next_status()
            spans: list[SpanDict] = []
            if entry["status"] == 200:
                try:
                    spans = flatten(ExportTraceServiceRequest.FromString(body))
                except DecodeError as e:
                    entry["status"], entry["error"] = 400, str(e)
            entry["spans"] = len(spans)
            collector._record(entry, spans)
            if entry["status"] == 200:
                self._answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
            else:
                self._answer(entry["status"], entry.get("error", "refused").encode())

    return Handler


def start_collector(port: int = 0) -> tuple[str, Collector, Callable[[], None]]:
    """(traces URL, collector, stop) for a collector on 127.0.0.1:`port` (0: any free port).
    stop() also cuts the connections kept alive, so the collector is really gone."""
    collector = Collector()
    connections: set[socket.socket] = set()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(collector, connections))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="otlp-collector", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        for conn in list(connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        thread.join(5)

    return f"http://127.0.0.1:{server.server_address[1]}/v1/traces", collector, stop
