"""`unigate serve` itself: the first-start admin token, refusing a bad configuration file, and
usage accounting on streams the client did not ask usage for."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from openai import OpenAI

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call

MINIMAL = """
providers: [{name: o, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k}]
endpoints: [{name: e, destinations: [{provider: o, model: m}]}]
"""


def test_first_start_prints_an_admin_token_once_and_stores_only_its_hash() -> None:
    gw = start_gateway(MINIMAL, workers=1, token=None)
    try:
        printed = re.findall(r"^\s+(ug_\S+)$", gw.log(), re.M)
        assert len(printed) == 1, gw.log()
        token = printed[0]
        assert call("GET", gw.base + "/mlflow/v1/models", headers=bearer(token)).status == 200
        assert call("GET", gw.base + "/mlflow/v1/models", headers=bearer(token + "x")).status == 401
    finally:
        gw.stop()
    assert token.encode() not in gw.dump()
    db = gw.data_dir / "unigate.db"
    if db.exists():  # SQLite: not in the file's bytes either
        assert token.encode() not in db.read_bytes()
    # A second start on the same data dir keeps the token and prints none.
    cfg = gw.log_path.parent / "unigate.yaml"
    again = start_gateway_on(cfg, gw.data_dir)
    try:
        assert "ug_" not in again.log()
        assert call("GET", again.base + "/mlflow/v1/models", headers=bearer(token)).status == 200
    finally:
        again.stop()


def start_gateway_on(cfg: Path, data_dir: Path) -> Gateway:
    gw = start_gateway(cfg.read_text(), workers=1, token=None, data_dir=data_dir)
    return gw


def test_bad_config_is_refused_naming_file_entry_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.yaml"
    cfg.write_text(MINIMAL.replace("provider: o", "provider: nope"))
    r = subprocess.run([sys.executable, "-m", "unigate.cli", "serve", "--config", str(cfg),
                        "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert f"{cfg}: endpoints[0] (e).destinations[0]: provider: unknown provider 'nope'" in r.stderr


def test_stream_usage_is_accounted_without_the_client_asking(gateway: Gateway) -> None:
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    raw = client.chat.completions.with_raw_response.create(
        model="chat-openai", stream=True, messages=[{"role": "user", "content": "count my tokens"}])
    request_id = raw.headers["x-request-id"]
    chunks = list(raw.parse())
    assert all(c.usage is None for c in chunks)  # the client did not ask for the usage chunk
    assert all(c.choices for c in chunks)
    row = None
    deadline = time.monotonic() + 5
    while row is None and time.monotonic() < deadline:
        found = gateway.query("SELECT input_tokens, output_tokens, streaming, time_to_first_byte_ms"
                              " FROM usage WHERE request_id = ?", (request_id,))
        row = found[0] if found else None
        time.sleep(0.1)
    assert row is not None and row[0] > 0 and row[1] > 0 and row[2] == 1 and row[3] is not None


class NoUsageUpstream:
    """An OpenAI-compatible server that reports no usage (some small servers do not)."""

    def __init__(self) -> None:
        import asyncio
        import threading

        from aiohttp import web

        from tests.integration.gateway import free_port

        self.port = free_port()
        loop = asyncio.new_event_loop()

        async def chat(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response({
                "id": "c1", "object": "chat.completion", "created": 1, "model": "tiny",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "four words of answer"}}]})

        def run() -> None:
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/v1/chat/completions", chat)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()


def test_usage_is_estimated_and_marked_when_the_provider_reports_none() -> None:
    up = NoUsageUpstream()
    gw = start_gateway(f"""
providers: [{{name: tiny, type: openai_compatible, base_url: "http://127.0.0.1:{up.port}/v1"}}]
endpoints: [{{name: tiny, destinations: [{{provider: tiny, model: tiny}}]}}]
""", workers=1)
    try:
        r = call("POST", f"{gw.base}/mlflow/v1/chat/completions",
                 {"model": "tiny", "messages": [{"role": "user", "content": "please estimate my usage"}]},
                 bearer(gw.token))
        assert r.status == 200, r.body
        rid = r.headers["x-request-id"]
        row = None
        deadline = time.monotonic() + 5
        while row is None and time.monotonic() < deadline:
            found = gw.query("SELECT input_tokens, output_tokens, usage_estimated FROM usage"
                             " WHERE request_id = ?", (rid,))
            row = found[0] if found else None
            time.sleep(0.1)
        assert row is not None and row[0] > 0 and row[1] > 0 and row[2] == 1, row
    finally:
        gw.stop()


def test_no_usage_row_is_lost_on_shutdown(mock_url: str) -> None:
    gw = start_gateway(f"""
providers: [{{name: o, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}]
endpoints: [{{name: e, destinations: [{{provider: o, model: gpt-4o-mini}}]}}]
""", workers=2)
    ids = []
    for i in range(40):
        r = call("POST", f"{gw.base}/mlflow/v1/chat/completions",
                 {"model": "e", "messages": [{"role": "user", "content": f"n{i}"}]}, bearer(gw.token))
        ids.append(r.headers["x-request-id"])
    assert gw.stop() == 0  # SIGTERM right away: the writers drain their queues
    stored = {row[0] for row in gw.query("SELECT request_id FROM usage")}
    assert set(ids) <= stored
