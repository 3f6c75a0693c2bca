"""What load balancers, orchestrators and Prometheus ask: `GET /healthz` (the process answers),
`GET /readyz` (it can serve: the store and Redis answer) and `GET /metrics`."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from unigate.errors import GatewayError, PermissionDenied
from unigate.governance.ratelimit.resp import RespClient
from unigate.observability import prometheus
from unigate.server.auth import authenticate_fresh
from unigate.server.http import Request, Response, Router
from unigate.server.http.application import error_response
from unigate.server.state import GatewayState

log = logging.getLogger("unigate.probes")

METRICS_GROUP = "metrics-readers"  # members may read /metrics when it needs a token
READY_CACHE_SECONDS = 1.0  # probes every few hundred ms from many balancers cost one check a second
STORE_TIMEOUT, REDIS_TIMEOUT = 2.0, 1.0


class Readiness:
    """The last verdict, kept for a second; one check runs at a time however many probes wait."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self._checked_at = -1e9
        self._checks: dict[str, str] = {}
        self._running: asyncio.Task[dict[str, str]] | None = None
        self._down: frozenset[str] = frozenset()

    async def checks(self) -> dict[str, str]:
        if time.monotonic() - self._checked_at < READY_CACHE_SECONDS:
            return self._checks
        if self._running is None:
            self._running = asyncio.create_task(self._check())
        try:
            return await asyncio.shield(self._running)
        finally:
            if self._running is not None and self._running.done():
                self._running = None

    async def _check(self) -> dict[str, str]:
        checks = {"store": await self._store()}
        if self.state.redis is not None:
            checks["redis"] = await self._redis(self.state.redis)
        down = frozenset(name for name, verdict in checks.items() if verdict != "ok")
        if down != self._down:  # the details go to the log, not to anonymous callers
            log.warning("readiness: %s", ", ".join(f"{k} {v}" for k, v in checks.items()))
            self._down = down
        self._checks, self._checked_at = checks, time.monotonic()
        return checks

    async def _store(self) -> str:
        try:  # the store's calls block: in a thread, so the loop keeps serving meanwhile
            await asyncio.wait_for(asyncio.to_thread(self.state.store.config_version), STORE_TIMEOUT)
            return "ok"
        except TimeoutError:
            return "timeout"
        except Exception as e:
            log.debug("store check failed: %s", e)
            return "unavailable"

    async def _redis(self, redis: RespClient) -> str:
        try:
            answer = await asyncio.wait_for(redis.call("PING"), REDIS_TIMEOUT)
        except TimeoutError:
            return "timeout"
        except Exception as e:
            log.debug("redis check failed: %s", e)
            return "unavailable"
        return "ok" if answer in (b"PONG", "PONG") else "unavailable"


def add_routes(router: Router, state: GatewayState) -> None:
    readiness = Readiness(state)

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await readiness.checks()
        down = sorted(name for name, verdict in checks.items() if verdict != "ok")
        if down:
            return _json({"status": "unavailable", "down": down, "checks": checks}, 503,
                         {"Retry-After": "1"})
        return _json({"status": "ready", "checks": checks})

    async def metrics(request: Request) -> Response:
        if state.file_config.metrics_access != "open":
            try:
                p = await authenticate_fresh(request, state)
                if not state.is_admin(p) and METRICS_GROUP not in state.snap.groups_of.get((p.type, p.name), ()):
                    raise PermissionDenied(f"reading metrics takes an administrator's token or membership "
                                           f"of the group '{METRICS_GROUP}'")
            except GatewayError as e:
                return error_response(e.status, e.code, e.message)
        body = prometheus.render(state.metrics.scrape())
        return Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE, "Cache-Control": "no-store"})

    router.add_get("/healthz", healthz)
    router.add_get("/health", healthz)  # the name earlier versions answered on
    router.add_get("/readyz", readyz)
    router.add_get("/metrics", metrics)


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=orjson.dumps(data), status=status, headers={"Content-Type": "application/json",
                                                                       "Cache-Control": "no-store",
                                                                       **(headers or {})})
