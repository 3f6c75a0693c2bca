"""Per-request state: who asked, what for, where it went, and how it ended (the usage row)."""

from __future__ import annotations

import itertools
import logging
import os
import time
from typing import Any

import orjson

from unigate.accounting.usage import UsageRecord
from unigate.codecs.registry import FORMATS
from unigate.errors import GatewayError, parse_json_object
from unigate.governance.budgets.engine import BudgetHold
from unigate.governance.payloads import BodyCapture, PayloadRecord
from unigate.governance.ratelimit import Reservation
from unigate.ir.parameters import ParameterReport
from unigate.observability.logs import ACCESS, log_request
from unigate.observability.spans import Span
from unigate.observability.tracing import OPERATIONS, format_traceparent
from unigate.server.http import Request, Response, StreamResponse
from unigate.server.state import GatewayState, Principal
from unigate.server.upstream_http import ProviderClock

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


# Request ids: a random per-process prefix and a counter. uuid4 costs a getrandom() system
# call per request (~20 µs on a VM), this costs a string format. The prefix is drawn anew in
# each forked worker (the pid check), so workers never share one.
_id_state: tuple[int, str, itertools.count[int]] = (0, "", itertools.count())


def new_request_id() -> str:
    global _id_state
    pid, prefix, counter = _id_state
    if pid != os.getpid():
        pid, prefix, counter = _id_state = (os.getpid(), os.urandom(8).hex(), itertools.count())
    return f"{prefix}{next(counter):016x}"


