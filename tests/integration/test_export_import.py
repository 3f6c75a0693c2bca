"""`unigate export` and `unigate import`: a used store moved to a new data directory serves the
same identities, tokens, grants, configuration and usage rows."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.gateway import ADMIN_TOKEN, start_gateway
from tests.integration.rawhttp import bearer, call


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args], capture_output=True, text=True, timeout=60)


def _config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - {{name: chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""


def test_a_store_moves_to_a_new_data_directory(mock_url: str, tmp_path: Path) -> None:
    gw = start_gateway(_config(mock_url), workers=1)
    api = f"{gw.url}/api/v1"
    assert call("POST", f"{api}/users", {"email": "moved@example.com"}, bearer(ADMIN_TOKEN)).status == 201
    token = call("POST", f"{api}/tokens", {"principal": "moved@example.com"}, bearer(ADMIN_TOKEN)).json()["token"]
    call("PUT", f"{api}/endpoints/chat/permissions", {"access_control_list": [
        {"user_name": "moved@example.com", "permission_level": "CAN_QUERY"}]}, bearer(ADMIN_TOKEN))
    time.sleep(1.2)  # the worker sees the new token
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(3):
        assert call("POST", f"{gw.base}/openai/v1/chat/completions", body, bearer(token)).status == 200
    gw.stop()

    dump = tmp_path / "dump.jsonl"
    out = _cli("export", "--data-dir", str(gw.data_dir), "-o", str(dump))
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    lines = [json.loads(x) for x in dump.read_text().splitlines()]
    assert lines[0]["format"] == "unigate-export"
    assert sum(1 for x in lines[1:] if x["table"] == "usage") >= 3

    target = tmp_path / "new-data"
    done = _cli("import", str(dump), "--data-dir", str(target))
    assert done.returncode == 0, done.stderr
    assert "3 usage" in done.stdout or "usage" in done.stdout
    again = _cli("import", str(dump), "--data-dir", str(target))
    assert again.returncode == 1 and "not empty" in again.stderr

    moved = start_gateway(_config(mock_url), workers=1, data_dir=target)
    try:
        assert call("POST", f"{moved.base}/openai/v1/chat/completions", body, bearer(token)).status == 200
        users = call("GET", f"{moved.url}/api/v1/users", None, bearer(ADMIN_TOKEN)).json()["users"]
        assert "moved@example.com" in {u["email"] for u in users}
        rows = call("GET", f"{moved.url}/api/v1/usage?requester=moved@example.com", None,
                    bearer(ADMIN_TOKEN)).json()["rows"]
        assert len(rows) >= 3
    finally:
        moved.stop()


def test_import_refuses_what_is_not_an_export(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hello": 1}\n')
    out = _cli("import", str(bad), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 1 and "not a unigate export" in out.stderr
    assert "Traceback" not in out.stderr
    migrated = _cli("migrate", "--data-dir", str(tmp_path / "d"))
    assert migrated.returncode == 0 and "up to date" in migrated.stdout
