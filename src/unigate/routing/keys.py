"""Providers that cannot authenticate: a type that needs an API key (its `KEY_HEADER`) and a
configuration that gives none. Decided once per configuration; the request path only reads
`Provider.missing_key`, and routing skips such a destination with a 502 that says which
variable to set (server.attempts)."""

from __future__ import annotations

import os

from unigate.providers import PROVIDER_TYPES, ProviderConfig
from unigate.providers.secret_refs import SecretRef, is_ref


def key_problem(cfg: ProviderConfig, env_var: str | None = None) -> str | None:
    """Why `cfg` has no usable key, or None. `env_var`: the variable its api_key was read from
    (GatewayConfig.key_env). Names the variable, never a value."""
    header = PROVIDER_TYPES[cfg.type].KEY_HEADER
    if is_ref(cfg.api_key):  # env:NAME / file:/path: whether it resolves now
        return SecretRef(cfg.api_key).problem(cfg.name) if header is not None else None
    if header is None or cfg.api_key:
        return None
    given = {h.lower() for h in cfg.headers}
    if header.lower() in given or "authorization" in given:  # credentials given as a header
        return None
    if env_var:
        state = "is empty" if env_var in os.environ else "is not set"
        return f"provider '{cfg.name}' has no key ({env_var} {state})"
    return f"provider '{cfg.name}' has no key (its api_key is empty)"


def refusal(cfg: ProviderConfig, env_var: str | None) -> str | None:
    """The 502's message for a provider without a key (None: it has one): the problem and
    what to do about it."""
    problem = key_problem(cfg, env_var)
    if problem is None:
        return None
    if env_var:
        return f"{problem}: set {env_var} where the gateway runs and restart it"
    return f"{problem}: give it one (PUT /api/v1/providers/{cfg.name}, or the configuration file)"
