"""Fixtures: the mock providers and a running gateway, shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.gateway import Gateway, config_yaml, free_port, start_gateway
from tests.mocks.server import start_mock_server


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
