"""GET /api/v1/prices (the effective catalogue: shipped list prices and the operator's entries,
each marked with its origin) and PUT /api/v1/prices (replace the operator's entries; admins).

The operator's entries live in the store's prices table, in the configuration file's `prices:`
shape; a change bumps the configuration version, so every worker prices the rows it writes
from then on by the new catalogue within the normal reload (about a second)."""

from __future__ import annotations

import asyncio
from typing import Any

from unigate.accounting.prices import PriceCatalogue, PriceEntry, shipped_catalogue
from unigate.config import ConfigError, parse_config
from unigate.errors import InvalidRequest
from unigate.governance.plan import Change
from unigate.governance.price_plan import price_changes
from unigate.server.admin.common import PREFIX, Caller, admin_route, audit, field, json_response, read_json
from unigate.server.admin.config_api import config_invalid, refuse_env_refs
from unigate.server.http import Request, Response, Router
from unigate.store.base import Store
from unigate.store.config_store import load_price_specs, replace_prices_statements


def parse_prices(specs: list[Any], source: str = "request") -> list[PriceEntry]:
    """Entries in the file's shape, validated by the file's parser: a 400 naming the field
    (`prices[2].input`) when one is wrong."""
    refuse_env_refs(specs, "prices")
    try:
        return parse_config({"prices": specs}, source).prices
    except ConfigError as e:
        raise config_invalid(e, source, keep_entry=True) from None


def effective(store: Store) -> dict[str, Any]:
    """What GET answers: read from the store, so it shows a PUT at once (the workers follow
    within a second)."""
    entries = parse_config({"prices": load_price_specs(store)}, "stored prices").prices
    shipped = shipped_catalogue()
    return {"as_of": shipped.as_of, "source": shipped.source,
            "prices": PriceCatalogue(entries, shipped).effective()}


def replace(store: Store, entries: list[PriceEntry]) -> list[Change]:
    """Store `entries` as the operator's whole list (one transaction; bumps the version)."""
    changes = price_changes([e.spec() for e in entries], load_price_specs(store), prune=True)
    if changes:
        store.transaction(replace_prices_statements(entries), bump=True)
    return changes


@admin_route
async def get_prices(request: Request, caller: Caller) -> Response:
    return json_response(await asyncio.to_thread(effective, caller.state.store))


@admin_route
async def put_prices(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    unknown = sorted(set(body) - {"prices"})
    if unknown:
        raise InvalidRequest(f"unknown field '{unknown[0]}' (expected prices)", param=unknown[0])
    specs = field(body, "prices", list)
    entries = parse_prices(specs)
    changes = await asyncio.to_thread(replace, caller.state.store, entries)
    if changes:
        await asyncio.to_thread(audit, caller.state, caller, "prices.update", "prices",
                                {"changes": [c.to_json() for c in changes]})
    data = await asyncio.to_thread(effective, caller.state.store)
    return json_response({**data, "changed": len(changes)})


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/prices", get_prices)
    router.add_put(f"{PREFIX}/prices", put_prices)
