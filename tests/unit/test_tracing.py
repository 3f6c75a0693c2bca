"""W3C Trace Context parsing and the tracer's sampling, and the `settings.tracing` and
`settings.metrics` configuration."""

from __future__ import annotations

import pytest

from unigate.config import ConfigError, parse_config
from unigate.observability.spans import KIND_CLIENT, KIND_SERVER, STATUS_ERROR, STATUS_UNSET, Span
from unigate.observability.tracing import Tracer, format_traceparent, parse_traceparent, server_address

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


class Sink:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    def add(self, span: Span) -> None:
        self.spans.append(span)


def test_traceparent_is_parsed_and_formatted() -> None:
    parsed = parse_traceparent(f"00-{TRACE}-{PARENT}-01")
    assert parsed == (bytes.fromhex(TRACE), bytes.fromhex(PARENT), True)
    assert parse_traceparent(f"00-{TRACE}-{PARENT}-00") == (bytes.fromhex(TRACE), bytes.fromhex(PARENT), False)
    assert format_traceparent(bytes.fromhex(TRACE), bytes.fromhex(PARENT), True) == f"00-{TRACE}-{PARENT}-01"
    # a later version may carry more fields; upper case is tolerated
    assert parse_traceparent(f"01-{TRACE}-{PARENT}-01-extra") is not None
    assert parse_traceparent(f"00-{TRACE.upper()}-{PARENT}-01") is not None


@pytest.mark.parametrize("bad", [None, "", "garbage", f"ff-{TRACE}-{PARENT}-01", f"00-{'0' * 32}-{PARENT}-01",
                                 f"00-{TRACE}-{'0' * 16}-01", f"00-{TRACE}-{PARENT}-01-extra",
                                 f"00-{TRACE[:-1]}-{PARENT}-01", f"00-{TRACE}-{PARENT}-1"])
def test_an_invalid_traceparent_starts_a_new_trace(bad: str | None) -> None:
    assert parse_traceparent(bad) is None
    span = Tracer(Sink()).start_request({"traceparent": bad} if bad else {}, "chat")
    assert span is not None and span.parent_span_id is None and span.trace_id != bytes.fromhex(TRACE)


def test_a_clients_sampled_flag_decides() -> None:
    tracer = Tracer(Sink(), sample_ratio=0.0)
    assert tracer.start_request({}, "chat") is None  # the gateway's own traces: none sampled
    assert tracer.start_request({"traceparent": f"00-{TRACE}-{PARENT}-00"}, "chat") is None
    span = tracer.start_request({"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "a=1"}, "chat")
    assert span is not None and span.trace_id.hex() == TRACE and span.parent_span_id == bytes.fromhex(PARENT)
    assert span.kind == KIND_SERVER and span.trace_state == "a=1"


def test_sampling_follows_the_ratio() -> None:
    tracer = Tracer(Sink(), sample_ratio=0.25)
    sampled = sum(tracer.start_request({}, "chat") is not None for _ in range(4000))
    assert 800 < sampled < 1200


def test_attempt_spans_are_children_and_errors_are_marked() -> None:
    sink = Sink()
    tracer = Tracer(sink)
    root = tracer.start_request({}, "chat")
    assert root is not None
    child = tracer.start_attempt(root, "chat gpt-4o", {"gen_ai.request.model": "gpt-4o"})
    assert child.trace_id == root.trace_id and child.parent_span_id == root.span_id and child.kind == KIND_CLIENT
    tracer.end(child, "upstream_timeout")
    tracer.end(root)
    assert [s.status_code for s in sink.spans] == [STATUS_ERROR, STATUS_UNSET]
    assert sink.spans[0].attributes["error.type"] == "upstream_timeout"
    assert all(s.end_ns >= s.start_ns > 0 for s in sink.spans)


def test_server_address_of_a_base_url() -> None:
    assert server_address("https://api.openai.com/v1") == {"server.address": "api.openai.com", "server.port": 443}
    assert server_address("http://127.0.0.1:8901") == {"server.address": "127.0.0.1", "server.port": 8901}


BASE = {"providers": [{"name": "p", "type": "openai", "api_key": "k"}],
        "endpoints": [{"name": "e", "destinations": [{"provider": "p", "model": "m"}]}]}


def test_tracing_and_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(BASE)
    assert config.tracing is None and config.metrics_access == "token"
    config = parse_config({**BASE, "settings": {"metrics": {"access": "open"}, "tracing": {
        "endpoint": "http://collector:4318", "headers": {"x-key": "${OTLP_KEY:-s3cret}"}, "sample_ratio": 0.5}}})
    assert config.metrics_access == "open"
    assert config.tracing is not None and config.tracing.endpoint == "http://collector:4318"
    assert config.tracing.headers == {"x-key": "s3cret"} and config.tracing.sample_ratio == 0.5
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    off = parse_config({**BASE, "settings": {"tracing": {"endpoint": "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"}}})
    assert off.tracing is None  # the variable unset: tracing stays off


@pytest.mark.parametrize("settings, message", [
    ({"metrics": {"access": "public"}}, "access: must be 'token' or 'open'"),
    ({"metrics": {"acess": "open"}}, "unknown field 'acess'"),
    ({"tracing": {"endpoint": "collector:4318"}}, "must be an http:// or https:// URL"),
    ({"tracing": {"endpoint": "http://c", "sample_ratio": 2}}, "sample_ratio: must be a number between 0 and 1"),
    ({"tracing": {"endpoint": "http://c", "sampling": 1}}, "unknown field 'sampling'"),
    ({"tracing": "http://c"}, "must be a mapping"),
])
def test_bad_observability_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, "settings": settings})
