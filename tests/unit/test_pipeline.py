"""The request pipeline in one event loop: `build_app` on the gateway's own HTTP server and
the mock providers on aiohttp's test server, no subprocess. Fast and precise tests for what
happens between the route and the upstream (fast path, translation, fallbacks, mid-stream
failures, limits, usage rows); the
integration tests still drive a real `unigate serve` with the official SDKs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.mocks.server import create_app as create_mock_app
from unigate.accounting.usage import UsageWriter
from unigate.config import parse_config
from unigate.server.app import build_app
from unigate.server.http import HttpServer
from unigate.server.state import GatewayState
from unigate.store.config_store import apply_file_config
from unigate.store.sqlite import SQLiteStore
from unigate.store.usage_query import parse_usage_filter, query_usage

TOKEN = "ug-pipeline-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config(mock: str) -> dict[str, Any]:
    return {
        "providers": [
            {"name": "oa", "type": "openai", "base_url": f"{mock}/v1", "api_key": "sk-mock-openai"},
            {"name": "claude", "type": "anthropic", "base_url": mock, "api_key": "sk-ant-mock"},
            {"name": "gem", "type": "gemini", "base_url": mock, "api_key": "mock-gemini-key"},
        ],
        "endpoints": [
            {"name": "gpt", "destinations": [{"provider": "oa", "model": "gpt-4o-mini"}]},
            {"name": "claude", "destinations": [{"provider": "claude", "model": "claude-haiku-4-5"}]},
            {"name": "gpt-then-claude", "destinations": [{"provider": "oa", "model": "gpt-4o-mini"}],
             "fallbacks": [{"provider": "claude", "model": "claude-haiku-4-5"}]},
            {"name": "limited", "destinations": [{"provider": "oa", "model": "gpt-4o-mini"}],
             "rate_limits": [{"key": "endpoint", "requests": 2, "renewal_period": "minute"}]},
        ],
    }


@dataclass
class Pipeline:
    client: aiohttp.ClientSession  # to the gateway
    mock: TestClient[web.Request, web.Application]
    store: SQLiteStore
    usage: UsageWriter

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        async with self.client.post("/ai-gateway" + path, json=body, headers=AUTH) as r:
            return r.status, dict(r.headers), await r.read()

    async def sent(self) -> list[dict[str, Any]]:
        """The requests the mock received (and forget them)."""
        async with self.mock.get("/_mock/requests") as r:
            records: list[dict[str, Any]] = await r.json()
        await self.mock.delete("/_mock/requests")
        return records

    async def fault(self, spec: str, path_contains: str) -> None:
        await self.mock.post("/_mock/faults", json={"faults": [spec], "path_contains": path_contains})

    def rows(self) -> list[dict[str, Any]]:
        self.usage._flush()  # write the queued rows now rather than on the writer's next tick
        return query_usage(self.store, parse_usage_filter({}))


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    mock = TestClient(TestServer(create_mock_app()))
    await mock.start_server()
    mock_url = str(mock.make_url("")).rstrip("/")
    cfg = parse_config(config(mock_url), "test")
    store = SQLiteStore(tmp_path / "unigate.db")
    store.migrate()
    apply_file_config(store, cfg)
    store.set_env_admin_token(TOKEN)
    usage = UsageWriter(store)  # not started: rows() flushes it in the test's own thread
    state = GatewayState(cfg, store, usage)
    await state.start()
    server = HttpServer(build_app(state))
    await server.start("127.0.0.1", 0)
    client = aiohttp.ClientSession(f"http://127.0.0.1:{server.port}")
    try:
        yield Pipeline(client, mock, store, usage)
    finally:
        await client.close()
        await server.shutdown(1.0)
        await state.close()
        await mock.close()
        store.close()


CHAT = {"messages": [{"role": "user", "content": "hello pipeline"}]}


async def test_same_format_relays_the_body_and_names_the_endpoint(pipeline: Pipeline) -> None:
    status, headers, body = await pipeline.post("/openai/v1/chat/completions",
                                                {"model": "gpt", **CHAT, "user": "u-1", "seed": 7})
    assert status == 200 and json.loads(body)["model"] == "gpt"
    assert "x-unigate-dropped-parameters" not in headers
    (sent,) = await pipeline.sent()
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "gpt-4o-mini" and sent["body"]["seed"] == 7  # only model changed
    (row,) = pipeline.rows()
    assert (row["endpoint_name"], row["destination_provider"], row["status_code"]) == ("gpt", "oa", 200)
    assert row["input_tokens"] and not row["usage_estimated"]


async def test_a_translated_request_reaches_the_provider_in_its_own_api(pipeline: Pipeline) -> None:
    status, headers, body = await pipeline.post("/openai/v1/chat/completions",
                                                {"model": "claude", **CHAT, "store": True})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["object"] == "chat.completion" and answer["model"] == "claude"
    assert headers["x-unigate-dropped-parameters"] == "store"
    (sent,) = await pipeline.sent()
    assert sent["path"] == "/v1/messages" and sent["body"]["model"] == "claude-haiku-4-5"
    assert "store" not in sent["body"] and sent["body"]["max_tokens"] > 0
    (row,) = pipeline.rows()
    assert row["dropped_parameters"] == ["store"]


async def test_a_stream_hides_the_usage_chunk_the_gateway_asked_for(pipeline: Pipeline) -> None:
    status, _, body = await pipeline.post("/openai/v1/chat/completions", {"model": "gpt", **CHAT, "stream": True})
    assert status == 200
    events = [line[6:] for line in body.decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"] for c in chunks)  # the usage-only chunk did not reach the client
    (sent,) = await pipeline.sent()
    assert sent["body"]["stream_options"] == {"include_usage": True}
    (row,) = pipeline.rows()
    assert row["streaming"] and row["output_tokens"]  # but its usage reached the row


async def test_a_failing_provider_falls_back_and_the_row_says_so(pipeline: Pipeline) -> None:
    await pipeline.fault("status=503", "/v1/chat/completions")
    status, _, body = await pipeline.post("/openai/v1/chat/completions", {"model": "gpt-then-claude", **CHAT})
    assert status == 200, body
    assert [r["path"] for r in await pipeline.sent()] == ["/v1/chat/completions", "/v1/messages"]
    (row,) = pipeline.rows()
    assert [(a["provider"], a["outcome"]) for a in row["routing_information"]] == [
        ("oa", "upstream_error"), ("claude", "ok")]


async def test_a_stream_that_breaks_after_its_first_bytes_is_an_error_in_the_stream(pipeline: Pipeline) -> None:
    await pipeline.fault("stream_error=2", "/v1/messages")
    status, _, body = await pipeline.post("/anthropic/v1/messages",
                                          {"model": "claude", "max_tokens": 64, "stream": True, **CHAT})
    assert status == 200  # the client had its headers before the provider failed
    assert b"event: error" in body
    (row,) = pipeline.rows()
    assert row["status_code"] != 200 and row["error_code"]
    assert row["routing_information"][0]["outcome"] == row["error_code"]  # not "ok"


async def test_rate_limits_refuse_in_the_clients_dialect(pipeline: Pipeline) -> None:
    for _ in range(2):
        assert (await pipeline.post("/openai/v1/chat/completions", {"model": "limited", **CHAT}))[0] == 200
    status, headers, body = await pipeline.post("/openai/v1/chat/completions", {"model": "limited", **CHAT})
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert json.loads(body)["error"]["code"] == "rate_limited"
    assert len(await pipeline.sent()) == 2  # the refused request never reached the provider


async def test_token_counting_and_listing_in_each_dialect(pipeline: Pipeline) -> None:
    status, _, body = await pipeline.post("/anthropic/v1/messages/count_tokens", {"model": "gpt", **CHAT})
    assert status == 200 and json.loads(body)["input_tokens"] > 0  # OpenAI has no counting API: estimated
    status, _, body = await pipeline.post("/gemini/v1beta/models/claude:countTokens",
                                          {"contents": [{"parts": [{"text": "hello pipeline"}]}]})
    assert status == 200 and json.loads(body)["totalTokens"] > 0  # Anthropic's counting API
    async with pipeline.client.get("/ai-gateway/gemini/v1beta/models", headers=AUTH) as r:
        names = [m["name"] for m in (await r.json())["models"]]
    assert names == ["models/claude", "models/gpt", "models/gpt-then-claude", "models/limited"]
