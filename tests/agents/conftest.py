"""Fixtures for the coding-agent tests: the installed agents, the mocks, a gateway of our own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.install import install_all
from tests.integration.gateway import Gateway, start_gateway
from tests.mocks.mcp_process import start_mcp_server
from tests.mocks.server import start_mock_server

# provider type -> the endpoint that is backed by it (our own config: the shared one stays as is)
ENDPOINTS = {
    "anthropic": "agent-anthropic",
    "openai": "agent-openai",
    "gemini": "agent-gemini",
    "openai_compatible": "agent-compat",
}


def agents_config_yaml(mock: str, mcp: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: compat, type: openai_compatible, base_url: "{mock}/compat/v1"}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
  - {{name: gem, type: gemini, base_url: "{mock}", api_key: mock-gemini-key}}
endpoints:
  - {{name: agent-anthropic, destinations: [{{provider: claude, model: claude-sonnet-4-5}}]}}
  - {{name: agent-openai, destinations: [{{provider: openai-main, model: gpt-4.1}}]}}
  - {{name: agent-gemini, destinations: [{{provider: gem, model: gemini-2.5-flash}}]}}
  - {{name: agent-compat, destinations: [{{provider: compat, model: llama-3.1-8b}}]}}
mcp_services:
  - {{name: calc, url: "{mcp}"}}
settings:
  max_body_bytes: 16777216
"""


@pytest.fixture(scope="session")
def agent_bins() -> dict[str, Path]:
    return install_all()


@pytest.fixture(scope="session")
def agent_mock_url() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


@pytest.fixture(scope="session")
def agent_mcp_url() -> Iterator[str]:
    url, stop = start_mcp_server()
    yield url
    stop()


@pytest.fixture(scope="session")
def agent_gateway(agent_mock_url: str, agent_mcp_url: str) -> Iterator[Gateway]:
    gw = start_gateway(agents_config_yaml(agent_mock_url, agent_mcp_url))
    yield gw
    gw.stop()
