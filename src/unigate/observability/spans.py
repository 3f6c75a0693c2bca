"""A finished span, as the tracer hands it to the exporter (OpenTelemetry's data model, the
few fields the gateway uses)."""

from __future__ import annotations

from dataclasses import dataclass, field

# SpanKind, as OTLP numbers it
KIND_INTERNAL, KIND_SERVER, KIND_CLIENT = 1, 2, 3
# Status codes, as OTLP numbers them
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2

AttributeValue = str | bool | int | float | list[str]


@dataclass(slots=True)
class Span:
    trace_id: bytes  # 16 bytes
    span_id: bytes  # 8 bytes
    parent_span_id: bytes | None  # 8 bytes; None for a root span
    name: str
    kind: int
    start_ns: int  # time.time_ns() at the start
    end_ns: int = 0
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    status_code: int = STATUS_UNSET
    status_message: str = ""
    trace_state: str = ""  # the W3C tracestate the client sent, passed on
    sampled: bool = True
