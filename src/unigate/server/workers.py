"""Running the service: one worker process per core, each with its own event loop, listening
socket (SO_REUSEPORT spreads connections across them) and upstream connection pool. The
parent only supervises: it forwards SIGTERM/SIGINT and restarts a worker that crashed."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import uvloop

from unigate.accounting.spool import UsageSpool, replay_spools
from unigate.accounting.usage import UsageWriter
from unigate.agent.mcp_governance import payload_key
from unigate.config import GatewayConfig
from unigate.governance.budgets.ledger import Ledger, LocalLedger
from unigate.governance.budgets.redis_ledger import RedisLedger
from unigate.governance.budgets.shared_ledger import SharedLedger
from unigate.governance.payload_spool import PayloadSpool
from unigate.governance.payloads import PayloadWriter
from unigate.governance.ratelimit import CounterBackend, SharedMemoryBackend
from unigate.governance.ratelimit.redis_backend import RedisBackend
from unigate.governance.retention import retention_days
from unigate.local.process import ProviderSource, start_local_models
from unigate.observability.logs import flush_logs
from unigate.observability.metrics_board import MetricsBoard
from unigate.providers import ProviderConfig
from unigate.routing.readiness import StartupCheck
from unigate.routing.shared_health import SharedHealth
from unigate.server.app import build_app
from unigate.server.change_notices import ChangeNotices
from unigate.server.http import HttpServer
from unigate.server.observing import WorkerObservability
from unigate.server.state import GatewayState
from unigate.store.base import Store, StoreUnavailable
from unigate.store.config_store import load_config_from_store
from unigate.store.open import open_store

log = logging.getLogger("unigate")


@dataclass(slots=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    data_dir: Path
    grace: float  # seconds in-flight requests get to finish on shutdown
    store: str  # a PostgreSQL URL or an SQLite file (unigate.store.open)


async def _wait_for_store(store: Store) -> None:
    """A worker (re)started while the database is away waits for it: it needs a first snapshot
    of tokens and endpoints; the other workers keep serving from theirs meanwhile."""
    said = False
    while True:
        try:
            store.config_version()
            return
        except StoreUnavailable as e:
            if not said:
                log.warning("worker %d waits for the store: %s", os.getpid(), e)
                said = True
            await asyncio.sleep(1.0)


async def _serve(config: GatewayConfig, opts: ServeOptions, counters: CounterBackend,
                 board: MetricsBoard, slot: int, ledger: Ledger | None = None) -> None:
    if config.redis:  # counters every instance shares; a client per worker, on its own loop
        counters = RedisBackend(config.redis, config.rate_limit_failure)
        ledger = RedisLedger(counters.client)  # budgets ride on the same connection
    store = open_store(opts.store)
    await _wait_for_store(store)
    spool = UsageSpool(opts.data_dir / "spool")  # answered requests' rows survive a killed worker
    replay_spools(store, spool.directory, spool.token)
    usage = UsageWriter(store, spool=spool)
    usage.start()
    state = GatewayState(config, store, usage, counters, ledger)
    payload_spool = PayloadSpool(opts.data_dir / "spool")
    PayloadSpool.replay_gone(store, payload_spool.directory, payload_spool.token)
    payloads = state.payloads = PayloadWriter(store, spool=payload_spool)
    payloads.set_retention_source(lambda: retention_days(state.endpoints) | {
        payload_key(name): days for name, days in retention_days(state.config.mcp_services).items()})
    payloads.start()
    await state.start()
    observing = WorkerObservability(state, board, slot)
    observing.start()
    await state.budgets.start()  # the budgets' counters seeded from the usage table
    shared_health = notices = None
    if isinstance(counters, RedisBackend):
        state.redis = counters.client
        shared_health = SharedHealth(state.health, counters.client)  # one cools it down, all do
        shared_health.start()
        notices = ChangeNotices(state, counters.client)  # a change reaches every instance at once
        notices.start()
    server = HttpServer(build_app(state))
    await server.start(opts.host, opts.port, reuse_port=True, backlog=2048)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Stop accepting, let in-flight requests and streams finish (bounded by opts.grace).
    await server.shutdown(opts.grace)
    await observing.stop()
    await state.budgets.close()  # settlements and alert webhooks under way
    await state.close()
    if shared_health is not None:
        await shared_health.stop()
    if notices is not None:
        await notices.stop()
    if isinstance(counters, RedisBackend):
        await counters.close()
    usage.stop()
    payloads.stop()
    store.close()


def run_worker(config: GatewayConfig, opts: ServeOptions, counters: CounterBackend,
               board: MetricsBoard, slot: int = 0, ledger: Ledger | None = None) -> None:
    uvloop.run(_serve(config, opts, counters, board, slot, ledger))


def check_port(host: str, port: int) -> None:
    """Fail early and clearly when the address is taken (workers bind with SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


def _served_config(config: GatewayConfig, opts: ServeOptions) -> GatewayConfig:
    """What the workers will serve: the stored providers and endpoints (the file's and those
    added through the admin API), with the file's note of where empty keys were to come from."""
    try:
        store = open_store(opts.store)
        try:
            served = load_config_from_store(store, config.max_body_bytes, config.source)
        finally:
            store.close()
    except Exception:  # the workers will say what is wrong with the store
        return config
    served.key_env = config.key_env
    return served


def _stored_providers(config: GatewayConfig, opts: ServeOptions) -> ProviderSource:
    """The stored providers when the store's configuration changed since the last call (the
    admin API's edits bump its version), else None; None too while the store is unavailable."""
    seen: list[int] = []

    def read() -> dict[str, ProviderConfig] | None:
        try:
            store = open_store(opts.store)
            try:
                version = store.config_version()
                if seen and seen[0] == version:
                    return None
                providers = load_config_from_store(store, config.max_body_bytes, config.source).providers
            finally:
                store.close()
        except Exception as e:  # noqa: BLE001 - a store that is down, a spec being written: next time
            log.debug("local models: the stored providers could not be read: %s", e)
            return None
        seen[:] = [version]
        return providers
    return read


def serve(config: GatewayConfig, opts: ServeOptions) -> None:
    # Rate-limit counters live in memory every worker shares: made here, before the fork, so
    # workers (and restarted ones) inherit the same table.
    counters = SharedMemoryBackend()
    # budget counters, likewise (one worker: in its own memory, without a cross-process lock)
    ledger: Ledger = SharedLedger() if opts.workers > 1 else LocalLedger()
    board = MetricsBoard(opts.workers)  # where workers post their metrics for each other
    # one line per endpoint, whether it can answer: printed by this process once, from a thread
    # that looks the upstream hosts up while the workers open the port
    served = _served_config(config, opts)
    startup = StartupCheck(served)
    # the `local` providers' model servers: one process per model, which every worker calls
    start_local_models(served.providers, _stored_providers(config, opts))
    if opts.workers <= 1:
        startup.start()
        run_worker(config, opts, counters, board, 0, ledger)
        return
    children: dict[int, int] = {}  # pid -> worker slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                run_worker(config, opts, counters, board, slot, ledger)
            except BaseException:
                log.exception("worker %d failed", slot)
                flush_logs()
                os._exit(1)
            flush_logs()
            os._exit(0)
        children[pid] = slot

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(opts.workers):
        spawn(slot)
    startup.start()  # after the forks: no worker inherits its half-done lookups
    deadline: float | None = None
    while children:
        if stopping and deadline is None:
            deadline = time.monotonic() + opts.grace + 5
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if deadline is not None and time.monotonic() > deadline:
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            continue
        if pid not in children:  # an orphan this process reaped (as a container's PID 1 it adopts them)
            continue
        slot = children.pop(pid)
        if not stopping:
            log.error("worker %d (pid %d) exited with status %d; restarting", slot, pid, status)
            time.sleep(0.5)
            startup.wait()
            spawn(slot)
    sys.exit(0)
