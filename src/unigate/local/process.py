"""The model servers of the `local` providers, started by `unigate serve`'s supervisor before
it forks the workers (so all workers share one copy of each model) and stopped when it exits;
one that dies is started again, and those the admin API adds or deletes follow within seconds.
A server also exits by itself when the supervisor is gone."""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from unigate.providers import PROVIDER_TYPES, ProviderConfig
from unigate.providers.local import LocalProvider, setup_problem

log = logging.getLogger("unigate")


def server_command(cfg: ProviderConfig, parent: int) -> list[str]:
    url = urlsplit(cfg.base_url)
    cmd = [sys.executable, "-m", "unigate.local.server", "--host", url.hostname or "127.0.0.1",
           "--port", str(url.port or 80), "--parent", str(parent)]
    if cfg.options.get("model_path"):
        cmd += ["--model", str(cfg.options["model_path"])]
    if cfg.options.get("embedding_model_path"):
        cmd += ["--embedding-model", str(cfg.options["embedding_model_path"])]
    if cfg.options.get("context_size"):
        cmd += ["--context-size", str(cfg.options["context_size"])]
    return cmd


DEFAULT_THREADS = 1


def server_env(cfg: ProviderConfig) -> dict[str, str]:
    """numpy's BLAS takes its thread count from the environment, read once at import. One by
    default: decoding is a row of matrix-vector products, and BLAS threads that spin for work
    beside busy gateway workers made it 12x slower on 2 cores (docs/local-model.md)."""
    env = dict(os.environ)
    threads = str(cfg.options.get("threads") or DEFAULT_THREADS)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = threads
    return env


RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # after each crash in a row
STABLE_SECONDS = 60.0  # a server that ran this long before it died starts again at once
WATCH_SECONDS = 0.5
REFRESH_SECONDS = 5.0  # how often the store is asked whether `local` providers changed

# what the store serves now, or None when unchanged or unknown (the store is down)
ProviderSource = Callable[[], "dict[str, ProviderConfig] | None"]


@dataclass
class _Server:
    name: str
    cfg: ProviderConfig
    proc: subprocess.Popen[bytes]
    started: float
    crashes: int = 0  # in a row, each within STABLE_SECONDS of its start
    retry_at: float | None = None


class LocalModels:
    """The servers, and a thread in the process that started them which starts a server again
    when it dies (a crash, the OOM killer): its endpoints answer 502 for the seconds in between,
    never for good. Crashing again and again backs off up to a minute between tries. With a
    `source` (the store), the thread also follows providers of type `local` that the admin API
    adds, changes or deletes: their servers start, restart or stop within REFRESH_SECONDS."""

    def __init__(self, source: ProviderSource | None = None) -> None:
        self.servers: list[_Server] = []
        self._source = source
        self._refused: dict[str, str] = {}  # provider -> why it has no server (said once)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, providers: dict[str, ProviderConfig]) -> None:
        with self._lock:
            self._reconcile(providers)
        if self.servers or self._source is not None:
            self._watcher = threading.Thread(target=self._watch, name="local-models", daemon=True)
            self._watcher.start()

    def _reconcile(self, providers: dict[str, ProviderConfig]) -> None:
        """Servers for exactly the runnable `local` providers of `providers`."""
        wanted = {n: c for n, c in providers.items() if issubclass(PROVIDER_TYPES[c.type], LocalProvider)}
        for s in [s for s in self.servers if wanted.get(s.name) != s.cfg]:  # deleted or changed
            self.servers.remove(s)
            _end(s.proc)
            log.info("provider '%s': local model server (pid %d) stopped: the provider %s", s.name, s.proc.pid,
                     "changed" if s.name in wanted else "is gone")
        running = {s.name for s in self.servers}
        bound = {urlsplit(s.cfg.base_url).netloc: s.name for s in self.servers}
        for name, cfg in wanted.items():
            if name in running:
                continue
            why = setup_problem(cfg)  # else its endpoints answer 502 with the same sentence
            where = urlsplit(cfg.base_url).netloc
            if why is None and where in bound:
                why = (f"provider '{name}': base_url {cfg.base_url} is already the model server of provider "
                       f"'{bound[where]}'; give it another port")
            if why is not None:
                if self._refused.get(name) != why:
                    log.error("%s", why)
                    self._refused[name] = why
                continue
            self._refused.pop(name, None)
            bound[where] = name
            self.servers.append(_Server(name, cfg, _launch(name, cfg), time.monotonic()))

    def _watch(self) -> None:
        next_refresh = time.monotonic() + REFRESH_SECONDS
        while not self._stopping.wait(WATCH_SECONDS):
            providers = None
            if self._source is not None and time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + REFRESH_SECONDS
                providers = self._source()  # outside the lock: it may wait on the store
            with self._lock:
                if self._stopping.is_set():
                    return
                if providers is not None:
                    self._reconcile(providers)
                for s in self.servers:
                    self._look_after(s, time.monotonic())

    def _look_after(self, s: _Server, now: float) -> None:
        # poll() is 0 too when the supervisor's waitpid(-1) reaped the server first
        status = s.proc.poll()
        if status is None:
            return
        if s.retry_at is None:  # just found dead
            ran = now - s.started
            s.crashes = 0 if ran >= STABLE_SECONDS else s.crashes + 1
            delay = 0.0 if s.crashes == 0 else RESTART_DELAYS[min(s.crashes, len(RESTART_DELAYS)) - 1]
            s.retry_at = now + delay
            log.error("provider '%s': the local model server (pid %d) exited with status %s after %.0fs; "
                      "starting it again in %.0fs", s.name, s.proc.pid, status, ran, delay)
        if now >= s.retry_at:
            s.proc, s.started, s.retry_at = _launch(s.name, s.cfg), now, None

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._lock:  # no restart after this
            procs = [s.proc for s in self.servers]
            self.servers.clear()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            _end(proc, timeout, terminated=True)


def _end(proc: subprocess.Popen[bytes], timeout: float = 5.0, terminated: bool = False) -> None:
    if not terminated and proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
    except ChildProcessError:  # the supervisor's waitpid(-1) reaped it already
        pass


def _launch(name: str, cfg: ProviderConfig) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(server_command(cfg, os.getpid()), env=server_env(cfg), stdin=subprocess.DEVNULL)
    log.info("provider '%s': local model server starting on %s (pid %d)", name, cfg.base_url, proc.pid)
    return proc


def start_local_models(providers: dict[str, ProviderConfig],
                       source: ProviderSource | None = None) -> LocalModels:
    """Starts them, and stops them when this process exits (normally or by sys.exit)."""
    models = LocalModels(source)
    models.start(providers)
    atexit.register(models.stop)
    return models
