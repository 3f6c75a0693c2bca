"""Fixtures: the mock providers and a running gateway, shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import Gateway, config_yaml, free_port, start_gateway
from tests.mocks.server import start_mock_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


@pytest.fixture(scope="session")
def gateway(mock_url: str) -> Iterator[Gateway]:
    gw = start_gateway(config_yaml(mock_url, free_port()))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def mcp_url() -> Iterator[str]:
    """A real MCP server (tests/mocks/mcp_server.py, the official `mcp` SDK) on loopback."""
    port = free_port()
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
    yield url
    proc.terminate()
    proc.wait(10)
