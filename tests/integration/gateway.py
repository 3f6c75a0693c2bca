"""Starting a real `unigate serve` (a subprocess) against the mock providers, for tests.

With UNIGATE_TEST_STORE=postgresql every gateway keeps its state in PostgreSQL (a schema of
its own on one real server, tests/integration/postgres_server.py) instead of its SQLite file;
with UNIGATE_TEST_REDIS=1 each also gets a real redis-server of its own for its rate limits and
passive health. .ci/run runs the integration suite once that way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN_TOKEN = "ug-test-admin-token"


_handed_out: set[int] = set()
_held: list[socket.socket] = []


def free_port() -> int:
    """A port nothing listens on now and that this process has not handed out before (the kernel
    may offer a just-released port again: a gateway then lands on a test's `dead` provider port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def refusing_port() -> int:
    """A port that refuses connections for the rest of the test run: bound but never listening,
    so no server started later (a gateway, a mock, redis) can take it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _held.append(s)
    return int(s.getsockname()[1])


def config_yaml(mock: str, dead_port: int) -> str:
    """Every provider type, pointed at the mock; endpoints named after what backs them."""
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: compat, type: openai_compatible, base_url: "{mock}/compat/v1"}}
  - {{name: azure, type: azure_openai, base_url: "{mock}", api_key: mock-azure-key}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
  - {{name: gem, type: gemini, base_url: "{mock}", api_key: mock-gemini-key}}
  - {{name: openai-badkey, type: openai, base_url: "{mock}/v1", api_key: sk-wrong-key-123456}}
  - {{name: dead, type: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_key: x}}
endpoints:
  - {{name: chat-openai, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: chat-compat, destinations: [{{provider: compat, model: llama-3.1-8b}}]}}
  - {{name: chat-azure, destinations: [{{provider: azure, model: gpt-4o-deployment}}]}}
  - {{name: chat-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
  - {{name: chat-gemini, destinations: [{{provider: gem, model: gemini-2.5-flash}}]}}
  - {{name: chat-badkey, destinations: [{{provider: openai-badkey, model: gpt-4o-mini}}]}}
  - {{name: chat-dead, destinations: [{{provider: dead, model: gpt-4o-mini}}]}}
  - name: chat-slow
    timeout: 1s
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
  - {{name: emb-openai, destinations: [{{provider: openai-main, model: text-embedding-3-small}}]}}
  - {{name: emb-compat, destinations: [{{provider: compat, model: bge-small}}]}}
  - {{name: emb-azure, destinations: [{{provider: azure, model: emb-deployment}}]}}
  - {{name: emb-google, destinations: [{{provider: gem, model: text-embedding-004}}]}}
  - {{name: emb-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}]}}
settings:
  max_body_bytes: 1048576
"""


@dataclass
class Gateway:
    url: str  # http://127.0.0.1:PORT
    token: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    store_location: str = ""  # what the gateway's store is (a PostgreSQL URL or an SQLite file)
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url + "/ai-gateway"

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        while self.on_stop:
            self.on_stop.pop()()
        return self.proc.returncode

    def dump(self) -> bytes:
        """The store's whole content (`unigate export`'s lines), whichever database holds it."""
        from unigate.store.dump import export_rows
        from unigate.store.open import open_store

        store = open_store(self.store_location)
        try:
            return b"".join(export_rows(store))
        finally:
            store.close()

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One SQL statement (`?` placeholders) on the gateway's own store, whichever it is."""
        from unigate.store.open import open_store

        store = open_store(self.store_location)
        try:
            return store.execute(sql, args)
        finally:
            store.close()

    def stored_spec(self, table: str, name: str) -> dict[str, Any]:
        """A stored spec with its secrets opened under this gateway's master key."""
        from unigate.store import secrets_at_rest as sar

        sar.use(sar.load_keyring(self.data_dir, create=False, environ=self.env))
        return sar.spec_of(table, str(self.query(f"SELECT spec FROM {table} WHERE name = ?", (name,))[0][0]))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _shared_backends(env: dict[str, str], data_dir: Path, asked: dict[str, str]) -> list[Callable[[], None]]:
    """Point the gateway at PostgreSQL and Redis when the run asks for it (see the module's
    docstring); returns what to stop with the gateway. A data directory keeps its schema, so
    a gateway started again on it finds its state. What the test `asked` for itself wins."""
    stops: list[Callable[[], None]] = []
    if env.get("UNIGATE_TEST_STORE") == "postgresql" and "UNIGATE_STORE_URL" not in {**env, **asked}:
        from tests.integration.postgres_server import schema_url, shared_postgres

        env["UNIGATE_STORE_URL"] = schema_url(shared_postgres(), str(data_dir.resolve()))
    if env.get("UNIGATE_TEST_REDIS") == "1" and "UNIGATE_REDIS_URL" not in {**env, **asked}:
        from tests.integration.redis_server import start_redis

        env["UNIGATE_REDIS_URL"], stop = start_redis()
        stops.append(stop)
    return stops


TEST_MASTER_KEY = "dW5pZ2F0ZSB0ZXN0cyBtYXN0ZXIga2V5IDMyIGJ5dGU"  # 32 bytes, base64url


def start_gateway(config_text: str, *, workers: int = 2, extra_args: list[str] | None = None,
                  env: dict[str, str] | None = None, token: str | None = ADMIN_TOKEN,
                  data_dir: Path | None = None) -> Gateway:
    """`data_dir`: a previous gateway's (its data dir), to start again on the same state."""
    tmp = Path(tempfile.mkdtemp(prefix="unigate-test-"))
    cfg = tmp / "unigate.yaml"
    cfg.write_text(config_text)
    port = free_port()
    full_env = dict(os.environ)
    full_env.pop("UNIGATE_ADMIN_TOKEN", None)
    # Secrets in the store are sealed under this key, so instances sharing a store (and a store
    # moved to a new data dir) open each other's; "" in `env`: the data dir's key file instead.
    full_env["UNIGATE_MASTER_KEY"] = TEST_MASTER_KEY
    if token:
        full_env["UNIGATE_ADMIN_TOKEN"] = token
    data_dir = data_dir or tmp / "data"
    on_stop = _shared_backends(full_env, data_dir, env or {})
    full_env.update(env or {})
    store_location = full_env.get("UNIGATE_STORE_URL") or str(data_dir / "unigate.db")
    log_path = tmp / "gateway.log"
    cmd = [sys.executable, "-m", "unigate.cli", "serve", "--config", str(cfg), "--port", str(port),
           "--workers", str(workers), "--data-dir", str(data_dir)] + (extra_args or [])
    proc = subprocess.Popen(cmd, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=full_env)
    gw = Gateway(f"http://127.0.0.1:{port}", token or "", proc, data_dir, log_path, full_env,
                 store_location, on_stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            gw.stop()  # what was started beside it
            raise RuntimeError(f"unigate exited with {proc.returncode}:\n{gw.log()}")
        try:
            with urllib.request.urlopen(gw.url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return gw
        except OSError:
            time.sleep(0.1)
    gw.stop()
    raise RuntimeError(f"unigate did not become ready:\n{gw.log()}")
