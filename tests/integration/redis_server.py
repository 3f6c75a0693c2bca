"""A real redis-server (Debian's package, installed by ./dev test) on a free loopback port, in a
temporary directory, persisting nothing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

from tests.integration.gateway import free_port


def start_redis(port: int | None = None) -> tuple[str, Callable[[], None]]:
    """(redis://127.0.0.1:PORT/0, a function that stops it), once it accepts connections."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: run the tests with ./dev test, which installs it")
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="unigate-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir, "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    return f"redis://127.0.0.1:{port}/0", stop
