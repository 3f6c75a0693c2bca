"""Everything a worker needs at request time, in memory: the snapshot (configuration, provider
adapters, tokens, memberships, grants), the pooled upstream HTTP session, the usage writer.

A watcher thread polls the store's configuration version a few times a second and swaps in a
fresh snapshot when it changed, so admin changes (a revoked token, a new grant, an edited
endpoint) reach every worker within a second."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

from unigate.accounting.prices import Pricing
from unigate.accounting.usage import UsageRecord, UsageWriter
from unigate.agent.mcp_client import McpSession
from unigate.config import EndpointConfig, GatewayConfig
from unigate.governance.budgets.engine import Budgets
from unigate.governance.budgets.ledger import Ledger, LocalLedger
from unigate.governance.payloads import PayloadWriter
from unigate.governance.ratelimit import CounterBackend, LocalBackend, RateLimiter
from unigate.governance.ratelimit.resp import RespClient
from unigate.observability.metrics import WorkerMetrics
from unigate.observability.tracing import Tracer
from unigate.providers import Provider
from unigate.routing.health import Health
from unigate.server.snapshot import ADMINS_GROUP, MANAGE, Identity, Snapshot, load_snapshot
from unigate.server.upstream_http import UpstreamClient
from unigate.store.base import Store

log = logging.getLogger("unigate.state")
RELOAD_INTERVAL = 0.25  # seconds between configuration-version checks
# With Redis change notices a change wakes the watcher at once; the poll is only the safety net
# for a notice lost while Redis was away, so it can query a shared database less often.
NOTICED_RELOAD_INTERVAL = 1.0
CATCH_UP_INTERVAL = 0.05  # seconds between catch_up's version checks (a cheap query; bounds the wait)
CATCH_UP_TIMEOUT = 2.0
UPSTREAM_CONNECTIONS_PER_HOST = 512


@dataclass(slots=True)
class Principal:
    name: str
    type: str  # "admin" | "user" | "service_principal"
    token_id: str = ""


class GatewayState:
    def __init__(self, config: GatewayConfig, store: Store, usage: UsageWriter,
                 counters: CounterBackend | None = None, ledger: Ledger | None = None) -> None:
        self.file_config = config
        # Counters shared by every worker of this host (created before the fork).
        self.limiter = RateLimiter(counters or LocalBackend())
        # This worker's view of failing destinations.
        self.health = Health(config.health_failures, config.health_cool_down)
        self.store = store
        self.usage = usage
        self.snap: Snapshot = load_snapshot(store, config.max_body_bytes, config.source, config.key_env)
        usage.pricing = self.pricing  # rows are priced by the configuration current when written
        self.session: UpstreamClient | None = None
        self.payloads: PayloadWriter | None = None  # set by the worker when it starts
        # background agent loops running in this worker, by response id (agent.background)
        self.background: dict[str, asyncio.Task[None]] = {}
        # upstream MCP sessions of registered services (agent.mcp_governance.session_for)
        self.mcp_sessions: dict[str, McpSession] = {}
        self.closing: set[asyncio.Task[None]] = set()  # sessions of changed services, closing
        self.metrics = WorkerMetrics()  # this worker's counts (observability.metrics_board shares them)
        self.tracer: Tracer | None = None  # set by the worker when tracing is configured
        self.redis: RespClient | None = None  # the worker's Redis connection, when there is one (/readyz)
        self._stop = threading.Event()
        self._wake = threading.Event()  # a change notice: check the version now
        self.reload_interval = RELOAD_INTERVAL
        self._watcher: threading.Thread | None = None
        self._catching: asyncio.Future[Snapshot | None] | None = None  # catch_up's check under way
        self._catching_since = self._caught_up_at = float("-inf")
        # Spend budgets, counted in `ledger`: shared memory for this host's workers, or Redis.
        self.budgets = Budgets(self, ledger or LocalLedger(), config.rate_limit_failure)

    # --- the snapshot ------------------------------------------------------------------

    @property
    def config(self) -> GatewayConfig:
        return self.snap.config

    @property
    def endpoints(self) -> dict[str, EndpointConfig]:
        return self.snap.config.endpoints

    @property
    def providers(self) -> dict[str, Provider]:
        return self.snap.providers

    def pricing(self) -> Pricing:
        """The current configuration's prices (any thread: one attribute read)."""
        return self.snap.pricing

    def record_cost(self, record: UsageRecord) -> float | None:
        """USD a finished request cost (the usage row's cost_usd), by the current prices: cheap
        enough for the event loop. None without usage (an estimate comes later, in the writer)."""
        return self.snap.pricing.record_cost(record)

    def reload(self) -> None:
        """Load a fresh snapshot now (synchronously)."""
        self.snap = load_snapshot(self.store, self.file_config.max_body_bytes, self.file_config.source,
                                  self.file_config.key_env)

    async def catch_up(self) -> bool:
        """Load the store's newer configuration now, if there is one: for a credential, an
        endpoint or a grant this worker does not know, which another worker (or instance) may
        have made a moment ago (an OAuth token bought, a token or an endpoint just created).
        True when the snapshot changed.

        One version check at a time, at most one per CATCH_UP_INTERVAL, shared by the requests
        waiting on it (unknown tokens cannot make a worker hammer the store); a request joins
        only a check that began after its own miss, whose answer is fresh enough for it."""
        before, missed_at = self.snap, time.monotonic()
        while True:
            task = self._catching
            if task is not None and self._catching_since >= missed_at:
                break
            if task is not None:  # began before this miss: let it end, then start a new one
                await asyncio.wait([task], timeout=CATCH_UP_TIMEOUT)
                if not task.done():
                    return self.snap is not before
                continue
            wait = self._caught_up_at + CATCH_UP_INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._caught_up_at = self._catching_since = time.monotonic()
            task = self._catching = asyncio.ensure_future(asyncio.to_thread(self._newer_snapshot))
            task.add_done_callback(self._caught_up)
            break
        try:
            await asyncio.wait_for(asyncio.shield(task), CATCH_UP_TIMEOUT)
        except Exception:  # noqa: BLE001 - the store is slow or away: the caller's answer stands
            pass
        return self.snap is not before

    def _caught_up(self, task: asyncio.Future[Snapshot | None]) -> None:
        self._catching = None
        if task.cancelled() or task.exception() is not None:
            return
        snap = task.result()
        if snap is not None and snap.version != self.snap.version:  # (the watcher may have been first)
            self.snap = snap

    def _newer_snapshot(self) -> Snapshot | None:
        if self.store.config_version() == self.snap.version:
            return None
        return load_snapshot(self.store, self.file_config.max_body_bytes, self.file_config.source,
                             self.file_config.key_env)

    def poke(self) -> None:
        """Check the configuration version now (a change notice arrived); any thread."""
        self._wake.set()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        failing = False  # said once when the store goes away, once when it is back
        while True:
            self._wake.wait(self.reload_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self.store.config_version() != self.snap.version:
                    snap = load_snapshot(self.store, self.file_config.max_body_bytes, self.file_config.source,
                                         self.file_config.key_env)
                    loop.call_soon_threadsafe(setattr, self, "snap", snap)
            except Exception as e:  # keep serving the last good snapshot (tokens, grants, endpoints)
                if not failing:
                    log.warning("configuration reload failed, serving the previous one until it works: %s", e)
                failing = True
                continue
            if failing:
                log.warning("configuration reload works again")
                failing = False

    # --- who may do what ----------------------------------------------------------------

    def principal_for(self, token_hash: str) -> Principal | None:
        row = self.snap.tokens.get(token_hash)
        if row is None or (row.expires_at is not None and row.expires_at < time.time()):
            return None
        return Principal(row.principal, row.principal_type, row.token_id)

    def identities(self, p: Principal) -> list[Identity]:
        me: Identity = (p.type, p.name)
        return [me] + [("group", g) for g in self.snap.groups_of.get(me, ())]

    def is_admin(self, p: Principal) -> bool:
        return p.type == "admin" or ADMINS_GROUP in self.snap.groups_of.get((p.type, p.name), ())

    def _level(self, p: Principal, endpoint: str) -> str | None:
        grants = self.snap.grants.get(endpoint)
        if not grants:
            return None
        levels = {grants.get(i) for i in self.identities(p)}
        return MANAGE if MANAGE in levels else ("CAN_QUERY" if "CAN_QUERY" in levels else None)

    def can_query(self, p: Principal, endpoint: str) -> bool:
        return self.is_admin(p) or self._level(p, endpoint) is not None

    def can_manage(self, p: Principal, endpoint: str) -> bool:
        return self.is_admin(p) or self._level(p, endpoint) == MANAGE

    def can_use(self, p: Principal, service: str, tool: str | None = None) -> bool:
        """CAN_USE on an MCP service (on one of its tools when `tool` is given): administrators,
        and identities granted it, for every tool or for that one."""
        if self.is_admin(p):
            return True
        grants = self.snap.mcp_grants.get(service)
        if not grants:
            return False
        for identity in self.identities(p):
            if identity in grants:
                tools = grants[identity]
                if tool is None or tools is None or tool in tools:
                    return True
        return False

    def manages_any(self, p: Principal) -> bool:
        return any(i in self.snap.managers for i in self.identities(p))

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        # Bounded pools: at most this many connections to one upstream host, reused (keep-alive).
        self.session = UpstreamClient(per_origin_limit=UPSTREAM_CONNECTIONS_PER_HOST,
                                      keepalive=60, connect_timeout=10)
        self._watcher = threading.Thread(target=self._watch, args=(asyncio.get_running_loop(),),
                                         name="config-watcher", daemon=True)
        self._watcher.start()

    async def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for task in list(self.background.values()):
            task.cancel()  # their responses are stored as cancelled
        if self.background:
            await asyncio.wait(list(self.background.values()), timeout=5)
        for session in list(self.mcp_sessions.values()):
            await session.close()  # stdio servers' processes
        self.mcp_sessions.clear()
        if self.session is not None:
            await self.session.close()
        if self._watcher is not None:
            self._watcher.join(2)