class RequestContext:
    __slots__ = ("budget_hold", "capture", "clock", "deadline", "error", "fmt_name", "overhead_ms", "principal",
                 "raw_body", "record", "report", "request", "request_id", "reservation", "span", "state",
                 "stream_open", "t0", "trace_headers")

    def __init__(self, request: Request, state: GatewayState, api_type: str) -> None:
        self.request = request
        self.state = state
        self.request_id = request.headers.get("x-request-id") or new_request_id()
        self.t0 = time.perf_counter()
        self.clock = ProviderClock()  # time spent waiting on providers: the overhead is the rest
        self.overhead_ms: float | None = None  # once the response head is made
        self.error: GatewayError | None = None  # what the request failed with, if it did
        self.stream_open = False  # a streamed response has started
        state.metrics.in_flight += 1
        # Tracing: the request's span, and the trace headers each attempt sends its provider
        # (untraced: the client's own, passed on as they came)
        self.span: Span | None = None
        self.trace_headers: dict[str, str] | None = None
        tracer = state.tracer
        if tracer is not None:
            self.span = tracer.start_request(request.headers, OPERATIONS.get(api_type, api_type))
        if self.span is None and "traceparent" in request.headers:
            self.trace_headers = {name: value for name in ("traceparent", "tracestate")
                                  if (value := request.headers.get(name))}
        self.raw_body = b""
        self.principal: Principal | None = None
        self.fmt_name = api_type  # the client's wire format, once known (for payload folding)
        self.capture: BodyCapture | None = None  # set when the endpoint logs payloads
        self.reservation: Reservation | None = None  # rate-limit counters taken for this request
        self.budget_hold: BudgetHold | None = None  # spend budgets' reservation (governance.budgets)
        self.deadline: float | None = None  # perf_counter() by which every attempt must be done
        # what the translation of the current attempt dropped or emulated (None: fast path)
        self.report: ParameterReport | None = None
        self.record = UsageRecord(self.request_id, time.time(), api_type, request.path,
                                  request.headers.get("User-Agent"))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0

    def attempt_timeout(self, endpoint_timeout: float | None,
                        first_token_timeout: float | None = None) -> float | None:
        """How long the next attempt may wait for the provider's answer to start: what is left
        of the endpoint's total timeout (>= 1 ms), and for streams at most the first-token
        timeout (headers count: a provider that hangs before them is as slow to start)."""
        left = endpoint_timeout if self.deadline is None else max(0.001, self.deadline - time.perf_counter())
        if first_token_timeout is not None:
            return first_token_timeout if left is None else min(left, first_token_timeout)
        return left

    def mark_first_byte(self) -> None:
        if self.record.ttfb_ms is None:
            self.record.ttfb_ms = self.elapsed_ms()

    async def read_json(self) -> dict[str, Any]:
        """The request body as a JSON object; 413 over the size limit, 400 if not JSON."""
        self.raw_body = await self.request.read()
        return parse_json_object(self.raw_body)

    def attempt_trace(self, span: Span | None) -> None:
        """The trace headers the next attempt sends: its own span as the parent."""
        if span is not None:
            self.trace_headers = {"traceparent": format_traceparent(span.trace_id, span.span_id, True)}
            if span.trace_state:
                self.trace_headers["tracestate"] = span.trace_state

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The response head's headers; made once per response, when the overhead so far is
        the gateway's whole overhead for it (a stream's later chunks cost little: they are
        relayed or re-encoded as they come)."""
        overhead = self.overhead_ms = max(0.0, self.elapsed_ms() - self.clock.seconds * 1000.0)
        h = {"x-request-id": self.request_id, "x-unigate-overhead-ms": f"{overhead:.3f}"}
        report = self.report
        if report is not None:
            if report.dropped:
                h["x-unigate-dropped-parameters"] = ",".join(report.dropped)
            if report.emulated:
                h["x-unigate-emulated-parameters"] = ",".join(report.emulated)
        if extra:
            h.update(extra)
        return h

    def json_response(self, body: bytes, status: int = 200,
                      extra: dict[str, str] | None = None) -> Response:
        self.record.status_code = status
        if status == 200 and self.record.usage is None and self.fmt_name in FORMATS:
            self.record.estimate_from = (self.fmt_name, self.record.endpoint_name or "", self.raw_body, body)
        self.mark_first_byte()
        headers = self.headers(extra)
        headers["Content-Type"] = "application/json"
        if self.capture is not None:
            self.capture.add(body)
        return Response(body=body, status=status, headers=headers)

    async def open_stream(self) -> StreamResponse:
        """Send a 200 stream's head: from here on, failures are reported inside the stream."""
        out = StreamResponse(status=200, headers=self.headers(SSE_HEADERS))
        await out.prepare(self.request)
        self.mark_first_byte()
        self.record.status_code = 200
        self.stream_open = True
        self.state.metrics.streams += 1
        return out

    async def write(self, out: StreamResponse, data: bytes) -> None:
        """Write stream bytes to the client (and to the payload capture, when on)."""
        if self.capture is not None:
            self.capture.add(data)
        await out.write(data)

    def error_response(self, err: GatewayError, render: Any) -> Response:
        self.record.error_code = err.code
        self.error = err
        raw = getattr(err, "raw", None)
        if raw is not None and getattr(err, "raw_format", None) == self.fmt_name:
            return self.json_response(raw, err.status, err.headers)  # the provider's own words
        body = render(err)
        policy = getattr(err, "policy", None)
        if policy is not None:  # a guardrail's block says which guardrail, in every dialect
            body["unigate_policy"] = policy
        return self.json_response(orjson.dumps(body), err.status, err.headers)

    def finish(self) -> None:
        if self.record.status_code == 0:  # the handler was cancelled: the client went away
            self.record.status_code = 499
            self.record.error_code = "client_closed"
        self.record.latency_ms = self.elapsed_ms()
        r = self.record
        if r.usage is None and r.estimate_from is None and r.status_code == 200 and self.fmt_name in FORMATS:
            r.estimate_from = (self.fmt_name, r.endpoint_name or "", self.raw_body, None)  # a stream
        if self.reservation is not None:  # token limits settle on what was really used
            usage = self.record.usage
            used = usage.total_tokens if usage is not None else None
            if used is None and self.record.ttfb_ms is None:
                used = 0  # nothing reached the client: nothing was generated for it
            self.state.limiter.settle(self.reservation, used)
        if self.budget_hold is not None:  # budgets settle on the real cost (sets record.cost_usd)
            self.state.budgets.settle(self.budget_hold, self.record)
        self.state.usage.put(self.record)
        if self.capture is not None and self.state.payloads is not None:
            self.state.payloads.put(PayloadRecord(
                r.request_id, r.started, r.endpoint_name or "", self.fmt_name, self.raw_body,
                self.capture.data(), r.streaming, r.status_code, r.requester, r.latency_ms,
                len(self.raw_body), self.capture.size))
        self._observe()

    def _observe(self) -> None:
        """Metrics, the request's span and its log line."""
        r, m = self.record, self.state.metrics
        m.in_flight -= 1
        if self.stream_open:
            m.streams -= 1
        m.request_done(r, self.overhead_ms)
        limit = getattr(self.error, "limit", None)
        if limit is not None:  # RateLimited: which limit refused it
            m.add("unigate_rate_limit_refusals_total", (r.endpoint_name or "", *limit))
        if r.guardrails:
            for v in r.guardrails:
                m.add("unigate_guardrail_verdicts_total", (r.endpoint_name or "", v["name"], v["phase"], v["outcome"]))
        if self.span is not None:
            self._end_span()
        if ACCESS.isEnabledFor(logging.INFO):
            log_request(self.log_fields)  # called by the log writer's thread

    def log_fields(self) -> dict[str, Any]:
        r = self.record
        u = r.usage
        return {
            "request_id": r.request_id, "method": self.request.method, "path": r.url, "api": r.api_type,
            "endpoint": r.endpoint_name, "principal": r.requester, "principal_type": r.requester_type,
            "provider": r.destination_provider, "model": r.destination_model, "status": r.status_code,
            "error_code": r.error_code, "streaming": r.streaming,
            "latency_ms": _ms(r.latency_ms), "ttfb_ms": _ms(r.ttfb_ms), "overhead_ms": _ms(self.overhead_ms),
            "upstream_ms": _ms(self.clock.seconds * 1000.0), "attempts": len(r.routing),
            "input_tokens": u.input_tokens if u is not None else None,
            "output_tokens": u.output_tokens if u is not None else None,
            "trace_id": self.span.trace_id.hex() if self.span is not None else None,
        }

    def _end_span(self) -> None:
        span, r = self.span, self.record
        assert span is not None and self.state.tracer is not None
        operation = OPERATIONS.get(r.api_type, r.api_type)
        if r.endpoint_name:
            span.name = f"{operation} {r.endpoint_name}"
            span.attributes["gen_ai.request.model"] = r.endpoint_name
        a = span.attributes
        a["gen_ai.operation.name"] = operation
        a["http.request.method"] = self.request.method
        a["url.path"] = r.url
        a["http.response.status_code"] = r.status_code
        a["unigate.request_id"] = r.request_id
        a["unigate.api"] = r.api_type
        if r.requester:
            a["enduser.id"] = r.requester
        if r.session_id:
            a["gen_ai.conversation.id"] = r.session_id
        if r.destination_provider:
            a["unigate.provider"] = r.destination_provider
        if r.usage is not None:
            if r.usage.input_tokens is not None:
                a["gen_ai.usage.input_tokens"] = r.usage.input_tokens
            if r.usage.output_tokens is not None:
                a["gen_ai.usage.output_tokens"] = r.usage.output_tokens
        if self.overhead_ms is not None:
            a["unigate.overhead_ms"] = round(self.overhead_ms, 3)
        # a server span fails on 5xx; a 4xx is the client's mistake: named, not an error status
        if r.error_code and r.status_code < 500:
            a["error.type"] = r.error_code
        self.state.tracer.end(span, r.error_code or "error" if r.status_code >= 500 else None)


def _ms(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
