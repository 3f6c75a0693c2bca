"""The OTLP/HTTP exporter: its hand-written protobuf read back by OpenTelemetry's generated
classes, and its thread against the collector mock (tests/mocks/otlp_collector.py)."""

from __future__ import annotations

import base64
import logging
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.mocks.otlp_collector import Collector, any_value, flatten, start_collector
from unigate.observability.otlp import OtlpExporter, _any_value, _varint, encode_export_request
from unigate.observability.spans import KIND_CLIENT, KIND_SERVER, STATUS_ERROR, STATUS_OK, Span

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
ROOT_ID = bytes.fromhex("b7ad6b7169203331")
CHILD_ID = bytes.fromhex("00f067aa0ba902b7")
T0 = 1_700_000_000_123_456_789

ATTRIBUTES: dict[str, Any] = {
    "gen_ai.system": "openai",
    "unicode": "héllo wörld ✓ 日本語 🚀",
    "empty.string": "",
    "true": True,
    "false": False,
    "zero": 0,
    "int": 42,
    "negative": -1,
    "int64.min": -(1 << 63),
    "int64.max": (1 << 63) - 1,
    "float": 0.125,
    "float.negative": -3.5e-7,
    "float.zero": 0.0,
    "float.big": 1.7976931348623157e308,
    "list": ["a", "ß", ""],
    "empty.list": [],
}


def root_span(**kw: Any) -> Span:
    fields: dict[str, Any] = dict(
        trace_id=TRACE, span_id=ROOT_ID, parent_span_id=None, name="chat gpt-4o", kind=KIND_SERVER,
        start_ns=T0, end_ns=T0 + 2_500_000_000, attributes=dict(ATTRIBUTES), status_code=STATUS_ERROR,
        status_message="upstream said 500 — ünïcode", trace_state="vendor=a,other=b:c")
    fields.update(kw)
    return Span(**fields)


def child_span() -> Span:
    return Span(trace_id=TRACE, span_id=CHILD_ID, parent_span_id=ROOT_ID, name="attempt openai", kind=KIND_CLIENT,
                start_ns=T0 + 1000, end_ns=T0 + 2000, attributes={"server.port": 443}, status_code=STATUS_OK)


def decode(body: bytes) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    return req


# ---------------------------------------------------------------------------------------------
# The encoding

def test_every_field_round_trips_through_the_official_classes() -> None:
    resource = {"service.name": "unigate-test", "service.instance.id": "w-1", "process.pid": 1234,
                "deployment.is_canary": False, "host.arch": ["x86_64"]}
    body = encode_export_request([root_span(), child_span()], resource, "unigate", "0.1.0")
    req = decode(body)

    assert len(req.resource_spans) == 1
    rs = req.resource_spans[0]
    assert {kv.key: any_value(kv.value) for kv in rs.resource.attributes} == resource
    assert len(rs.scope_spans) == 1
    ss = rs.scope_spans[0]
    assert (ss.scope.name, ss.scope.version) == ("unigate", "0.1.0")
    assert len(ss.spans) == 2

    root, child = ss.spans
    assert root.trace_id == TRACE and root.span_id == ROOT_ID
    assert root.parent_span_id == b""  # omitted for a root span
    assert root.trace_state == "vendor=a,other=b:c"
    assert root.name == "chat gpt-4o"
    assert root.kind == KIND_SERVER
    assert root.start_time_unix_nano == T0 and root.end_time_unix_nano == T0 + 2_500_000_000
    assert root.status.code == STATUS_ERROR and root.status.message == "upstream said 500 — ünïcode"
    assert root.flags == 0x01  # sampled; "is remote" unknown
    assert [kv.key for kv in root.attributes] == list(ATTRIBUTES)  # order kept
    # The type of each value, as the oneof says
    kinds = {kv.key: kv.value.WhichOneof("value") for kv in root.attributes}
    assert kinds == {
        "gen_ai.system": "string_value", "unicode": "string_value", "empty.string": "string_value",
        "true": "bool_value", "false": "bool_value", "zero": "int_value", "int": "int_value",
        "negative": "int_value", "int64.min": "int_value", "int64.max": "int_value",
        "float": "double_value", "float.negative": "double_value", "float.zero": "double_value",
        "float.big": "double_value", "list": "array_value", "empty.list": "array_value"}
    assert {kv.key: any_value(kv.value) for kv in root.attributes} == ATTRIBUTES

    assert child.trace_id == TRACE and child.span_id == CHILD_ID and child.parent_span_id == ROOT_ID
    assert child.kind == KIND_CLIENT and child.name == "attempt openai"
    assert (child.start_time_unix_nano, child.end_time_unix_nano) == (T0 + 1000, T0 + 2000)
    assert child.trace_state == ""
    assert child.status.code == STATUS_OK and child.status.message == ""
    assert {kv.key: any_value(kv.value) for kv in child.attributes} == {"server.port": 443}

    # Fields in number order, defaults left out: exactly the official encoder's bytes
    assert req.SerializeToString() == body


