"""An application: routes, the request limits, shared values, and the last word on any
error a handler did not turn into a response itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from unigate.errors import GatewayError
from unigate.observability.logs import ACCESS, log_request
from unigate.server.http.limits import RequestLimits
from unigate.server.http.request import Request
from unigate.server.http.response import AnyResponse, Response
from unigate.server.http.router import Router

log = logging.getLogger("unigate.http")
# Every response says how long the gateway itself spent on it, the provider's time excluded
# (RequestContext.headers sets it on queries; the rest get it here).
OVERHEAD_HEADER = "x-unigate-overhead-ms"
QUIET_PATHS = frozenset({"/healthz", "/health", "/readyz", "/metrics"})
# The answer to a request refused while its head was parsed (too long, malformed), before any
# route: (the path as far as it came, the error) -> (status, JSON body).
Refusal = Callable[[str, GatewayError], tuple[int, bytes]]


def generic_refusal(path: str, err: GatewayError) -> tuple[int, bytes]:
    return err.status, error_response(err.status, err.code, err.message).body


class Application:
    def __init__(self, max_body_bytes: int, limits: RequestLimits | None = None,
                 refusal: Refusal = generic_refusal) -> None:
        self.router = Router()
        self.max_body_bytes = max_body_bytes
        self.limits = limits or RequestLimits()
        self.refusal = refusal
        self._values: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value

    async def handle(self, request: Request) -> AnyResponse:
        started = time.perf_counter()
        handler, request.match_info = self.router.resolve(request.method, request.path, request.raw_path)
        response: AnyResponse
        try:
            if handler is None:
                response = error_response(404, "not_found", f"no such route: {request.method} {request.path}")
            else:
                response = await handler(request)
        except GatewayError as err:  # one a handler let through (a body over the limit)
            response = error_response(err.status, err.code, err.message)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            response = error_response(500, "internal_error", "internal error")
        if isinstance(response, Response) and OVERHEAD_HEADER not in response.headers:
            self._answered_alone(request, response, started)
        return response

    @staticmethod
    def _answered_alone(request: Request, response: Response, started: float) -> None:
        """Answered by the gateway alone (admin API, probes, errors): all its time is overhead."""
        overhead = (time.perf_counter() - started) * 1000.0
        response.headers = {**response.headers, OVERHEAD_HEADER: f"{overhead:.3f}"}
        # queries log their own line (RequestContext); probes and scrapes would drown the rest
        if request.path not in QUIET_PATHS and ACCESS.isEnabledFor(logging.INFO):
            status = response.status
            log_request(lambda: {"method": request.method, "path": request.path, "status": status,
                                 "latency_ms": round(overhead, 3)})


def error_response(status: int, code: str, message: str) -> Response:
    """The gateway's generic error shape, for answers given before any dialect is known."""
    body = {"error": {"message": message, "type": code, "code": code}}
    return Response(body=orjson.dumps(body), status=status, content_type="application/json")
