"""A bounded soak: 10,000 requests of mixed faulty traffic through every client dialect. Every
request gets an answer, every request leaves a usage row, and afterwards the gateway holds no
leaked tasks or upstream connections."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from tests.integration.gateway import Gateway, free_port, start_gateway
from tests.integration.rawhttp import bearer, call
from tests.integration.routing_env import clear_faults, queue_faults, routing_config

TOTAL = 10_000
CONCURRENCY = 32
# Directives in the prompt reach every destination (so the whole request fails); queued faults
# fail only the first attempt (so the fallback answers).
MIX = [("", 70), ("MOCK_FAULT:status=503", 6), ("MOCK_FAULT:status=429,retry_after=1", 6),
       ("MOCK_FAULT:reset", 4), ("MOCK_FAULT:malformed_json", 4), ("MOCK_FAULT:cut_stream=2", 5),
       ("MOCK_FAULT:status=400", 5)]
EXPECTED = {"": {200}, "MOCK_FAULT:status=503": {503}, "MOCK_FAULT:status=429,retry_after=1": {429},
            # A stream whose first event is sound is committed; the fast path then relays the
            # provider's later bytes as they come (garbage included), as the provider sent them.
            "MOCK_FAULT:reset": {502}, "MOCK_FAULT:malformed_json": {502, 200},
            "MOCK_FAULT:cut_stream=2": {200, 502}, "MOCK_FAULT:status=400": {400}}


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(routing_config(mock_url, free_port()), workers=1)
    yield g
    g.stop()


def runtime(gw: Gateway) -> dict[str, int]:
    return dict(call("GET", f"{gw.url}/api/v1/runtime", headers=bearer(gw.token)).json())


def request_for(i: int, directive: str) -> tuple[str, dict[str, object], bool]:
    text = f"soak {i} {directive}".strip()
    stream = "cut_stream" in directive or i % 5 == 0
    kind = i % 3
    if kind == 0:
        return ("/ai-gateway/mlflow/v1/chat/completions",
                {"model": "fb", "stream": stream, "messages": [{"role": "user", "content": text}]}, stream)
    if kind == 1:
        return ("/ai-gateway/anthropic/v1/messages", {"model": "fb", "max_tokens": 30, "stream": stream,
                "messages": [{"role": "user", "content": text}]}, stream)
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return (f"/ai-gateway/gemini/v1beta/models/fb:{method}",
            {"contents": [{"role": "user", "parts": [{"text": text}]}]}, stream)


async def drive(gw: Gateway, plan: list[str]) -> list[tuple[str, int]]:
    results: list[tuple[str, int]] = []
    queue = list(enumerate(plan))
    async with aiohttp.ClientSession(headers=bearer(gw.token),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def worker() -> None:
            while queue:
                i, directive = queue.pop()
                path, body, _ = request_for(i, directive)
                async with session.post(gw.url + path, json=body) as resp:
                    await resp.read()
                    results.append((directive, resp.status))
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return results


def test_mixed_fault_soak_loses_nothing(gw: Gateway, mock_url: str) -> None:
    rng = random.Random(42)
    plan = rng.choices([d for d, _ in MIX], weights=[w for _, w in MIX], k=TOTAL)
    # Some primaries fail once more, queued: those requests must be answered by a fallback.
    queue_faults(mock_url, "/v1/chat/completions", *(["status=503"] * 300))
    before = runtime(gw)
    t0 = time.monotonic()
    results = asyncio.run(drive(gw, plan))
    elapsed = time.monotonic() - t0
    clear_faults(mock_url)
    assert len(results) == TOTAL
    wrong = Counter((d, s) for d, s in results if s not in EXPECTED[d])
    assert not wrong, wrong
    # Every request left a usage row (rows are written in batches: give the writer a moment).
    deadline = time.monotonic() + 10
    counted = 0
    while time.monotonic() < deadline:
        agg = call("GET", f"{gw.url}/api/v1/usage/aggregate?group_by=endpoint&endpoint=fb",
                   headers=bearer(gw.token)).json()["groups"]
        counted = sum(g["requests"] for g in agg)
        if counted >= TOTAL:
            break
        time.sleep(0.2)
    assert counted == TOTAL, counted
    time.sleep(1.0)
    after = runtime(gw)
    assert after["upstream_connections_in_use"] == 0, after
    assert after["tasks"] <= before["tasks"] + 2, (before, after)
    assert after["socket_fds"] <= before["socket_fds"] + 3 * CONCURRENCY + 8, (before, after)
    print(f"\nsoak: {TOTAL} requests in {elapsed:.1f}s ({TOTAL / elapsed:.0f}/s), "
          f"statuses {Counter(s for _, s in results)}, runtime before {before} after {after}")


def test_traffic_split_over_10000_requests_is_within_two_points(gw: Gateway) -> None:
    async def run() -> None:
        queue = list(range(TOTAL))
        async with aiohttp.ClientSession(headers=bearer(gw.token)) as session:
            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    body = {"model": "split", "messages": [{"role": "user", "content": f"s{i}"}]}
                    async with session.post(gw.base + "/mlflow/v1/chat/completions", json=body) as r:
                        await r.read()
                        assert r.status == 200
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    asyncio.run(run())
    deadline = time.monotonic() + 10
    shares: dict[str, int] = {}
    while time.monotonic() < deadline:
        groups = call("GET", f"{gw.url}/api/v1/usage/aggregate?group_by=model&endpoint=split",
                      headers=bearer(gw.token)).json()["groups"]
        shares = {g["key"]: g["requests"] for g in groups}
        if sum(shares.values()) >= TOTAL:
            break
        time.sleep(0.2)
    total = sum(shares.values())
    assert total == TOTAL, shares
    openai_share = 100 * shares["gpt-4o-mini"] / total
    assert abs(openai_share - 70) <= 2, shares
