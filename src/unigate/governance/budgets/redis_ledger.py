"""Budget counters in Redis, shared by every worker of every instance (`redis: redis://...`).

The semantics of `LocalLedger`, each call one Lua script on the worker's pipelined connection
(the one the rate limiter uses). A counter is a hash {c: committed, s: spent} under
`unigate:budget:<key>`, whose key names the budget and its period, expiring a day after the
period ends. Amounts go in and out as decimal strings and change by HINCRBY (exact 64-bit
integers); only comparisons use Lua's doubles, exact below 2^53 nano-dollars (the limit's
bound, spec.MAX_LIMIT_USD).

A counter that is missing (a new period, a Redis that restarted) starts from the seed the
worker sends, when that seed is fresh (`seed_max_age`); otherwise the call says UNSEEDED and
the worker computes the seed from the usage table and asks again.

A request with rate limits too takes both in one round trip (`reserve_with_limits_async`): the
rate limiter's acquire script and this one's reserve in one script, all or nothing across both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from unigate.governance.budgets.ledger import OK, REFUSED, UNSEEDED, ReserveItem, SettleItem
from unigate.governance.ratelimit.backend import CounterItem
from unigate.governance.ratelimit.redis_backend import PREFIX as RATE_LIMIT_PREFIX
from unigate.governance.ratelimit.redis_backend import _Script
from unigate.governance.ratelimit.resp import RespClient

PREFIX = "unigate:budget:"
_STATUS = {0: OK, 1: REFUSED, 2: UNSEEDED}
RATE_LIMITED = "rate_limited"

# KEYS: counters; ARGV per item: expires_at, limit (< 0: none), cost, seed (< 0: unknown).
# Returns {status, 1-based index}: 0 every item taken, 1 item refused, 2 item unseeded.
_RESERVE = """
local fresh = {}
for i = 1, #KEYS do
  local b = (i - 1) * 4
  local limit, cost, seed = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local c = redis.call('HGET', KEYS[i], 'c')
  if c then
    c = tonumber(c)
  elseif seed < 0 then
    return {2, i}
  else
    c = seed
    fresh[i] = true
  end
  if limit >= 0 and (c >= limit or c + cost > limit) then
    return {1, i}
  end
end
for i = 1, #KEYS do
  local b = (i - 1) * 4
  if fresh[i] then
    redis.call('HSET', KEYS[i], 'c', ARGV[b + 4], 's', ARGV[b + 4])
    redis.call('EXPIREAT', KEYS[i], ARGV[b + 1])
  end
  redis.call('HINCRBY', KEYS[i], 'c', ARGV[b + 3])
end
return {0, 0}
"""

# The rate limiter's acquire (governance.ratelimit.redis_backend._ACQUIRE, the same semantics) and
# _RESERVE in one script. KEYS: the rate-limit counters, then the budget counters; ARGV[1]: how many
# rate-limit counters; then per rate-limit item start, seconds, limit, cost; then per budget item
# expires_at, limit, cost, seed. Returns {0, 0} when everything was taken, {1, i} when rate-limit
# item i has no room, {2, i} when budget item i has none, {3, i} when budget item i is unseeded.
_RESERVE_WITH_LIMITS = """
local n = tonumber(ARGV[1])
local plan = {}
for i = 1, n do
  local b = 1 + (i - 1) * 4
  local start, seconds = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
  local limit, cost = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local cur = redis.call('HMGET', KEYS[i], 's', 'c')
  local count = 0
  if cur[1] and tonumber(cur[1]) >= start then
    start = tonumber(cur[1])
    count = tonumber(cur[2]) or 0
  end
  if limit <= 0 or count + cost > limit then
    return {1, i}
  end
  plan[i] = {start, seconds, count + cost}
end
local fresh = {}
for j = n + 1, #KEYS do
  local b = 1 + n * 4 + (j - n - 1) * 4
  local limit, cost, seed = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local c = redis.call('HGET', KEYS[j], 'c')
  if c then
    c = tonumber(c)
  elseif seed < 0 then
    return {3, j - n}
  else
    c = seed
    fresh[j] = true
  end
  if limit >= 0 and (c >= limit or c + cost > limit) then
    return {2, j - n}
  end
end
for i = 1, n do
  redis.call('HSET', KEYS[i], 's', plan[i][1], 'c', plan[i][3])
  redis.call('EXPIREAT', KEYS[i], plan[i][1] + plan[i][2] + 60)
