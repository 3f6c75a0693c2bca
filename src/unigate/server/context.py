"""Per-request state: who asked, what for, where it went, and how it ended (the usage row)."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import orjson

from unigate.accounting.usage import UsageRecord
from unigate.codecs.registry import FORMATS
from unigate.errors import GatewayError, parse_json_object
from unigate.governance.payloads import BodyCapture, PayloadRecord
from unigate.governance.ratelimit import Reservation
from unigate.ir.parameters import ParameterReport
from unigate.server.http import Request, Response, StreamResponse
from unigate.server.state import GatewayState, Principal

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
    __slots__ = ("capture", "deadline", "fmt_name", "principal", "raw_body", "record", "report",
                 "request", "request_id", "reservation", "state", "t0")

    def __init__(self, request: Request, state: GatewayState, api_type: str) -> None:
        self.request = request
        self.state = state
        self.request_id = request.headers.get("x-request-id") or new_request_id()
        self.t0 = time.perf_counter()
        self.raw_body = b""
        self.principal: Principal | None = None
        self.fmt_name = api_type  # the client's wire format, once known (for payload folding)
        self.capture: BodyCapture | None = None  # set when the endpoint logs payloads
        self.reservation: Reservation | None = None  # rate-limit counters taken for this request
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

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"x-request-id": self.request_id}
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

    async def write(self, out: StreamResponse, data: bytes) -> None:
        """Write stream bytes to the client (and to the payload capture, when on)."""
        if self.capture is not None:
            self.capture.add(data)
        await out.write(data)

    def error_response(self, err: GatewayError, render: Any) -> Response:
        self.record.error_code = err.code
        raw = getattr(err, "raw", None)
        if raw is not None and getattr(err, "raw_format", None) == self.fmt_name:
            return self.json_response(raw, err.status, err.headers)  # the provider's own words
        return self.json_response(orjson.dumps(render(err)), err.status, err.headers)

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
        self.state.usage.put(self.record)
        if self.capture is not None and self.state.payloads is not None:
            self.state.payloads.put(PayloadRecord(
                r.request_id, r.started, r.endpoint_name or "", self.fmt_name, self.raw_body,
                self.capture.data(), r.streaming, r.status_code, r.requester, r.latency_ms,
                len(self.raw_body), self.capture.size))
