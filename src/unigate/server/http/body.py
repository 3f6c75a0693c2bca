"""A body that arrives in pieces: what one side of a connection feeds in as the parser hands
it over, and the other side reads as it comes (`readany`) or whole (`read`). Used for request
bodies on the gateway's own server and for provider responses in the provider client."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

# Buffered bytes at which the connection stops reading until the reader has caught up (a slow
# reader must not make the gateway hold a whole long body or stream in memory).
HIGH_WATER = 256 * 1024


class Clock(Protocol):
    seconds: float


class FlowControl(Protocol):
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class BodyStream:
    __slots__ = ("_buffered", "_chunks", "_done", "_error", "_flow", "_waiter", "clock")

    def __init__(self, flow: FlowControl | None) -> None:
        self._flow = flow
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        # where time spent waiting for the body is added (a provider's answer: its request's
        # ProviderClock, unigate.server.upstream_http); None for the gateway's own request bodies
        self.clock: Clock | None = None

    # --- what the connection calls ------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and self._flow is not None:
            self._flow.pause()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if not self._done:
            self._error = error
            self._done = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # --- what the reader calls ----------------------------------------------------------

    @property
    def complete(self) -> bool:
        """The whole body arrived (and nothing broke on the way)."""
        return self._done and self._error is None

    async def readany(self, timeout: float | None = None) -> bytes:
        """What has arrived since the last call (waiting for something if nothing has);
        b"" at the end of the body. TimeoutError if nothing came in `timeout` seconds."""
        if not self._chunks and not self._done:
            await self._wait(timeout)
        if self._chunks:
            chunks, self._chunks = self._chunks, []
            self._buffered = 0
            if self._flow is not None:
                self._flow.resume()
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self._error is not None:
            raise self._error
        return b""

    def discard(self) -> None:
        """Nobody will read the rest: drop what is buffered (the connection drops what comes)."""
        self._chunks = []
        self._buffered = 0

    async def read(self) -> bytes:
        parts: list[bytes] = []
        while chunk := await self.readany():
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        # one timer handle, only when nothing is buffered: cheaper than a timeout context
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        started = time.perf_counter()
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
            if self.clock is not None:
                self.clock.seconds += time.perf_counter() - started


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
