"""Fixtures for the Databricks compatibility tests: the clients' own venv (built once, see
client_env) and a gateway of the module's own (tests here create users, grants and endpoints)
with the standard config: providers openai-main/claude/gem on the mock, endpoints chat-openai,
chat-anthropic, chat-gemini, emb-openai..."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.databricks.client_env import install
from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway


@pytest.fixture(scope="session")
def databricks_clients() -> Path:
    """The python of the venv holding databricks-sdk, databricks-openai, databricks-langchain
    and mlflow (built on first use: minutes; then cached)."""
    return install()


@pytest.fixture(scope="module")
def dbx_gateway(mock_url: str, databricks_clients: Path) -> Iterator[Gateway]:
    gw = start_gateway(config_yaml(mock_url, refusing_port()))
    yield gw
    gw.stop()
