"""The in-memory snapshot a worker serves from: configuration, tokens, group memberships and
grants, loaded from the store in one go and swapped whole when the configuration changes (no
database access on the request path)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from unigate.accounting.prices import PriceCatalogue, Pricing, no_pricing
from unigate.config import GatewayConfig
from unigate.governance.ratelimit import RateLimit, parse_rate_limits
from unigate.providers import Provider, build_provider
from unigate.routing.keys import refusal
from unigate.store.base import Store, TokenRow
from unigate.store.config_store import load_config_from_store
from unigate.store.identities import all_grants, all_mcp_grants, all_memberships

ADMINS_GROUP = "admins"
Identity = tuple[str, str]  # (principal type, name): ("user", email), ("group", name), ...
QUERY, MANAGE, USE = "CAN_QUERY", "CAN_MANAGE", "CAN_USE"


@dataclass(slots=True)
class Snapshot:
    version: int
    config: GatewayConfig
    providers: dict[str, Provider]
    tokens: dict[str, TokenRow]  # by token hash
    groups_of: dict[Identity, frozenset[str]]  # every group a principal is in, nesting followed
    grants: dict[str, dict[Identity, str]]  # endpoint -> identity -> level
    managers: set[Identity] = field(default_factory=set)  # identities with CAN_MANAGE somewhere
    # Parsed once per snapshot; the same list object every request (the limiter caches by it).
    limits: dict[str, list[RateLimit]] = field(default_factory=dict)
    # service -> identity -> the tools granted (None: every tool)
    mcp_grants: dict[str, dict[Identity, frozenset[str] | None]] = field(default_factory=dict)
    mcp_limits: dict[str, list[RateLimit]] = field(default_factory=dict)  # service -> its rate limits
    pricing: Pricing = field(default_factory=no_pricing)  # what a request cost (accounting.prices)


def _group_closure(rows: list[tuple[str, str, str]]) -> dict[Identity, frozenset[str]]:
    direct: dict[Identity, set[str]] = defaultdict(set)
    for group, member_type, member in rows:
        direct[(member_type, member)].add(group)
    closure: dict[Identity, frozenset[str]] = {}
    for ident in list(direct):
        seen: set[str] = set()
        todo = list(direct[ident])
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(direct.get(("group", g), ()))
        closure[ident] = frozenset(seen)
    return closure


def load_snapshot(store: Store, max_body_bytes: int, source: str,
                  key_env: dict[str, str] | None = None) -> Snapshot:
    """`key_env`: the file's GatewayConfig.key_env (stored specs keep no empty key, nor where
    it was to come from)."""
    version = store.config_version()
    config = load_config_from_store(store, max_body_bytes, source)
    providers = {name: build_provider(cfg) for name, cfg in config.providers.items()}
    for name, provider in providers.items():  # decided here, once, not per request
        provider.missing_key = refusal(config.providers[name], (key_env or {}).get(name))
    tokens = {row.token_hash: row for row in store.active_tokens()}
    members = all_memberships(store)
    grants: dict[str, dict[Identity, str]] = defaultdict(dict)
    managers: set[Identity] = set()
    for endpoint, ptype, principal, level in all_grants(store):
        grants[endpoint][(ptype, principal)] = level
        if level == MANAGE:
            managers.add((ptype, principal))
    limits = {name: parse_rate_limits(e.rate_limits) for name, e in config.endpoints.items()
              if e.rate_limits}
    mcp_grants: dict[str, dict[Identity, frozenset[str] | None]] = defaultdict(dict)
    for service, ptype, principal, tools in all_mcp_grants(store):
        mcp_grants[service][(ptype, principal)] = tools
    mcp_limits = {name: parse_rate_limits(m.rate_limits) for name, m in config.mcp_services.items()
                  if m.rate_limits}
    pricing = Pricing(PriceCatalogue(config.prices), {name: p.type for name, p in config.providers.items()})
    return Snapshot(version, config, providers, tokens, _group_closure(members), dict(grants),
                    managers, limits, dict(mcp_grants), mcp_limits, pricing)


def describe(snapshot: Snapshot) -> str:
    return json.dumps({"version": snapshot.version, "endpoints": len(snapshot.config.endpoints),
                       "tokens": len(snapshot.tokens)})
