"""A killed instance loses no usage or payload row of a request it answered: each is spooled
to local disk when the request ends, and the next start replays what the store did not get."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import aiohttp

from tests.integration.gateway import ADMIN_TOKEN, Gateway, start_gateway


def _config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - name: chat
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    inference_table: {{enabled: true}}
"""


def _kill_hard(gw: Gateway) -> None:
    """SIGKILL the supervisor and its workers at once: no shutdown, no last flush."""
    pid = gw.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for p in [pid, *map(int, children)]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    gw.proc.wait(10)
    for child in map(int, children):  # workers are reparented: wait until they are gone
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)


def _rows(gw: Gateway, table: str = "usage") -> set[str]:
    return {r[0] for r in gw.query(f"SELECT request_id FROM {table}")}


async def _load_then_kill(gw: Gateway) -> list[str]:
    """Requests in a steady stream; SIGKILL while they flow. The ids of the answered ones."""
    answered: list[str] = []
    url = f"{gw.base}/openai/v1/chat/completions"
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}

    async with aiohttp.ClientSession() as http:
        async def client() -> None:
            while True:
                rid = "spool-" + uuid.uuid4().hex
                try:
                    async with http.post(url, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                                  "x-request-id": rid}) as r:
                        await r.read()
                        if r.status == 200:
                            answered.append(rid)
                except aiohttp.ClientError:
                    return  # the gateway is gone

        tasks = [asyncio.create_task(client()) for _ in range(8)]
        while len(answered) < 300:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_kill_hard, gw)
        await asyncio.wait(tasks, timeout=10)
    return answered


async def test_a_killed_instance_loses_no_answered_row(mock_url: str) -> None:
    gw = start_gateway(_config(mock_url), workers=2)
    answered = await _load_then_kill(gw)
    data_dir = gw.data_dir
    before, payloads_before = _rows(gw), _rows(gw, "payloads")
    gw.stop()  # it is gone; this stops what ran beside it
    missing = set(answered) - before
    assert missing, "every row was already written at the kill: the test proves nothing, run it again"
    assert list((data_dir / "spool").glob("usage-*.jsonl"))
    again = start_gateway(_config(mock_url), workers=1, data_dir=data_dir)  # replays at start
    try:
        after, payloads_after = _rows(again), _rows(again, "payloads")
        assert set(answered) <= after, f"{len(set(answered) - after)} of {len(answered)} answered rows lost"
        assert set(answered) <= payloads_after, \
            f"{len(set(answered) - payloads_after)} of {len(answered)} answered payload rows lost"
        assert set(answered) - payloads_before, "every payload row was written at the kill: proves nothing"
        assert "replayed" in again.log()
    finally:
        again.stop()
    assert not [p for p in (data_dir / "spool").iterdir() if p.stat().st_size], \
        "a clean stop leaves no spooled row behind"