def test_negative_ints_are_ten_byte_twos_complement_varints() -> None:
    assert _varint(-1) == b"\xff" * 9 + b"\x01"
    assert _varint(-(1 << 63)) == b"\x80" * 9 + b"\x01"
    assert _varint(0) == b"\x00" and _varint(300) == b"\xac\x02"
    for n in (-1, -2, -300, -(1 << 31), -(1 << 63)):
        encoded = _any_value(n)
        assert len(encoded) == 1 + 10  # key + varint
        assert encoded == AnyValue(int_value=n).SerializeToString()
        parsed = AnyValue()
        parsed.ParseFromString(encoded)
        assert parsed.int_value == n


def test_values_off_the_attribute_types() -> None:
    # An int out of int64 range becomes its exact decimal string; a NaN stays a double;
    # a lone surrogate, which UTF-8 cannot hold, is replaced rather than failing the batch.
    span = root_span(attributes={"huge": 1 << 70, "nan": math.nan, "surrogate": "a\ud800b",
                                 "tuple": ("x", "y")})
    got = flatten(decode(encode_export_request([span], {}, "s", "")))[0]["attributes"]
    assert got["huge"] == str(1 << 70)
    assert math.isnan(got["nan"])
    assert got["surrogate"] == "a?b"
    assert got["tuple"] == ["x", "y"]


def test_minimal_span_and_empty_request() -> None:
    span = Span(trace_id=TRACE, span_id=ROOT_ID, parent_span_id=None, name="", kind=0, start_ns=0,
                sampled=False)
    req = decode(encode_export_request([span], {}, "", ""))
    s = req.resource_spans[0].scope_spans[0].spans[0]
    assert (s.name, s.kind, s.start_time_unix_nano, s.end_time_unix_nano, s.flags) == ("", 0, 0, 0, 0)
    assert s.HasField("status") and s.status.code == 0
    assert len(decode(encode_export_request([], {}, "", "")).resource_spans[0].scope_spans[0].spans) == 0


# ---------------------------------------------------------------------------------------------
# The exporter against the collector mock

@pytest.fixture
def collector() -> Iterator[tuple[str, Collector]]:
    url, coll, stop = start_collector()
    yield url, coll
    stop()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


