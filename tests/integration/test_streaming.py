"""Streaming behaviour: headers, per-event flushing, errors after the first byte, client
disconnects that cancel the upstream request, and graceful shutdown that lets streams finish."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp import web

from tests.integration.gateway import Gateway, free_port, start_gateway
from tests.integration.rawhttp import bearer


def open_stream(gw: Gateway, path: str, body: dict[str, Any]) -> tuple[http.client.HTTPConnection,
                                                                       http.client.HTTPResponse]:
    u = urlparse(gw.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", "/ai-gateway" + path, json.dumps(body),
                 {"Content-Type": "application/json", **bearer(gw.token)})
    return conn, conn.getresponse()


STREAMS = {
    "chat": ("/mlflow/v1/chat/completions",
             lambda ep, text: {"model": ep, "stream": True, "messages": [{"role": "user", "content": text}]}),
    "anthropic": ("/anthropic/v1/messages",
                  lambda ep, text: {"model": ep, "stream": True, "max_tokens": 100,
                                    "messages": [{"role": "user", "content": text}]}),
    "responses": ("/openai/v1/responses", lambda ep, text: {"model": ep, "stream": True, "input": text}),
    "gemini": ("/gemini/v1beta/models/{ep}:streamGenerateContent?alt=sse",
               lambda ep, text: {"contents": [{"role": "user", "parts": [{"text": text}]}]}),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("surface", STREAMS)
def test_stream_headers(gateway: Gateway, surface: str, provider: str) -> None:
    path, body = STREAMS[surface]
    conn, r = open_stream(gateway, path.format(ep=f"chat-{provider}"), body(f"chat-{provider}", "hi there"))
    try:
        assert r.status == 200
        assert r.getheader("Content-Type", "").startswith("text/event-stream")
        assert r.getheader("X-Accel-Buffering") == "no"
        assert r.getheader("x-request-id")
        data = r.read().decode()
        assert "MOCK-UPSTREAM-OK" in data or "MOCK" in data.replace("\\", "")
    finally:
        conn.close()


ERROR_MARKERS = {"chat": '"error"', "anthropic": "event: error", "responses": "error", "gemini": '"error"'}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("surface", STREAMS)
def test_stream_cut_midway_ends_with_dialect_error_event(gateway: Gateway, surface: str, provider: str) -> None:
    path, body = STREAMS[surface]
    text = "one two three four five six seven eight MOCK_FAULT:cut_stream=4"
    conn, r = open_stream(gateway, path.format(ep=f"chat-{provider}"), body(f"chat-{provider}", text))
    try:
        assert r.status == 200
        data = r.read().decode()
    finally:
        conn.close()
    assert ERROR_MARKERS[surface] in data, data
    if surface == "chat":
        assert "[DONE]" not in data


class SlowUpstream:
    """An OpenAI-shaped upstream that streams forever, slowly, and notices when the gateway
    hangs up (what a cancelled upstream request looks like from the provider's side)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.disconnected = threading.Event()
        self.started = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def handler(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        self.started.set()
        try:
            for i in range(600):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await asyncio.sleep(0.05)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnected.set()
            raise
        return resp

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handler)
        runner = web.AppRunner(app, handler_cancellation=True)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()


def test_client_disconnect_cancels_upstream() -> None:
    up = SlowUpstream()
    up.start()
    gw = start_gateway(f"""
providers: [{{name: slow, type: openai, base_url: "http://127.0.0.1:{up.port}/v1", api_key: k}}]
endpoints: [{{name: slow, destinations: [{{provider: slow, model: m}}]}}]
""", workers=1)
    try:
        conn, r = open_stream(gw, "/mlflow/v1/chat/completions", STREAMS["chat"][1]("slow", "go"))
        assert r.status == 200
        assert r.readline().startswith(b"data:")
        assert up.started.wait(5)
        conn.sock.close() if conn.sock else None
        conn.close()
        assert up.disconnected.wait(5), "the upstream request was not cancelled"
    finally:
        gw.stop()


def test_graceful_shutdown_lets_streams_finish(mock_url: str) -> None:
    gw = start_gateway(f"""
providers: [{{name: o, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}]
endpoints: [{{name: e, destinations: [{{provider: o, model: gpt-4o-mini}}]}}]
""", workers=1)
    try:
        conn, r = open_stream(gw, "/mlflow/v1/chat/completions",
                              STREAMS["chat"][1]("e", "a b c d e f g h MOCK_FAULT:slow_stream=0.15"))
        assert r.status == 200
        assert r.readline().startswith(b"data:")
        t0 = time.monotonic()
        gw.proc.send_signal(15)
        rest = r.read().decode()
        conn.close()
        assert "data: [DONE]" in rest, rest
        assert gw.proc.wait(20) == 0
        assert time.monotonic() - t0 < 20
    finally:
        gw.stop()


@pytest.mark.parametrize("provider", ["gemini", "anthropic", "openai"])
def test_gemini_stream_without_alt_sse_is_a_json_array(gateway: Gateway, provider: str) -> None:
    """streamGenerateContent without ?alt=sse answers a JSON array, streamed incrementally."""
    path = f"/gemini/v1/models/chat-{provider}:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "array please"}]}]}
    conn, r = open_stream(gateway, path, body)
    try:
        assert r.status == 200, r.read()
        chunks = json.loads(r.read())
    finally:
        conn.close()
    assert isinstance(chunks, list) and len(chunks) >= 2
    text = "".join(p.get("text", "") for c in chunks for cand in c.get("candidates", [])
                   for p in cand.get("content", {}).get("parts", []))
    assert "array please" in text
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
