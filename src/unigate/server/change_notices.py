"""Configuration change notices through Redis: a worker that commits a change (a bump of the
store's configuration version) publishes `unigate:config`, and every worker of every instance
checks the version at once instead of at its next poll. The notice carries nothing but the
news; the store stays the one source of truth, and the poll (GatewayState.reload_interval)
catches any notice lost while Redis was away."""

from __future__ import annotations

import asyncio
import logging

from unigate.governance.ratelimit.resp import RedisConnectionError, RedisError, RespClient, RespSubscriber
from unigate.server.state import NOTICED_RELOAD_INTERVAL, GatewayState

log = logging.getLogger("unigate.state")
CHANNEL = "unigate:config"


class ChangeNotices:
    def __init__(self, state: GatewayState, client: RespClient) -> None:
        self._state, self._client = state, client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.subscriber = RespSubscriber(client, CHANNEL, lambda _data: state.poke())

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.subscriber.start()
        self._state.store.on_bump = self._committed
        self._state.reload_interval = NOTICED_RELOAD_INTERVAL

    async def stop(self) -> None:
        self._state.store.on_bump = None
        await self.subscriber.stop()

    def _committed(self) -> None:
        """From the thread that wrote the change."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._send)

    def _send(self) -> None:
        task = asyncio.get_running_loop().create_task(self._publish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self) -> None:
        try:
            await self._client.call("PUBLISH", CHANNEL, b"changed")
        except (RedisError, RedisConnectionError) as e:
            log.debug("change notice not sent (the poll will find the change): %s", e)
