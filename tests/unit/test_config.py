"""A bad configuration file is refused with a message naming the file, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.config import ConfigError, GatewayConfig, load_config, parse_config

GOOD = {
    "providers": [{"name": "p", "type": "openai", "api_key": "k"},
                  {"name": "c", "type": "anthropic", "api_key": "k"}],
    "endpoints": [{"name": "e", "destinations": [{"provider": "p", "model": "m"}],
                   "fallbacks": [{"provider": "c", "model": "x"}]}],
}


def with_change(path: str, value: object) -> dict:
    import copy
    cfg = copy.deepcopy(GOOD)
    target: object = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]  # type: ignore[index]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is None:
        del target[last]  # type: ignore[attr-defined]
    else:
        target[last] = value  # type: ignore[index]
    return cfg


def test_good_config_and_defaults() -> None:
    cfg = parse_config(GOOD, "u.yaml")
    assert cfg.providers["p"].base_url == "https://api.openai.com/v1"
    assert cfg.providers["c"].base_url == "https://api.anthropic.com"
    assert cfg.endpoints["e"].destinations[0].traffic_percentage == 100
    assert cfg.max_body_bytes == 16 * 1024 * 1024


@pytest.mark.parametrize("path,value,message", [
    ("endpoints.0.destinations.0.provider", "nope",
     "endpoints[0] (e).destinations[0]: provider: unknown provider 'nope'"),
    ("providers.0.type", "bedrock", "providers[0] (p): type: unknown provider type 'bedrock'"),
    ("providers.0.name", None, "providers[0]: name: missing"),
    ("endpoints.0.destinations.0.model", None, "destinations[0]: model: missing"),
    ("endpoints.0.destinations", [{"provider": "p", "model": "a", "traffic_percentage": 60},
                                  {"provider": "c", "model": "b", "traffic_percentage": 30}],
     "traffic_percentage must sum to 100, got 90"),
    ("endpoints.0.destinations", [], "destinations: at least one destination is required"),
    ("endpoints.0.colour", "red", "unknown field 'colour'"),
    ("providers.0.base_url", "ftp://x", "base_url: must be an http(s) URL"),
    ("endpoints.0.timeout", "soon", "timeout: must be a positive duration"),
    ("providers.1.api_key", "${UNIGATE_TEST_UNSET_VAR}", "environment variable UNIGATE_TEST_UNSET_VAR is not set"),
])
def test_bad_config_names_file_entry_and_field(path: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(with_change(path, value), "u.yaml")
    assert str(e.value).startswith("u.yaml:"), e.value
    assert message in str(e.value), e.value


def test_env_substitution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UG_KEY", "secret-1")
    cfg = parse_config(with_change("providers.0.api_key", "${UG_KEY}"))
    assert cfg.providers["p"].api_key == "secret-1"
    cfg = parse_config(with_change("providers.0.api_key", "${UG_MISSING:-fallback}"))
    assert cfg.providers["p"].api_key == "fallback"


def test_durations() -> None:
    cfg = parse_config(with_change("endpoints.0.first_token_timeout", "500ms"))
    assert cfg.endpoints["e"].first_token_timeout == 0.5


def test_the_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(Path(__file__).parents[2] / "unigate.yaml")
    assert "my-chat" in cfg.endpoints


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_the_agent_policy_parses_round_trips_and_refuses_mistakes() -> None:
    from unigate.config import AgentPolicy
    from unigate.store.config_store import endpoint_spec

    assert parse_config(GOOD).endpoints["e"].agent == AgentPolicy()
    assert "agent" not in endpoint_spec(parse_config(GOOD).endpoints["e"])  # defaults are not written
    cfg = with_change("endpoints.0.agent", {"allow_remote_mcp": True, "max_tool_calls": 3,
                                            "timeout": "2m", "max_tokens": 5000})
    policy = parse_config(cfg).endpoints["e"].agent
    assert policy == AgentPolicy(allow_remote_mcp=True, max_tool_calls=3, timeout=120.0, max_tokens=5000)
    spec = endpoint_spec(parse_config(cfg).endpoints["e"])
    again = with_change("endpoints.0", spec)
    assert parse_config(again).endpoints["e"].agent == policy
    for bad, message in [({"allow_remote_mcp": "yes"}, "allow_remote_mcp: must be true or false"),
                         ({"max_tool_calls": -1}, "max_tool_calls: must be between 0 and 1000"),
                         ({"timeout": "soon"}, "timeout: must be a positive duration"),
                         ({"surprise": 1}, "unknown field 'surprise'"), ("on", "must be a mapping")]:
        with pytest.raises(ConfigError, match=message):
            parse_config(with_change("endpoints.0.agent", bad))


def test_mcp_services_parse_round_trip_and_refuse_mistakes(monkeypatch: pytest.MonkeyPatch) -> None:
    from unigate.store.config_store import mcp_service_spec

    monkeypatch.setenv("DOCS_MCP_KEY", "k-123")
    cfg = parse_config({"mcp_services": [
        {"name": "docs", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer ${DOCS_MCP_KEY}"},
         "rate_limits": [{"key": "user_default", "requests": 10, "renewal_period": "minute"}],
         "inference_table": {"enabled": True}, "timeout": "20s"},
        {"name": "plain", "url": "http://127.0.0.1:9/mcp"}]})
    docs = cfg.mcp_services["docs"]
    assert docs.headers == {"Authorization": "Bearer k-123"} and docs.timeout == 20.0
    spec = mcp_service_spec(docs)
    assert parse_config({"mcp_services": [spec]}).mcp_services["docs"] == docs
    assert mcp_service_spec(cfg.mcp_services["plain"]) == {"name": "plain", "url": "http://127.0.0.1:9/mcp"}
    for bad, words in (
        ({"name": "x", "url": "ftp://x"}, "url"),
        ({"name": "x y", "url": "http://h/"}, "name"),
        ({"name": "x", "url": "http://h/", "command": "npx"}, "not both"),
        ({"name": "x"}, "not both"),
        ({"name": "x", "command": "npx", "headers": {"A": "b"}}, "env, not headers"),
        ({"name": "x", "url": "http://h/", "args": ["-y"]}, "belong to a command"),
        ({"name": "x", "command": "npx", "args": "-y"}, "list of strings"),
        ({"name": "x", "url": "http://h/", "headers": {"A": "b\nc"}}, "line breaks"),
        ({"name": "x", "url": "http://h/", "rate_limits": [{"key": "endpoint", "tokens": 1,
                                                             "renewal_period": "minute"}]}, "not tokens"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_config({"mcp_services": [bad]})
    stdio = parse_config({"mcp_services": [{"name": "fs", "command": "npx", "args": ["-y", "srv", "${DOCS_MCP_KEY}"],
                                            "env": {"TOKEN": "${DOCS_MCP_KEY}"}, "cwd": "/srv"}]})
    fs = stdio.mcp_services["fs"]
    assert (fs.url, fs.command, fs.args, fs.env, fs.cwd) == (None, "npx", ["-y", "srv", "k-123"], {"TOKEN": "k-123"},
                                                            "/srv")
    assert parse_config({"mcp_services": [mcp_service_spec(fs)]}).mcp_services["fs"] == fs
    with pytest.raises(ConfigError, match="already defined"):
        parse_config({"mcp_services": [{"name": "a", "url": "http://h/"}, {"name": "a", "url": "http://h/"}]})


def test_provider_and_tracing_headers_are_strings_without_line_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORG_ID", "org-7")
    cfg = load_yaml_text("""
