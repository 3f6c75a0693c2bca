"""Rate limits shared by several instances through a real Redis server: the backend's semantics
(those of LocalBackend), what happens when Redis does not answer, and 3 gateway instances x 200
concurrent requests against 50 per minute letting exactly 50 through."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from tests.integration.gateway import ADMIN_TOKEN, Gateway, refusing_port, start_gateway
from tests.integration.redis_server import start_redis
from unigate.governance.ratelimit import LocalBackend
from unigate.governance.ratelimit.redis_backend import RedisBackend, RedisUnavailable
from unigate.governance.ratelimit.resp import RespClient


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    url, stop = start_redis()
    yield url
    stop()


def _key() -> str:
    return "test-" + uuid.uuid4().hex


def _window() -> int:
    return int(time.time() // 60) * 60


# --- the backend ---------------------------------------------------------------------------------

async def test_acquire_is_all_or_nothing_like_the_local_backend(redis_url: str) -> None:
    redis, local = RedisBackend(redis_url), LocalBackend()
    a, b = _key(), _key()
    w = _window()
    steps = [
        [(a, w, 60, 2, 1), (b, w, 60, 5, 3)],      # both have room
        [(a, w, 60, 2, 1), (b, w, 60, 5, 3)],      # b is full (6 > 5): nothing changes
        [(a, w, 60, 2, 1)],                        # a still has room for one
        [(a, w, 60, 2, 1)],                        # now it has not
        [(a, w + 60, 60, 2, 1)],                   # the next window starts afresh
        [(a, w, 60, 2, 1)],                        # a late clock is charged in the later window
        [(a, w, 60, 2, 1)],                        # ... which is now full
        [(b, w, 60, 0, 1)],                        # a limit of 0 refuses
    ]
    try:
        for items in steps:
            assert await redis.try_acquire_async(items) == local.try_acquire(items), items
    finally:
        await redis.close()


async def test_adjust_corrects_only_the_same_window_and_never_below_zero(redis_url: str) -> None:
    redis = RedisBackend(redis_url)
    k, w = _key(), _window()
    try:
        assert await redis.try_acquire_async([(k, w, 60, 10, 8)]) is None
        await redis.adjust_async(k, w, -6)       # used 2 of the 8 reserved
        assert await redis.try_acquire_async([(k, w, 60, 10, 8)]) is None   # 2 + 8 = 10
        await redis.adjust_async(k, w - 60, -100)  # an older window: ignored
        assert await redis.try_acquire_async([(k, w, 60, 10, 1)]) == 0
        await redis.adjust_async(k, w, -100)     # clamped at 0
        assert await redis.try_acquire_async([(k, w, 60, 10, 10)]) is None
    finally:
        await redis.close()


async def test_counters_expire_after_their_window(redis_url: str) -> None:
    redis = RedisBackend(redis_url)
    k = _key()
    start = _window()
    try:
        assert await redis.try_acquire_async([(k, start, 60, 5, 1)]) is None
        ttl = await redis.ttl(k)
        assert 0 < ttl <= 60 + 60 + 1
    finally:
        await redis.close()


async def test_redis_down_fails_open_or_closed_by_setting() -> None:
    dead = f"redis://127.0.0.1:{refusing_port()}/0"
    opened, closed = RedisBackend(dead, "open", timeout=0.2), RedisBackend(dead, "closed", timeout=0.2)
    try:
        assert await opened.try_acquire_async([(_key(), _window(), 60, 1, 1)]) is None
        assert opened.failures == 1
        with pytest.raises(RedisUnavailable):
            await closed.try_acquire_async([(_key(), _window(), 60, 1, 1)])
        await opened.adjust_async(_key(), _window(), 5)  # lost, without an exception
    finally:
        await opened.close()
        await closed.close()


async def test_a_restarted_redis_is_reconnected_and_given_the_scripts_again() -> None:
    url, stop = start_redis()
    redis = RedisBackend(url, "open", timeout=0.3)
    k, w = _key(), _window()
    try:
        assert await redis.try_acquire_async([(k, w, 60, 1, 1)]) is None
        assert await redis.try_acquire_async([(k, w, 60, 1, 1)]) == 0
        stop()
        assert await redis.try_acquire_async([(k, w, 60, 1, 1)]) is None  # failed open
        assert redis.failures == 1
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        _, stop = start_redis(port)  # an empty Redis: no counters, no scripts
        await asyncio.sleep(RespClient.RECONNECT_PAUSE)
        assert await redis.try_acquire_async([(k, w, 60, 1, 1)]) is None
        assert await redis.try_acquire_async([(k, w, 60, 1, 1)]) == 0
    finally:
        await redis.close()
        stop()


# --- several instances ---------------------------------------------------------------------------

def _config(mock_url: str, redis_url: str, failure: str = "open") -> str:
    return f"""
