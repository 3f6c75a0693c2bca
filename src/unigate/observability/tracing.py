"""OpenTelemetry traces: a server span per request and a client span per attempt at a
destination, named and attributed by the GenAI semantic conventions (`gen_ai.*`), exported over
OTLP/HTTP (`observability.otlp`). Off unless `settings.tracing.endpoint` is set.

W3C Trace Context: a client's `traceparent` makes the request span its child (and its sampled
flag decides, as OpenTelemetry's parent-based sampler does); each attempt sends the provider a
`traceparent` naming the attempt's span, and the client's `tracestate` as it came. With tracing
off, the client's own headers are passed to the provider unchanged, so a trace the client runs
still reaches the provider."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

from unigate.observability.spans import KIND_CLIENT, KIND_SERVER, STATUS_ERROR, AttributeValue, Span

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

# The api_type of a query -> gen_ai.operation.name
OPERATIONS = {
    "chat": "chat", "responses": "chat", "anthropic_messages": "chat",
    "gemini_generateContent": "generate_content", "gemini_streamGenerateContent": "generate_content",
    "embeddings": "embeddings", "gemini_embedContent": "embeddings", "gemini_batchEmbedContents": "embeddings",
}


class SpanSink(Protocol):
    def add(self, span: Span) -> None: ...


def parse_traceparent(value: str | None) -> tuple[bytes, bytes, bool] | None:
    """(trace id, parent span id, sampled) from a W3C traceparent; None when absent or invalid
    (an invalid one is ignored, as the spec asks: a new trace starts)."""
    if not value:
        return None
    m = _TRACEPARENT.match(value.strip().lower())
    if m is None or m.group(1) == "ff" or m.group(2) == _ZERO_TRACE or m.group(3) == _ZERO_SPAN:
        return None
    if m.group(1) == "00" and m.group(5):  # version 00 has exactly four fields
        return None
    return bytes.fromhex(m.group(2)), bytes.fromhex(m.group(3)), bool(int(m.group(4), 16) & 1)


def format_traceparent(trace_id: bytes, span_id: bytes, sampled: bool) -> str:
    return f"00-{trace_id.hex()}-{span_id.hex()}-{'01' if sampled else '00'}"


def _span_id() -> bytes:
    while True:
        b = os.urandom(8)
        if b != bytes(8):
            return b


class Tracer:
    def __init__(self, sink: SpanSink, sample_ratio: float = 1.0) -> None:
        self.sink = sink
        self.sample_ratio = sample_ratio
        # random.random() rather than urandom for the sampling draw: it costs no system call
        self._random = random.Random()

    def start_request(self, headers: Mapping[str, str], name: str) -> Span | None:
        """The server span of a request, or None when this request is not sampled."""
        parent = parse_traceparent(headers.get("traceparent"))
        if parent is not None:
            trace_id, parent_id, sampled = parent
        else:
            trace_id, parent_id = os.urandom(16), None
            sampled = self.sample_ratio >= 1.0 or self._random.random() < self.sample_ratio
        if not sampled:
            return None
        return Span(trace_id, _span_id(), parent_id, name, KIND_SERVER, time.time_ns(),
                    trace_state=headers.get("tracestate", "")[:512])

    def start_attempt(self, parent: Span, name: str, attributes: dict[str, AttributeValue]) -> Span:
        return Span(parent.trace_id, _span_id(), parent.span_id, name, KIND_CLIENT, time.time_ns(),
                    attributes=attributes, trace_state=parent.trace_state)

    def end(self, span: Span, error: str | None = None) -> None:
        """Ends and exports the span; `error` (an error code) marks it failed. Otherwise its
        status stays unset, as the conventions ask of spans that did not fail."""
        span.end_ns = time.time_ns()
        if error is not None:
            span.status_code = STATUS_ERROR
            span.status_message = error
            span.attributes["error.type"] = error
        self.sink.add(span)


def server_address(url: str) -> dict[str, AttributeValue]:
    """server.address and server.port of a provider's base URL (attempt spans)."""
    parts = urlsplit(url)
    out: dict[str, AttributeValue] = {}
    if parts.hostname:
        out["server.address"] = parts.hostname
        out["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    return out
