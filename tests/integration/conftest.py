"""Fixtures: the mock providers and a running gateway, shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway
from tests.mocks.mcp_process import start_mcp_server
from tests.mocks.server import start_mock_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


@pytest.fixture(scope="session")
def gateway(mock_url: str) -> Iterator[Gateway]:
    gw = start_gateway(config_yaml(mock_url, refusing_port()))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def mcp_url() -> Iterator[str]:
    """A real MCP server (tests/mocks/mcp_server.py, the official `mcp` SDK) on loopback."""
    url, stop = start_mcp_server()
    yield url
    stop()
