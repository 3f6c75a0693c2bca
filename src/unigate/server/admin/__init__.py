"""The admin REST API under /api/v1 (providers, endpoints, identities, tokens, grants, usage,
payloads, audit log, runtime counts and the OpenAPI document)."""

from __future__ import annotations

from unigate.server.admin import (
    audit_log,
    budgets,
    config_api,
    groups,
    identities,
    mcp_services,
    me,
    openapi,
    payloads,
    permissions,
    prices,
    runtime,
    sp_secrets,
    tokens,
    usage,
)
from unigate.server.http import Router


def add_routes(router: Router) -> None:
    for module in (me, identities, groups, tokens, permissions, audit_log, usage, payloads, runtime,
                   config_api, mcp_services, prices, budgets, sp_secrets, openapi):
        module.add_routes(router)