redis: "{redis_url}"
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - name: limited
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    rate_limits: [{{key: endpoint, requests: 50, renewal_period: minute}}]
  - name: tokens-limited
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    rate_limits: [{{key: user_default, tokens: 200, renewal_period: minute}}]
settings:
  rate_limit_failure: {failure}
"""


@pytest.fixture(scope="module")
def instances(mock_url: str, redis_url: str) -> Iterator[list[Gateway]]:
    gws = [start_gateway(_config(mock_url, redis_url), workers=2) for _ in range(3)]
    yield gws
    for gw in gws:
        gw.stop()


def _away_from_a_minute_boundary(margin: float = 8.0) -> None:
    """A burst that straddles two windows would rightly get 50 in each: start well inside one."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.5)


async def _burst(urls: list[str], per_instance: int, body: dict[str, object]) -> Counter[int]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def one(url: str) -> int:
            async with http.post(url, json=body, headers=headers) as r:
                await r.read()
                return r.status
        statuses = await asyncio.gather(*(one(u) for u in urls for _ in range(per_instance)))
    return Counter(statuses)


async def test_three_instances_let_exactly_the_limit_through(instances: list[Gateway]) -> None:
    _away_from_a_minute_boundary()
    urls = [f"{gw.base}/openai/v1/chat/completions" for gw in instances]
    body = {"model": "limited", "messages": [{"role": "user", "content": "hi"}]}
    statuses = await _burst(urls, 200, body)
    assert statuses == Counter({200: 50, 429: 550}), statuses


async def test_token_limits_settle_on_real_usage_across_instances(instances: list[Gateway]) -> None:
    """Each request reserves its estimate (~170 tokens: the prompt and max_tokens 150) and is
    charged what it really used (a few tokens), in Redis: with 200 tokens a minute, estimates
    alone would let one request through; settled, the instances together let a few through,
    until the real usage fills the window."""
    _away_from_a_minute_boundary(20)
    urls = [f"{gw.base}/openai/v1/chat/completions" for gw in instances]
    body = {"model": "tokens-limited", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 150}
    passed = 0
    for _ in range(12):  # one at a time: each settles before the next is checked
        for url in urls:
            statuses = await _burst([url], 1, body)
            passed += statuses[200]
            await asyncio.sleep(0.05)  # the settle is sent in the background
    assert 2 <= passed < 12, passed


def test_redis_down_closed_answers_503_in_the_dialect(mock_url: str) -> None:
    import urllib.request

    dead = f"redis://127.0.0.1:{refusing_port()}/0"
    gw = start_gateway(_config(mock_url, dead, "closed"), workers=1)
    try:
        req = urllib.request.Request(f"{gw.base}/openai/v1/chat/completions", method="POST",
                                     data=b'{"model": "limited", "messages": [{"role": "user", "content": "hi"}]}',
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                              "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 503
        assert b"Redis" in refused.value.read()
        assert "Traceback" not in gw.log()
    finally:
        gw.stop()


# --- passive health shared through Redis ------------------------------------------------------------

def _health_config(mock_url: str, redis_url: str) -> str:
    return f"""
redis: "{redis_url}"
providers:
  - {{name: dead, type: openai, base_url: "http://127.0.0.1:{refusing_port()}/v1", api_key: sk-x}}
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - name: failing-over
    destinations: [{{provider: dead, model: gpt-4o-mini}}]
    fallbacks: [{{provider: openai-main, model: gpt-4o-mini}}]
settings:
  passive_health: {{failures: 2, cool_down: 60s}}
"""


def _first_attempts(gw: Gateway) -> list[str]:
    import urllib.request

    deadline = time.monotonic() + 5
    while True:
        req = urllib.request.Request(f"{gw.url}/api/v1/usage?endpoint=failing-over",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            rows = json.loads(r.read())["rows"]
        if rows or time.monotonic() > deadline:
            return [row["routing_information"][0]["provider"] for row in rows]
        time.sleep(0.1)


async def test_a_destination_one_instance_cools_down_is_skipped_by_the_others(mock_url: str,
                                                                              redis_url: str) -> None:
    config = _health_config(mock_url, redis_url)
    a, b = start_gateway(config, workers=1), start_gateway(config, workers=1)
    try:
        body = {"model": "failing-over", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(2):  # two failures of `dead` on instance a: it cools down there, and tells b
            assert (await _burst([f"{a.base}/openai/v1/chat/completions"], 1, body))[200] == 1
        await asyncio.sleep(0.5)
        assert (await _burst([f"{b.base}/openai/v1/chat/completions"], 1, body))[200] == 1
        assert _first_attempts(a) == ["dead", "dead"]
        assert _first_attempts(b) == ["openai-main"], "b tried the destination a had cooled down"
    finally:
        a.stop()
        b.stop()
