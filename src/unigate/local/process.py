"""The model servers of a configuration's `local` providers, started by `unigate serve`'s
supervisor before it forks the workers (so all workers share one copy of each model) and
stopped when it exits. A server also exits by itself when the supervisor is gone."""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
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


class LocalModels:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, providers: dict[str, ProviderConfig]) -> None:
        bound: dict[str, str] = {}
        for name, cfg in providers.items():
            if not issubclass(PROVIDER_TYPES[cfg.type], LocalProvider):
                continue
            why = setup_problem(cfg)
            if why is not None:  # its endpoints answer 502 with the same sentence
                log.error("%s", why)
                continue
            where = urlsplit(cfg.base_url).netloc
            if where in bound:
                log.error("provider '%s': base_url %s is already the model server of provider "
                          "'%s'; give it another port", name, cfg.base_url, bound[where])
                continue
            bound[where] = name
            proc = subprocess.Popen(server_command(cfg, os.getpid()), env=server_env(cfg),
                                    stdin=subprocess.DEVNULL)
            self.procs.append((name, proc))
            log.info("provider '%s': local model server starting on %s (pid %d)",
                     name, cfg.base_url, proc.pid)

    def stop(self, timeout: float = 5.0) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
            except ChildProcessError:  # the supervisor's waitpid(-1) reaped it already
                pass
        self.procs.clear()


def start_local_models(providers: dict[str, ProviderConfig]) -> LocalModels:
    """Starts them, and stops them when this process exits (normally or by sys.exit)."""
    models = LocalModels()
    models.start(providers)
    if models.procs:
        atexit.register(models.stop)
    return models
