"""`unigate serve` itself: the first-start admin token, refusing a bad configuration file, and
usage accounting on streams the client did not ask usage for."""

from __future__ import annotations

import re
import sqlite3
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
    db = gw.data_dir / "unigate.db"
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
    gw = start_gateway(cfg.read_text(), workers=1, token=None,
                       extra_args=["--data-dir", str(data_dir)])
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
        with sqlite3.connect(gateway.data_dir / "unigate.db") as db:
            row = db.execute("SELECT input_tokens, output_tokens, streaming, time_to_first_byte_ms"
                             " FROM usage WHERE request_id = ?", (request_id,)).fetchone()
        time.sleep(0.1)
    assert row is not None and row[0] > 0 and row[1] > 0 and row[2] == 1 and row[3] is not None
