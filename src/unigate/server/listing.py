"""`GET .../models` on each surface: the endpoints this caller may query, in that API's shape."""

from __future__ import annotations

import orjson

from unigate.codecs.wire_format import ModelEntry, ModelListing, WireFormat
from unigate.config import EndpointConfig
from unigate.errors import NotFound
from unigate.server.context import RequestContext
from unigate.server.guard import guarded
from unigate.server.http import AnyResponse


def model_entry(endpoint: EndpointConfig) -> ModelEntry:
    """An endpoint counts as an embeddings endpoint when its name or models say so."""
    names = [endpoint.name] + [d.model for d in endpoint.destinations]
    return ModelEntry(endpoint.name, any("embed" in n.lower() for n in names))


def visible_endpoints(ctx: RequestContext) -> list[EndpointConfig]:
    """The endpoints this caller may query."""
    principal, state = ctx.principal, ctx.state
    assert principal is not None
    return sorted((e for e in state.endpoints.values() if state.can_query(principal, e.name)),
                  key=lambda e: e.name)


async def list_models(ctx: RequestContext, fmt: WireFormat) -> AnyResponse:
    listing = _listing(fmt)

    async def work() -> AnyResponse:
        items = [listing.describe(model_entry(e)) for e in visible_endpoints(ctx)]
        return ctx.json_response(orjson.dumps(listing.wrap(items)))

    return await guarded(ctx, fmt.error_body, work)


async def get_model(ctx: RequestContext, fmt: WireFormat, name: str) -> AnyResponse:
    listing = _listing(fmt)

    async def work() -> AnyResponse:
        for e in visible_endpoints(ctx):
            if e.name == name:
                return ctx.json_response(orjson.dumps(listing.describe(model_entry(e))))
        raise NotFound(f"endpoint '{name}' does not exist")

    return await guarded(ctx, fmt.error_body, work)


def _listing(fmt: WireFormat) -> ModelListing:
    assert fmt.models is not None, f"{fmt.name} has no model listing"
    return fmt.models