end
for j = n + 1, #KEYS do
  local b = 1 + n * 4 + (j - n - 1) * 4
  if fresh[j] then
    redis.call('HSET', KEYS[j], 'c', ARGV[b + 4], 's', ARGV[b + 4])
    redis.call('EXPIREAT', KEYS[j], ARGV[b + 1])
  end
  redis.call('HINCRBY', KEYS[j], 'c', ARGV[b + 3])
end
return {0, 0}
"""
_FOLDED = {0: OK, 1: RATE_LIMITED, 2: REFUSED, 3: UNSEEDED}

# KEYS: counters; ARGV per item: committed delta (actual - reserved), actual. Returns each
# counter's spent after, or -1 where it is gone.
_SETTLE = """
local out = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local s = redis.call('HINCRBY', KEYS[i], 's', ARGV[2 * i])
    local c = redis.call('HINCRBY', KEYS[i], 'c', ARGV[2 * i - 1])
    if c < s then
      redis.call('HSET', KEYS[i], 'c', redis.call('HGET', KEYS[i], 's'))
    end
    out[i] = s
  else
    out[i] = -1
  end
end
return out
"""

_READ = """
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], 'c', 's')
end
return out
"""


class RedisLedger:
    """One per worker, on the worker's Redis connection. Asynchronous: the engine awaits
    `reserve_async` and runs `settle_async` in the background."""

    # A counter lost mid-period (Redis restarted) restarts from a seed at most this old.
    seed_max_age: float | None = 10.0

    def __init__(self, client: RespClient) -> None:
        self.client = client
        self._reserve = _Script(client, _RESERVE)
        self._settle = _Script(client, _SETTLE)
        self._read = _Script(client, _READ)
        self._reserve_with_limits = _Script(client, _RESERVE_WITH_LIMITS)

    async def reserve_async(self, items: Sequence[ReserveItem]) -> tuple[str, int]:
        keys = [PREFIX + item[0] for item in items]
        args: list[Any] = []
        for _, expires, limit, cost, seed in items:
            args += [expires + 86_400, limit, cost, seed]
        reply = await self._reserve(keys, args)
        assert isinstance(reply, list)
        return _STATUS[int(reply[0])], int(reply[1]) - 1

    async def reserve_with_limits_async(self, limits: Sequence[CounterItem],
                                        items: Sequence[ReserveItem]) -> tuple[str, int]:
        """The rate-limit counters (the rate limiter's items) and the budgets' in one round trip,
        all or nothing: (OK, -1); (RATE_LIMITED, i) for rate-limit item i without room; (REFUSED,
        i) or (UNSEEDED, i) for budget item i. Only OK changes anything."""
        keys = [RATE_LIMIT_PREFIX + item[0] for item in limits] + [PREFIX + item[0] for item in items]
        args: list[Any] = [len(limits)]
        for _, start, seconds, limit, cost in limits:
            args += [start, seconds, limit, cost]
        for _, expires, limit, cost, seed in items:
            args += [expires + 86_400, limit, cost, seed]
        reply = await self._reserve_with_limits(keys, args)
        assert isinstance(reply, list)
        return _FOLDED[int(reply[0])], int(reply[1]) - 1

    async def settle_async(self, items: Sequence[SettleItem]) -> list[int | None]:
        keys = [PREFIX + item[0] for item in items]
        args: list[Any] = []
        for _, reserved, actual in items:
            args += [actual - reserved, actual]
        spent = await self._settle(keys, args)
        assert isinstance(spent, list)
        return [None if int(s) < 0 else int(s) for s in spent]

    async def read_async(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        rows = await self._read([PREFIX + k for k in keys], [])
        assert isinstance(rows, list)
        out: list[tuple[int, int] | None] = []
        for c, s in rows:
            out.append(None if c is None else (int(c), int(s or 0)))
        return out

    # The synchronous calls of the seam are not offered: they would block the event loop.
    def reserve(self, items: Sequence[ReserveItem]) -> tuple[str, int]:
        raise TypeError("RedisLedger is asynchronous: use reserve_async")

    def settle(self, items: Sequence[SettleItem]) -> list[int | None]:
        raise TypeError("RedisLedger is asynchronous: use settle_async")

    def read(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        raise TypeError("RedisLedger is asynchronous: use read_async")
