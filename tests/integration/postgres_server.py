"""A real PostgreSQL server (Debian's package, installed by ./dev test) for tests: a throwaway
cluster in a temporary directory on a free loopback port, trust authentication, no fsync.

Each gateway gets its own schema (`schema_url`), so one server serves the whole session;
`shared_postgres()` starts it on first use and stops it when the test process ends."""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from urllib.parse import quote

import psycopg

from tests.integration.gateway import free_port

USER = "unigate"


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run the tests with ./dev test, which installs it")
    return os.path.dirname(found[-1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer:
    """A cluster of its own: `start()` and `stop()` it (its data stays, as a real outage would
    leave it), `destroy()` when done."""

    def __init__(self, port: int | None = None) -> None:
        self.bindir = _bindir()
        self.port = port or free_port()
        self.workdir = tempfile.mkdtemp(prefix="unigate-pg-")
        self.data = os.path.join(self.workdir, "data")
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        self.proc: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        subprocess.run(_as_server_user([f"{self.bindir}/initdb", "-D", self.data, "-U", USER, "-A", "trust",
                                        "-E", "UTF8", "--no-sync", "--no-instructions"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        log = open(os.path.join(self.workdir, "server.log"), "ab")
        self.proc = subprocess.Popen(_as_server_user([
            f"{self.bindir}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.workdir,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=600", "-c", "shared_buffers=64MB"]),
            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("postgres did not start:\n"
                                       + open(os.path.join(self.workdir, "server.log")).read()) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, the port is closed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        # The server's own pid (not runuser's); SIGINT is a fast shutdown (SIGTERM would wait
        # for every client to leave).
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.proc.wait()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_postgres(port: int | None = None) -> tuple[str, Callable[[], None]]:
    """(postgresql://unigate@127.0.0.1:PORT/postgres, a function that stops and removes it)."""
    server = PostgresServer(port)
    server.start()
    return server.url, server.destroy


_shared: str | None = None


def shared_postgres() -> str:
    """The session's server (started on first use)."""
    global _shared
    if _shared is None:
        _shared, stop = start_postgres()
        atexit.register(stop)
    return _shared


def schema_url(server: str, name: str) -> str:
    """A URL whose connections use schema `name` (created when missing): one store per gateway
    on one server. `name` is any text; the schema's name is derived from it."""
    schema = "t_" + hashlib.sha1(name.encode()).hexdigest()[:16]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options={quote(f'-csearch_path={schema}')}"
