"""Passive health shared by every worker of every instance through Redis: when a worker cools
a destination down, or sees a cooling one answer again, it publishes the news on
`unigate:health`, and every other worker applies it to its own `Health`. Decisions stay local
and the request path reads only memory; Redis carries only the changes (a few messages a
minute at worst). Without Redis, a notice is simply not sent."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets

import orjson

from unigate.governance.ratelimit.resp import RedisConnectionError, RedisError, RespClient, RespSubscriber
from unigate.routing.health import Health

log = logging.getLogger("unigate.routing")
CHANNEL = "unigate:health"


class SharedHealth:
    def __init__(self, health: Health, client: RespClient) -> None:
        self._health, self._client = health, client
        self._me = f"{os.getpid()}-{secrets.token_hex(4)}"  # our own notices come back: skip them
        self._pending: set[asyncio.Task[None]] = set()
        self.subscriber = RespSubscriber(client, CHANNEL, self._received)
        health.on_change = self._changed

    def start(self) -> None:
        self.subscriber.start()

    async def stop(self) -> None:
        self._health.on_change = None
        await self.subscriber.stop()

    def _changed(self, provider: str, model: str, seconds: float) -> None:
        message = orjson.dumps({"from": self._me, "provider": provider, "model": model, "seconds": seconds})
        task = asyncio.get_running_loop().create_task(self._publish(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, message: bytes) -> None:
        try:
            await self._client.call("PUBLISH", CHANNEL, message)
        except (RedisError, RedisConnectionError) as e:
            log.debug("health notice not sent: %s", e)

    def _received(self, data: bytes) -> None:
        try:
            news = orjson.loads(data)
            if news["from"] == self._me:
                return
            self._health.apply(str(news["provider"]), str(news["model"]), float(news["seconds"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.debug("a health notice that is not one: %r", data[:200])
