"""The configuration examples in docs/mcp.md and docs/supervisor.md are what the gateway and the
agents accept: every YAML block parses as a unigate configuration, every JSON body and client
configuration parses, and the CLI commands named exist."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from unigate.cli import build_parser
from unigate.config import parse_config

DOCS = Path(__file__).resolve().parents[2] / "docs"
STUB_PROVIDER = {"name": "claude", "type": "anthropic", "base_url": "http://127.0.0.1:9", "api_key": "k"}


def blocks(doc: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / doc).read_text(), re.S)


@pytest.mark.parametrize("doc", ["mcp.md", "supervisor.md"])
def test_yaml_examples_parse(doc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCS_MCP_TOKEN", "t")
    found = blocks(doc, "yaml")
    assert found
    for text in found:
        raw = yaml.safe_load(text)
        raw.setdefault("providers", [STUB_PROVIDER])
        parse_config(raw, doc)


def test_json_bodies_and_client_configurations_parse() -> None:
    text = (DOCS / "mcp.md").read_text()
    bodies = re.findall(r"-d '(\{.*?\})'", text, re.S)
    assert len(bodies) >= 2
    for body in bodies:
        json.loads(body)
    toml = tomllib.loads(blocks("mcp.md", "toml")[0])
    assert toml["mcp_servers"]["docs"]["url"].endswith("/ai-gateway/mcp/docs")
    gemini = json.loads(blocks("mcp.md", "json")[0])
    assert gemini["mcpServers"]["docs"]["httpUrl"].endswith("/ai-gateway/mcp/docs")


def test_the_cli_commands_in_mcp_md_exist() -> None:
    parser = build_parser()
    parser.parse_args(["mcp-services", "grant", "docs", "group:engineering", "user:ana@example.com=search", "--add"])
    parser.parse_args(["mcp-services", "create", "docs", "https://mcp.internal.example/mcp", "--header", "A=b"])
    for action in (["list"], ["get", "docs"], ["delete", "docs"], ["grants", "docs"]):
        parser.parse_args(["mcp-services", *action])


def test_the_kubernetes_manifest_is_what_unigate_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/kubernetes/unigate.yaml: its configuration parses (store and Redis from the
    Secret's variables) and its container's arguments are a valid `unigate serve`."""
    docs = list(yaml.safe_load_all((DOCS.parent / "deploy" / "kubernetes" / "unigate.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Secret", "ConfigMap", "StatefulSet", "Service"}
    for name, value in kinds["Secret"]["stringData"].items():
        monkeypatch.setenv(name, value)
    config = parse_config(yaml.safe_load(kinds["ConfigMap"]["data"]["unigate.yaml"]), "kubernetes")
    assert config.redis and config.redis.startswith("redis://")
    container = kinds["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert args.log_format == "json"
