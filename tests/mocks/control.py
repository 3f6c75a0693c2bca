"""The /_mock control API and the middleware that records every provider request."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .faults import ConnectionDropped
from .state import state_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/_mock"):
        state = state_of(request)
        state.stats[request.path] += 1
        state.records.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": _parse_body(await request.read()),
                "time": time.time(),
            }
        )
    try:
        return await handler(request)
    except ConnectionDropped:
        # The connection is already gone on purpose; hand aiohttp something inert.
        return web.Response(status=499)


async def list_requests(request: web.Request) -> web.Response:
    records = state_of(request).records
    wanted = request.query.get("path_contains", "")
    return web.json_response([r for r in records if wanted in r["path"]])


async def last_request(request: web.Request) -> web.Response:
    records = state_of(request).records
    if not records:
        return web.json_response({"error": "no requests recorded"}, status=404)
    return web.json_response(records[-1])


async def clear_requests(request: web.Request) -> web.Response:
    state = state_of(request)
    state.records.clear()
    state.stats.clear()
    return web.json_response({"cleared": True})


async def stats(request: web.Request) -> web.Response:
    counts = state_of(request).stats
    return web.json_response({"total": sum(counts.values()), "by_path": dict(counts)})


async def add_faults(request: web.Request) -> web.Response:
    body = await request.json()
    specs = body.get("faults") or []
    if isinstance(specs, str):
        specs = [specs]
    try:
        state_of(request).faults.add(list(specs), str(body.get("path_contains") or ""))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"queued": len(state_of(request).faults.items)})


async def clear_faults(request: web.Request) -> web.Response:
    state_of(request).faults.clear()
    return web.json_response({"queued": 0})


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_mock/requests", list_requests)
    app.router.add_delete("/_mock/requests", clear_requests)
    app.router.add_get("/_mock/requests/last", last_request)
    app.router.add_get("/_mock/stats", stats)
    app.router.add_post("/_mock/faults", add_faults)
    app.router.add_delete("/_mock/faults", clear_faults)
