"""Rate-limit counters in Redis, shared by every worker of every instance (`redis: redis://...`).

The same semantics as `LocalBackend`, each call one Lua script, so a check-and-increment of all
the counters a request needs is atomic across instances: all are incremented or none is. A
counter is a hash {s: window start, c: count} under `unigate:rl:<key>` that expires a minute
after its window ends. The calls are awaitable (`try_acquire_async`, `adjust_async`): the
request path waits for Redis without blocking the event loop, on one pipelined connection per
worker (`resp.RespClient`).

When Redis does not answer, `failure` decides: "open" lets the request through (and logs, at
most every 10 s), "closed" refuses it with a 503 naming Redis. Either way nothing is queued:
counts resume from what Redis holds once it is back."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence

from unigate.errors import GatewayError
from unigate.governance.ratelimit.backend import CounterItem
from unigate.governance.ratelimit.resp import RedisConnectionError, RedisError, RespClient

log = logging.getLogger("unigate.ratelimit")
PREFIX = "unigate:rl:"
FAILURES = ("open", "closed")

# KEYS: counters; ARGV: per item start, seconds, limit, cost. Returns 0, or the 1-based index of
# the first item without room (then nothing changed).
_ACQUIRE = """
local plan = {}
for i = 1, #KEYS do
  local b = (i - 1) * 4
  local start, seconds = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local limit, cost = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local cur = redis.call('HMGET', KEYS[i], 's', 'c')
  local count = 0
  if cur[1] and tonumber(cur[1]) >= start then
    start = tonumber(cur[1])
    count = tonumber(cur[2]) or 0
  end
  if limit <= 0 or count + cost > limit then
    return i
  end
  plan[i] = {start, seconds, count + cost}
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 's', plan[i][1], 'c', plan[i][3])
  redis.call('EXPIREAT', KEYS[i], plan[i][1] + plan[i][2] + 60)
end
return 0
"""

# KEYS[1]: the counter; ARGV: window start, delta. Only while the counter is in that window.
_ADJUST = """
local cur = redis.call('HMGET', KEYS[1], 's', 'c')
if cur[1] and tonumber(cur[1]) == tonumber(ARGV[1]) then
  local c = (tonumber(cur[2]) or 0) + tonumber(ARGV[2])
  if c < 0 then c = 0 end
  redis.call('HSET', KEYS[1], 'c', c)
end
return 0
"""


class RedisUnavailable(GatewayError):
    status, code = 503, "rate_limiter_unavailable"


class _Script:
    """A Lua script run by its SHA1 (EVALSHA), loaded into Redis when it does not know it."""

    def __init__(self, client: RespClient, source: str) -> None:
        self.client, self.source = client, source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: list[str], args: list[int]) -> object:
        try:
            return await self.client.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except RedisError as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
        await self.client.call("SCRIPT", "LOAD", self.source)  # a new or restarted Redis
        return await self.client.call("EVALSHA", self.sha, len(keys), *keys, *args)


class RedisBackend:
    """One per worker process: one pipelined connection (governance.ratelimit.resp), bound to
    the worker's event loop."""

    def __init__(self, url: str, failure: str = "open", timeout: float = 0.5) -> None:
        self.url = url
        self.failure = failure
        self._client = RespClient(url, timeout)
        self._acquire = _Script(self._client, _ACQUIRE)
        self._adjust = _Script(self._client, _ADJUST)
        self._logged = 0.0
        self.failures = 0  # calls Redis did not answer (for operators and tests)

    async def try_acquire_async(self, items: Sequence[CounterItem]) -> int | None:
        keys = [PREFIX + key for key, *_ in items]
        args: list[int] = []
        for _, start, seconds, limit, cost in items:
            args += [start, seconds, limit, cost]
        try:
            refused = int(await self._acquire(keys, args))  # type: ignore[call-overload]
        except (RedisError, RedisConnectionError) as e:
            self._failed(e)
            if self.failure == "closed":
                raise RedisUnavailable("rate limits cannot be checked: Redis does not answer") from None
            return None
        return None if refused == 0 else refused - 1

    async def adjust_async(self, key: str, window_start: int, delta: int) -> None:
        try:
            await self._adjust([PREFIX + key], [window_start, delta])
        except (RedisError, RedisConnectionError) as e:
            self._failed(e)

    # The synchronous calls of the seam are not offered: they would block the event loop.
    def try_acquire(self, items: Sequence[CounterItem]) -> int | None:
        raise TypeError("RedisBackend is asynchronous: use try_acquire_async")

    def adjust(self, key: str, window_start: int, delta: int) -> None:
        raise TypeError("RedisBackend is asynchronous: use adjust_async")

    @property
    def client(self) -> RespClient:
        """The worker's Redis connection, for other notices that ride on it (routing.shared_health)."""
        return self._client

    async def ping(self) -> bool:
        try:
            return await self._client.call("PING") == "PONG"
        except (RedisError, RedisConnectionError):
            return False

    async def ttl(self, key: str) -> int:
        return int(await self._client.call("TTL", PREFIX + key))

    async def close(self) -> None:
        await self._client.close()

    def _failed(self, error: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._logged > 10:
            self._logged = now
            log.warning("Redis at %s does not answer (%s): rate limits %s", safe_url(self.url),
                        error, "let requests through" if self.failure == "open" else "refuse requests")


def safe_url(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