providers:
  - name: p
    type: openai
    api_key: k
    headers: {X-Org: "${ORG_ID}", X-Version: 2, anthropic-version: 2023-06-01}
settings:
  tracing: {endpoint: "http://127.0.0.1:4318", headers: {X-Key: "${ORG_ID}"}}
""")
    assert cfg.providers["p"].headers == {"X-Org": "org-7", "X-Version": "2", "anthropic-version": "2023-06-01"}
    assert cfg.tracing is not None and cfg.tracing.headers == {"X-Key": "org-7"}
    for bad in ({"X-A": None}, {"X-A": "a\r\nX-Injected: 1"}, {"X-A": True}, {"X-A": ["a"]}, ["X-A"]):
        provider = {"name": "p", "type": "openai", "api_key": "k", "headers": bad}
        with pytest.raises(ConfigError, match="providers"):
            parse_config({"providers": [provider]})
        with pytest.raises(ConfigError, match="tracing"):
            parse_config({"settings": {"tracing": {"endpoint": "http://127.0.0.1:4318", "headers": bad}}})


def load_yaml_text(text: str) -> GatewayConfig:
    import yaml
    return parse_config(yaml.safe_load(text))


def test_endpoint_labels_and_compat_round_trip_and_refuse_mistakes() -> None:
    from unigate.store.config_store import endpoint_spec

    cfg = with_change("endpoints.0", {**GOOD["endpoints"][0], "description": "team chat",
                                      "tags": {"team": "search", "tier": 2},
                                      "compat": {"databricks": {"route_optimized": True}}})
    e = parse_config(cfg).endpoints["e"]
    assert (e.description, e.tags, e.compat) == ("team chat", {"team": "search", "tier": "2"},
                                                 {"databricks": {"route_optimized": True}})
    assert parse_config(with_change("endpoints.0", endpoint_spec(e))).endpoints["e"].compat == e.compat
    for field, bad, message in [("compat", {"databricks": [1]}, "compat: must be a mapping of API names"),
                                ("compat", {"databricks": {"x": "y" * 70000}}, "compat: at most 65536 bytes"),
                                ("tags", {"a": None}, "tags:"), ("description", 5, "description: must be a string")]:
        with pytest.raises(ConfigError, match=message):
            parse_config(with_change(f"endpoints.0.{field}", bad))
