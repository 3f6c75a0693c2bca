"""Listening, and stopping without cutting anyone off: on shutdown the socket stops accepting,
idle connections close, and requests in flight get `grace` seconds to finish."""

from __future__ import annotations

import asyncio
import time

from unigate.server.http.application import Application
from unigate.server.http.protocol import HttpProtocol


class HttpServer:
    def __init__(self, app: Application) -> None:
        self.app = app
        self.loop = asyncio.get_running_loop()
        self.connections: set[HttpProtocol] = set()
        self.closing = False
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int, reuse_port: bool = False, backlog: int = 2048) -> None:
        self._server = await self.loop.create_server(
            lambda: HttpProtocol(self), host, port, reuse_port=reuse_port, backlog=backlog)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def shutdown(self, grace: float) -> None:
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):  # out of time: cut off what is left
            conn.abort()
        await asyncio.sleep(0)  # let connection_lost cancel the handlers