@pytest.fixture
def tracing_log() -> Iterator[Records]:
    logger = logging.getLogger("unigate.tracing")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def spans(n: int, prefix: str = "s") -> list[Span]:
    return [Span(trace_id=TRACE, span_id=(i + 1).to_bytes(8, "big"), parent_span_id=None, name=f"{prefix}{i}",
                 kind=KIND_SERVER, start_ns=T0 + i, end_ns=T0 + i + 1) for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_spans_arrive(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, resource={"service.instance.id": "w-1"}, scope_version="9.9", interval=0.05)
    exp.start()
    try:
        exp.add(root_span())
        exp.add(child_span())
        got = coll.wait_for(lambda s: len(s) == 2)
    finally:
        exp.stop()
    root, child = sorted(got, key=lambda s: s["parent_span_id"])
    assert root["trace_id"] == TRACE.hex() and root["span_id"] == ROOT_ID.hex() and root["parent_span_id"] == ""
    assert child["parent_span_id"] == ROOT_ID.hex()
    assert root["attributes"] == ATTRIBUTES
    assert root["resource"] == {"service.name": "unigate", "service.instance.id": "w-1"}
    assert (root["scope"], root["scope_version"]) == ("unigate", "9.9")
    assert (exp.exported, exp.failed, exp.dropped) == (2, 0, 0)
    assert coll.requests[0]["content_type"] == "application/x-protobuf"


def test_batches_of_at_most_batch_size(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, interval=0.05)
    for s in spans(1200):
        exp.add(s)
    exp.start()
    try:
        got = coll.wait_for(lambda s: len(s) == 1200)
    finally:
        exp.stop()
    assert sorted(s["name"] for s in got) == sorted(f"s{i}" for i in range(1200))
    sizes = [r["spans"] for r in coll.requests]
    assert len(sizes) >= 3 and max(sizes) <= 512 and sum(sizes) == 1200
    assert exp.exported == 1200


def test_a_full_batch_goes_before_the_interval(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, batch_size=10, interval=60)
    exp.start()
    try:
        for s in spans(25):
            exp.add(s)
        coll.wait_for(lambda s: len(s) == 20, timeout=3)  # two full batches; five wait for the interval
        time.sleep(0.1)
        assert len(coll.spans()) == 20 and exp.queued() == 5
    finally:
        exp.stop()
    assert len(coll.spans()) == 25  # stop() flushed the rest


def test_a_full_queue_drops_and_counts(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, max_queue=10, interval=0.05)
    for s in spans(15):
        exp.add(s)
    assert (exp.queued(), exp.dropped) == (10, 5)
    exp.start()
    exp.stop()
    assert sorted(s["name"] for s in coll.spans()) == sorted(f"s{i}" for i in range(10))
    assert (exp.exported, exp.dropped) == (10, 5)


def test_stop_flushes(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, interval=60)
    exp.start()
    for s in spans(5):
        exp.add(s)
    exp.stop()
    assert len(coll.spans()) == 5 and exp.exported == 5
    # never started: stop() flushes from the caller's thread
    exp2 = OtlpExporter(url, interval=60)
    exp2.add(spans(1, "late")[0])
    exp2.stop()
    assert [s["name"] for s in coll.spans()][-1] == "late0"


def test_configured_headers_arrive(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url, headers={"x-api-key": "sk-secret", "X-Tenant": "t1"}, interval=0.05)
    exp.start()
    try:
        exp.add(root_span())
        coll.wait_for(lambda s: len(s) == 1)
    finally:
        exp.stop()
    headers = coll.requests[0]["headers"]
    assert headers["x-api-key"] == "sk-secret" and headers["x-tenant"] == "t1"
    assert headers["content-type"] == "application/x-protobuf"


def test_userinfo_in_the_url_becomes_basic_authentication(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    exp = OtlpExporter(url.replace("http://", "http://otel%40user:p%3Ass@"), interval=0.05)
    assert "p%3Ass" not in exp.url
    exp.add(root_span())
    exp.stop()
    assert coll.requests[0]["headers"]["authorization"] == "Basic " + base64.b64encode(b"otel@user:p:ss").decode()


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_base_url_gets_v1_traces(collector: tuple[str, Collector], suffix: str) -> None:
    url, coll = collector
    base = url.removesuffix("/v1/traces") + suffix
    exp = OtlpExporter(base, interval=0.05)
    assert exp.url == url
    exp.start()
    try:
        exp.add(root_span())
        coll.wait_for(lambda s: len(s) == 1)
    finally:
        exp.stop()
    assert coll.requests[0]["path"] == "/v1/traces"


def test_a_full_url_is_kept() -> None:
    assert OtlpExporter("https://otel.example.com/otlp/v1/traces?x=1").url == "https://otel.example.com/otlp/v1/traces?x=1"
    assert OtlpExporter("https://user:pw@otel.example.com:8443").url == "https://otel.example.com:8443/v1/traces"
    with pytest.raises(ValueError):
        OtlpExporter("grpc://127.0.0.1:4317")


def test_a_collector_that_is_down_then_back(tracing_log: Records) -> None:
    port = free_port()
    exp = OtlpExporter(f"http://127.0.0.1:{port}/v1/traces", headers={"authorization": "Bearer sk-secret"},
                       timeout=1, interval=0.05)
    exp.start()
    try:
        for s in spans(3, "down"):
            exp.add(s)
        deadline = time.monotonic() + 5
        while exp.failed < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        for s in spans(2, "down-again"):
            exp.add(s)
        while exp.failed < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (exp.failed, exp.exported) == (5, 0)

        _, coll, stop = start_collector(port)
        try:
            for s in spans(4, "up"):
                exp.add(s)
            got = coll.wait_for(lambda s: len(s) == 4)
        finally:
            stop()
        assert sorted(s["name"] for s in got) == [f"up{i}" for i in range(4)]
        assert (exp.failed, exp.exported) == (5, 4)
    finally:
        exp.stop()
    warnings = [r for r in tracing_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, tracing_log.text()  # once per outage
    assert "ConnectionRefusedError" in warnings[0].getMessage()
    assert "works again" in tracing_log.text()
    assert "sk-secret" not in tracing_log.text()


def test_a_collector_answering_500_then_200(collector: tuple[str, Collector], tracing_log: Records) -> None:
    url, coll = collector
    coll.respond_with(500)
    exp = OtlpExporter(url, headers={"x-api-key": "sk-secret"}, interval=0.05)
    exp.start()
    try:
        exp.add(spans(1, "a")[0])
        coll.wait_for(lambda _: len(coll.requests) >= 1)
        exp.add(spans(1, "b")[0])
        coll.wait_for(lambda _: len(coll.requests) >= 2)
        coll.respond_with(200)
        exp.add(spans(1, "c")[0])
        got = coll.wait_for(lambda s: len(s) == 1)
    finally:
        exp.stop()
    assert got[0]["name"] == "c0"
    assert (exp.failed, exp.exported) == (2, 1)
    warnings = [r.getMessage() for r in tracing_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "HTTP 500" in warnings[0]
    assert "sk-secret" not in tracing_log.text()


def test_a_503_is_retried_once(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    coll.respond_with(503, times=1)
    exp = OtlpExporter(url, interval=0.05)
    exp.start()
    try:
        exp.add(root_span())
        coll.wait_for(lambda s: len(s) == 1, timeout=5)
    finally:
        exp.stop()
    assert [r["status"] for r in coll.requests] == [503, 200]
    assert (exp.failed, exp.exported) == (0, 1)


def test_a_slow_collector_times_out(collector: tuple[str, Collector]) -> None:
    url, coll = collector
    coll.delay = 0.6
    exp = OtlpExporter(url, timeout=0.2, interval=0.05)
    exp.start()
    try:
        exp.add(root_span())
        deadline = time.monotonic() + 3
        while exp.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert exp.failed == 1
        coll.delay = 0
        exp.add(child_span())
        coll.wait_for(lambda s: any(x["name"] == "attempt openai" for x in s))
    finally:
        exp.stop()
