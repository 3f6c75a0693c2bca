"""`GET .../models` on each surface: the endpoints this caller may query, in that API's shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from unigate.config import EndpointConfig
from unigate.errors import GatewayError, NotFound
from unigate.server.context import RequestContext
from unigate.server.guard import guarded

CREATED = 1735689600  # 2025-01-01: endpoints have no creation time yet; a fixed, honest-looking value
CREATED_ISO = "2025-01-01T00:00:00Z"


def _is_embedding(ctx: RequestContext, endpoint: EndpointConfig) -> bool:
    """An endpoint counts as an embeddings endpoint when its name or models say so."""
    names = [endpoint.name] + [d.model for d in endpoint.destinations]
    return any("embed" in n.lower() for n in names)


def openai_model(ctx: RequestContext, ep: EndpointConfig) -> dict[str, Any]:
    return {"id": ep.name, "object": "model", "created": CREATED, "owned_by": "unigate"}


def anthropic_model(ctx: RequestContext, ep: EndpointConfig) -> dict[str, Any]:
    return {"type": "model", "id": ep.name, "display_name": ep.name, "created_at": CREATED_ISO}


def gemini_model(ctx: RequestContext, ep: EndpointConfig) -> dict[str, Any]:
    methods = (["embedContent", "batchEmbedContents"] if _is_embedding(ctx, ep)
               else ["generateContent", "streamGenerateContent", "countTokens"])
    return {"name": f"models/{ep.name}", "baseModelId": ep.name, "version": "001",
            "displayName": ep.name, "description": f"Unigate endpoint {ep.name}",
            "supportedGenerationMethods": methods}


def _wrap_openai(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items}


def _wrap_anthropic(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "has_more": False,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None}


def _wrap_gemini(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"models": items}


SHAPES: dict[str, tuple[Callable[[RequestContext, EndpointConfig], dict[str, Any]],
                        Callable[[list[dict[str, Any]]], dict[str, Any]]]] = {
    "openai": (openai_model, _wrap_openai),
    "anthropic": (anthropic_model, _wrap_anthropic),
    "gemini": (gemini_model, _wrap_gemini),
}


def visible_endpoints(ctx: RequestContext) -> list[EndpointConfig]:
    """The endpoints this caller may query."""
    principal, state = ctx.principal, ctx.state
    assert principal is not None
    return sorted((e for e in state.endpoints.values() if state.can_query(principal, e.name)),
                  key=lambda e: e.name)


async def list_models(ctx: RequestContext, shape: str,
                      render_error: Callable[[GatewayError], dict[str, Any]]) -> web.StreamResponse:
    one, wrap = SHAPES[shape]

    async def work() -> web.StreamResponse:
        return ctx.json_response(orjson.dumps(wrap([one(ctx, e) for e in visible_endpoints(ctx)])))

    return await guarded(ctx, render_error, work)


async def get_model(ctx: RequestContext, shape: str, name: str,
                    render_error: Callable[[GatewayError], dict[str, Any]]) -> web.StreamResponse:
    one, _ = SHAPES[shape]

    async def work() -> web.StreamResponse:
        for e in visible_endpoints(ctx):
            if e.name == name:
                return ctx.json_response(orjson.dumps(one(ctx, e)))
        raise NotFound(f"endpoint '{name}' does not exist")

    return await guarded(ctx, render_error, work)
