"""Diagnostics: a loopback proxy that deletes named parameters from JSON bodies, then relays.

Put it between an agent and the gateway to see what a translated combination does once the
parameters the gateway refuses today are gone (the next defect behind the first 400):

    python -m tests.agents.strip_proxy --upstream http://127.0.0.1:8080 \
        --strip client_metadata --strip generationConfig.topK --strip-tool-types namespace,web_search

Paths are dotted (`generationConfig.topK`); `--strip-tool-types` drops entries of `tools` whose
`type` is listed. Responses (streams included) are relayed chunk by chunk, unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


def strip(body: Any, paths: list[str], tool_types: set[str]) -> Any:
    if not isinstance(body, dict):
        return body
    for path in paths:
        *parents, last = path.split(".")
        obj: Any = body
        for p in parents:
            obj = obj.get(p) if isinstance(obj, dict) else None
        if isinstance(obj, dict):
            obj.pop(last, None)
    if tool_types and isinstance(body.get("tools"), list):
        body["tools"] = [t for t in body["tools"] if not (isinstance(t, dict) and t.get("type") in tool_types)]
    return body


def make_app(upstream: str, paths: list[str], tool_types: set[str]) -> web.Application:
    async def relay(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            raw = json.dumps(strip(json.loads(raw), paths, tool_types)).encode() if raw else raw
        except ValueError:
            pass
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        session: aiohttp.ClientSession = request.app["session"]
        async with session.request(request.method, upstream + request.path_qs, data=raw,
                                   headers=headers) as up:
            resp = web.StreamResponse(status=up.status, headers={
                k: v for k, v in up.headers.items() if k.lower() not in HOP | {"content-encoding"}})
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    async def open_session(app: web.Application) -> Any:
        app["session"] = aiohttp.ClientSession(auto_decompress=True)
        yield
        await app["session"].close()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.cleanup_ctx.append(open_session)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


async def serve(upstream: str, port: int, paths: list[str], tool_types: set[str]) -> None:
    runner = web.AppRunner(make_app(upstream, paths, tool_types))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--strip", action="append", default=[])
    ap.add_argument("--strip-tool-types", default="")
    a = ap.parse_args()
    asyncio.run(serve(a.upstream, a.port, a.strip, set(filter(None, a.strip_tool_types.split(",")))))
