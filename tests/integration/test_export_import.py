"""`unigate export` and `unigate import`: a used store moved to another store (SQLite to
PostgreSQL and back) serves the same identities, tokens, grants, configuration and usage rows."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.gateway import ADMIN_TOKEN, Gateway, refusing_port, start_gateway
from tests.integration.postgres_server import schema_url, shared_postgres
from tests.integration.rawhttp import bearer, call
from unigate.store.secrets_at_rest import new_key

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args], capture_output=True, text=True, timeout=60)


def _config(mock_url: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
endpoints:
  - {{name: chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
"""


def _serves_the_moved_state(gw: Gateway, token: str) -> None:
    assert call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(token)).status == 200
    users = call("GET", f"{gw.url}/api/v1/users", None, bearer(ADMIN_TOKEN)).json()["users"]
    assert "moved@example.com" in {u["email"] for u in users}
    rows = call("GET", f"{gw.url}/api/v1/usage?requester=moved@example.com", None,
                bearer(ADMIN_TOKEN)).json()["rows"]
    assert len(rows) >= 3
    audit = call("GET", f"{gw.url}/api/v1/audit?action=user.create", None, bearer(ADMIN_TOKEN)).json()
    assert audit["entries"], "the audit log moved too"


def test_a_store_moves_from_sqlite_to_postgresql_and_back(mock_url: str, tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    key = {"UNIGATE_MASTER_KEY": new_key()}  # the export's secrets stay sealed: the key moves too
    gw = start_gateway(_config(mock_url), workers=1, env={"UNIGATE_STORE_URL": str(source), **key})
    api = f"{gw.url}/api/v1"
    assert call("POST", f"{api}/users", {"email": "moved@example.com"}, bearer(ADMIN_TOKEN)).status == 201
    token = call("POST", f"{api}/tokens", {"principal": "moved@example.com"}, bearer(ADMIN_TOKEN)).json()["token"]
    call("PUT", f"{api}/endpoints/chat/permissions", {"access_control_list": [
        {"user_name": "moved@example.com", "permission_level": "CAN_QUERY"}]}, bearer(ADMIN_TOKEN))
    time.sleep(1.2)  # the worker sees the new token
    for _ in range(3):
        assert call("POST", f"{gw.base}/openai/v1/chat/completions", BODY, bearer(token)).status == 200
    gw.stop()

    dump = tmp_path / "dump.jsonl"
    out = _cli("export", "--store", str(source), "-o", str(dump))
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    lines = [json.loads(x) for x in dump.read_text().splitlines()]
    assert lines[0]["format"] == "unigate-export"
    assert sum(1 for x in lines[1:] if x["table"] == "usage") >= 3

    postgres = schema_url(shared_postgres(), str(tmp_path / "moved"))
    done = _cli("import", str(dump), "--store", postgres)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout and "PostgreSQL" in done.stdout
    again = _cli("import", str(dump), "--store", postgres)
    assert again.returncode == 1 and "not empty" in again.stderr

    assert "sk-mock-openai" not in dump.read_text()
    moved = start_gateway(_config(mock_url), workers=1, env={"UNIGATE_STORE_URL": postgres, **key})
    try:
        _serves_the_moved_state(moved, token)
        # New audit rows number after the imported ones (the identity sequence moved past them).
        assert call("POST", f"{moved.url}/api/v1/users", {"email": "after@example.com"},
                    bearer(ADMIN_TOKEN)).status == 201
    finally:
        moved.stop()

    # And back, through a pipe: PostgreSQL -> a new SQLite file.
    back = tmp_path / "back" / "unigate.db"
    cli = f"{shlex.quote(sys.executable)} -m unigate.cli"
    piped = subprocess.run(f"{cli} export --store {shlex.quote(postgres)} | {cli} import - --store {back}",
                           shell=True, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    home = start_gateway(_config(mock_url), workers=1, env={"UNIGATE_STORE_URL": str(back), **key})
    try:
        _serves_the_moved_state(home, token)
        users = call("GET", f"{home.url}/api/v1/users", None, bearer(ADMIN_TOKEN)).json()["users"]
        assert "after@example.com" in {u["email"] for u in users}
    finally:
        home.stop()


def test_import_refuses_what_is_not_an_export(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hello": 1}\n')
    out = _cli("import", str(bad), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 1 and "not a unigate export" in out.stderr
    assert "Traceback" not in out.stderr
    migrated = _cli("migrate", "--data-dir", str(tmp_path / "d"))
    assert migrated.returncode == 0 and "up to date" in migrated.stdout


def test_an_unreachable_store_is_reported_plainly(tmp_path: Path) -> None:

    nowhere = f"postgresql://unigate@127.0.0.1:{refusing_port()}/none?connect_timeout=1"
    out = _cli("migrate", "--store", nowhere)
    assert out.returncode == 1 and "not available" in out.stderr and "Traceback" not in out.stderr
