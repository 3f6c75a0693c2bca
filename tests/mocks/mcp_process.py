"""The test MCP server (tests/mocks/mcp_server.py) as a subprocess on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_mcp_server() -> tuple[str, Callable[[], None]]:
    """(its URL, a function that stops it), once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tests.mocks.mcp_server", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=1)
        except urllib.error.HTTPError:
            break  # the server answers (a GET without a session is refused): it is up
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the MCP test server did not start")

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
    return url, stop
