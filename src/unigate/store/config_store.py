"""Providers and endpoints as data: stored as JSON specs in the configuration file's own entry
shape, so one parser (`unigate.config.parse_config`) validates the file, the admin API and
what the workers load."""

from __future__ import annotations

import json
import time
from typing import Any

from unigate.accounting.prices import PriceEntry
from unigate.config import EndpointConfig, GatewayConfig, McpServiceConfig, ProviderConfig, parse_config
from unigate.guardrails.spec import DEFAULT_WINDOW
from unigate.providers import PROVIDER_TYPES
from unigate.store.base import Store
from unigate.store.budgets import load_budget_specs, upsert_budget
from unigate.store.secrets_at_rest import spec_json, spec_of


def provider_spec(p: ProviderConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": p.name, "type": p.type, "base_url": p.base_url}
    if p.api_key:
        spec["api_key"] = p.api_key
    if p.api_version:
        spec["api_version"] = p.api_version
    if not (PROVIDER_TYPES[p.type].RESPONSES_BY_DEFAULT and p.supports_responses):
        spec["supports_responses"] = p.supports_responses
    if p.headers:
        spec["headers"] = dict(p.headers)
    spec.update(p.options)
    return spec


def mcp_service_spec(m: McpServiceConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": m.name}
    if m.url is not None:
        spec["url"] = m.url
    if m.command is not None:
        spec["command"] = m.command
        if m.args:
            spec["args"] = list(m.args)
        if m.env:
            spec["env"] = dict(m.env)
        if m.cwd:
            spec["cwd"] = m.cwd
    if m.headers:
        spec["headers"] = dict(m.headers)
    if m.description:
        spec["description"] = m.description
    if m.rate_limits:
        spec["rate_limits"] = list(m.rate_limits)
    if m.inference_table:
        spec["inference_table"] = dict(m.inference_table)
    if m.timeout != 60.0:
        spec["timeout"] = f"{m.timeout:g}s"
    return spec


def endpoint_spec(e: EndpointConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": e.name,
        "destinations": [{"provider": d.provider, "model": d.model,
                          "traffic_percentage": d.traffic_percentage} for d in e.destinations],
    }
    if e.fallbacks:
        spec["fallbacks"] = [{"provider": d.provider, "model": d.model} for d in e.fallbacks]
    if e.timeout is not None:
        spec["timeout"] = f"{e.timeout:g}s"
    if e.first_token_timeout is not None:
        spec["first_token_timeout"] = f"{e.first_token_timeout:g}s"
    if e.rate_limits:
        spec["rate_limits"] = list(e.rate_limits)
    if e.inference_table:
        spec["inference_table"] = dict(e.inference_table)
    if e.max_attempts is not None:
        spec["max_attempts"] = e.max_attempts
    if e.unsupported_parameters != "refuse":
        spec["unsupported_parameters"] = e.unsupported_parameters
    if not e.agent.is_default():
        spec["agent"] = e.agent.to_spec()
    g = e.guardrails
    if g is not None:
        spec["guardrails"] = [s.to_spec() for s in g.specs]
        if g.response != "error":
            spec["guardrail_response"] = g.response
        if g.window != DEFAULT_WINDOW:
            spec["guardrail_window"] = g.window
    if e.description:
        spec["description"] = e.description
    if e.tags:
        spec["tags"] = dict(e.tags)
    if e.compat:
        spec["compat"] = e.compat
    return spec


HIDDEN = "(hidden)"


def public_provider_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A provider spec as reads show it: the key is write-only, and so are extra header values
    (they often carry credentials too); their names are shown."""
    out = {k: v for k, v in spec.items() if k != "api_key"}
    out["api_key_set"] = bool(spec.get("api_key"))
    if spec.get("headers"):
        out["headers"] = {name: HIDDEN for name in spec["headers"]}
    return out


def keep_hidden_headers(new: dict[str, Any], old: dict[str, Any], key: str = "headers") -> None:
    """A write that sends back a header (or another write-only value under `key`) as reads show
    it ("(hidden)") keeps the stored value."""
    values = new.get(key)
    if isinstance(values, dict):
        for name, value in list(values.items()):
            if value == HIDDEN and name in (old.get(key) or {}):
                values[name] = old[key][name]


# --- the providers and endpoints tables (admin API writes go through these statements) --------

Statement = tuple[str, tuple[Any, ...]]
_TABLES = ("providers", "endpoints", "mcp_services")


def get_spec_row(store: Store, table: str, name: str) -> dict[str, Any] | None:
    """A stored spec with its created_at / updated_at, or None."""
    assert table in _TABLES
    rows = store.execute(f"SELECT spec, created_at, updated_at FROM {table} WHERE name = ?", (name,))
    if not rows:
        return None
    return {**spec_of(table, rows[0][0]), "created_at": rows[0][1], "updated_at": rows[0][2]}


def list_rows(store: Store, table: str) -> list[dict[str, Any]]:
    assert table in _TABLES
    rows = store.execute(f"SELECT spec, created_at, updated_at FROM {table} ORDER BY name")
    return [{**spec_of(table, s), "created_at": c, "updated_at": u} for s, c, u in rows]


def insert(table: str, spec: dict[str, Any]) -> Statement:
    assert table in _TABLES
    now = time.time()
    return (f"INSERT INTO {table} (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (spec["name"], spec_json(table, spec), now, now))


def update(table: str, spec: dict[str, Any]) -> Statement:
    assert table in _TABLES
    return (f"UPDATE {table} SET spec = ?, updated_at = ? WHERE name = ?",
            (spec_json(table, spec), time.time(), spec["name"]))


def upsert(table: str, spec: dict[str, Any]) -> Statement:
    assert table in _TABLES
    now = time.time()
    return (f"INSERT INTO {table} (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
            (spec["name"], spec_json(table, spec), now, now))


def delete_provider_statements(name: str) -> list[Statement]:
    return [("DELETE FROM providers WHERE name = ?", (name,))]


def delete_mcp_service_statements(name: str) -> list[Statement]:
    return [("DELETE FROM mcp_services WHERE name = ?", (name,)),
            ("DELETE FROM mcp_grants WHERE service = ?", (name,))]


def delete_endpoint_statements(name: str) -> list[Statement]:
    # Its grants go with it: a later endpoint of the same name must not inherit them.
    return [("DELETE FROM endpoints WHERE name = ?", (name,)),
            ("DELETE FROM grants WHERE endpoint = ?", (name,))]


def load_specs(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    providers = [spec_of("providers", r[0]) for r in store.execute("SELECT spec FROM providers ORDER BY name")]
    endpoints = [json.loads(r[0]) for r in store.execute("SELECT spec FROM endpoints ORDER BY name")]
    return providers, endpoints


# --- the operator's prices (a list, replaced whole by PUT /api/v1/prices) ----------------------

def load_price_specs(store: Store) -> list[dict[str, Any]]:
    rows = store.execute("SELECT spec FROM prices ORDER BY scope, owner, model")
    return [json.loads(r[0]) for r in rows]


def upsert_price(entry: PriceEntry, only_if_changed: bool = False) -> Statement:
    now = time.time()
    scope, owner, model = entry.key
    return ("INSERT INTO prices (scope, owner, model, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(scope, owner, model) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at"
            + (" WHERE prices.spec != excluded.spec" if only_if_changed else ""),
            (scope, owner, model, json.dumps(entry.spec(), sort_keys=True), now, now))


def delete_price(key: tuple[str, str, str]) -> Statement:
    return ("DELETE FROM prices WHERE scope = ? AND owner = ? AND model = ?", key)


def replace_prices_statements(entries: list[PriceEntry]) -> list[Statement]:
    return [("DELETE FROM prices", ())] + [upsert_price(e) for e in entries]


def load_config_from_store(store: Store, max_body_bytes: int, source: str) -> GatewayConfig:
    providers, endpoints = load_specs(store)
    services = [spec_of("mcp_services", r[0]) for r in store.execute("SELECT spec FROM mcp_services ORDER BY name")]
    cfg = parse_config({"providers": providers, "endpoints": endpoints, "mcp_services": services,
                        "prices": load_price_specs(store), "budgets": load_budget_specs(store)},
                       f"{source} (stored)")
    cfg.max_body_bytes = max_body_bytes
    return cfg


def upsert_statements(cfg: GatewayConfig) -> list[tuple[str, tuple[Any, ...]]]:
    """Statements that create or replace every provider and endpoint of `cfg` (no deletes)."""
    now = time.time()
    statements: list[tuple[str, tuple[Any, ...]]] = []
    for table, specs in (("providers", [provider_spec(p) for p in cfg.providers.values()]),
                         ("endpoints", [endpoint_spec(e) for e in cfg.endpoints.values()]),
                         ("mcp_services", [mcp_service_spec(m) for m in cfg.mcp_services.values()])):
        for spec in specs:
            statements.append((
                f"INSERT INTO {table} (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at "
                f"WHERE {table}.spec != excluded.spec",
                (spec["name"], spec_json(table, spec), now, now)))
    statements += [upsert_price(e, only_if_changed=True) for e in cfg.prices]
    statements += [upsert_budget(b.to_spec(), only_if_changed=True) for b in cfg.budgets]
    return statements


def apply_file_config(store: Store, cfg: GatewayConfig) -> None:
    """At start: the file's providers, endpoints and prices are created or updated (never deleted:
    what was added through the admin API stays; `unigate apply --prune` removes)."""
    store.transaction(upsert_statements(cfg), bump=True)
