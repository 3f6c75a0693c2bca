"""`unigate doctor`: one table (or JSON) of what works and what does not, exit status 1 when
something is broken; run against a real gateway's store, the mock providers and a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import TEST_MASTER_KEY, Gateway, refusing_port, start_gateway
from tests.integration.rawhttp import bearer, call
from tests.integration.redis_server import start_redis

SECRET = "sk-mock-openai"


def good_config(mock: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: {SECRET}}}
  - {{name: compat, type: openai_compatible, base_url: "{mock}/compat/v1"}}
endpoints:
  - {{name: my-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: compat-chat, destinations: [{{provider: compat, model: llama}}]}}
"""


def broken_config(mock: str, dead_port: int) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: {SECRET}}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: "${{UNIGATE_TEST_DOCTOR_UNSET:-}}"}}
  - {{name: unused, type: gemini, api_key: "${{UNIGATE_TEST_DOCTOR_UNSET:-}}"}}
  - {{name: far, type: openai, base_url: "https://api.unigate-doctor.invalid/v1", api_key: sk-far-secret-4242}}
  - {{name: dead, type: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_key: sk-dead-secret-4242}}
endpoints:
  - {{name: my-chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: claude-sonnet, destinations: [{{provider: claude, model: claude-sonnet-4-5}}]}}
  - {{name: far-chat, destinations: [{{provider: far, model: m}}]}}
  - {{name: dead-chat, destinations: [{{provider: dead, model: m}}]}}
"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(good_config(mock_url), workers=1)
    yield g
    g.stop()


def doctor(tmp_path: Path, config: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    path = tmp_path / "unigate.yaml"
    path.write_text(config)
    proc = subprocess.run([sys.executable, "-m", "unigate.cli", "doctor", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, proc.stdout


def rows(table: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(check, subject) -> (status, detail), from the table's fixed-width columns."""
    lines = table.splitlines()
    header = lines[0]
    at = [header.index(c) for c in ("SUBJECT", "STATUS", "DETAIL")]
    out = {}
    for line in lines[1:]:
        if not line.strip():
            break
        out[(line[:at[0]].strip(), line[at[0]:at[1]].strip())] = (line[at[1]:at[2]].strip(), line[at[2]:].strip())
    return out


def with_master_key(key: str = TEST_MASTER_KEY) -> dict[str, str]:
    """The test gateways' key (tests/integration/gateway.py), as their operator would export it."""
    return {**os.environ, "UNIGATE_MASTER_KEY": key}


def test_a_working_setup_is_all_ok_and_exits_0(gw: Gateway, mock_url: str, tmp_path: Path) -> None:
    code, out = doctor(tmp_path, good_config(mock_url), "--data-dir", str(gw.data_dir), "--store",
                       gw.store_location, env=with_master_key())
    table = rows(out)
    assert code == 0, out
    assert table[("configuration", str(tmp_path / "unigate.yaml"))] == ("ok", "2 provider(s), 2 endpoint(s)")
    assert table[("key", "openai-main")] == ("ok", "set")
    assert table[("key", "compat")] == ("ok", "none needed (openai_compatible)")
    store = [v for k, v in table.items() if k[0] == "store"]
    assert len(store) == 1 and store[0][0] == "ok" and store[0][1].startswith("opens"), out
    migrations = [v for k, v in table.items() if k[0] == "migrations"]
    assert len(migrations) == 1 and migrations[0][0] == "ok" and migrations[0][1].startswith("current"), out
    secrets = [v for k, v in table.items() if k[0] == "secrets"]
    assert secrets == [("ok", "1 sealed secret(s) open with the master key from UNIGATE_MASTER_KEY")], out
    assert table[("upstream", "openai-main")][0] == "ok"
    assert "resolves and connects" in table[("upstream", "openai-main")][1]
    assert out.rstrip().endswith("everything checked is fine")
    assert SECRET not in out


def test_what_the_admin_api_added_is_checked_and_a_wrong_master_key_named(
        gw: Gateway, mock_url: str, tmp_path: Path) -> None:
    dead = refusing_port()

    def admin(method: str, path: str, body: dict[str, Any] | None = None) -> None:
        assert call(method, f"{gw.url}/api/v1/{path}", body, bearer(gw.token)).status < 300
    admin("POST", "providers", {"name": "api-added", "type": "openai", "api_key": "sk-api-added-4242",
                                "base_url": f"http://127.0.0.1:{dead}/v1"})
    admin("POST", "endpoints", {"name": "api-chat", "destinations": [{"provider": "api-added", "model": "m"}]})
    try:
        code, out = doctor(tmp_path, good_config(mock_url), "--data-dir", str(gw.data_dir), "--store",
                           gw.store_location, env=with_master_key())
        table = rows(out)
        assert code == 1, out
        assert table[("configuration", "store")] == (
            "ok", "adds 1 provider(s), 1 endpoint(s) (the admin API's): checked below too")
        assert table[("key", "api-added")] == ("ok", "set")
        assert table[("upstream", "api-added")] == ("FAIL", f"cannot connect to 127.0.0.1:{dead}: Connection refused")
        assert "sk-api-added-4242" not in out
        # the key the store was sealed with is not the one given: named, never garbage
        other = "b3RoZXIgbWFzdGVyIGtleSwgMzIgYnl0ZXMgbG9uZyE"
        code, out = doctor(tmp_path, good_config(mock_url), "--data-dir", str(gw.data_dir), "--store",
                           gw.store_location, env=with_master_key(other))
        secrets = [v for k, v in rows(out).items() if k[0] == "secrets"]
        assert code == 1 and secrets[0][0] == "FAIL" and "is encrypted under master key" in secrets[0][1], out
        assert ("upstream", "api-added") not in rows(out)  # the store's specs cannot be read without it
    finally:
        for path in ("endpoints/api-chat", "providers/api-added"):
            admin("DELETE", path)


def test_what_is_broken_is_named_and_exits_1(mock_url: str, tmp_path: Path) -> None:
    dead = refusing_port()
    code, out = doctor(tmp_path, broken_config(mock_url, dead), "--data-dir", str(tmp_path / "nothing-yet"))
    table = rows(out)
    assert code == 1, out
    assert table[("key", "claude")] == ("FAIL", "has no key (UNIGATE_TEST_DOCTOR_UNSET is not set)")
    # a provider no endpoint uses is a warning, not a failure
    assert table[("key", "unused")] == ("warn", "has no key (UNIGATE_TEST_DOCTOR_UNSET is not set); "
                                                "no endpoint uses it")
    assert table[("upstream", "far")] == ("FAIL", "host api.unigate-doctor.invalid does not resolve")
    assert table[("upstream", "dead")] == ("FAIL", f"cannot connect to 127.0.0.1:{dead}: Connection refused")
    assert table[("store", str(tmp_path / "nothing-yet" / "unigate.db"))] == (
        "warn", "does not exist yet (unigate serve creates it)")
    assert not (tmp_path / "nothing-yet").exists()  # doctor creates nothing
    for secret in ("sk-far-secret-4242", "sk-dead-secret-4242", SECRET):
        assert secret not in out


def test_a_configuration_that_does_not_parse(tmp_path: Path) -> None:
    code, out = doctor(tmp_path, "providers: [{name: x, type: nope}]\n", "--data-dir", str(tmp_path))
    status, detail = rows(out)[("configuration", str(tmp_path / "unigate.yaml"))]
    assert code == 1 and status == "FAIL"
    assert "type: unknown provider type 'nope'" in detail


def test_json_and_redis(mock_url: str, tmp_path: Path) -> None:
    url, stop = start_redis()
    try:
        config = good_config(mock_url) + f"redis: {url}\n"
        code, out = doctor(tmp_path, config, "--json", "--data-dir", str(tmp_path))
    finally:
        stop()
    report: dict[str, Any] = json.loads(out)
    assert code == 0 and report["ok"] is True, out
    redis = [c for c in report["checks"] if c["check"] == "redis"]
    assert redis and redis[0]["status"] == "ok" and "PONG" in redis[0]["detail"]
    dead = f"redis://:hunter2-secret@127.0.0.1:{refusing_port()}/0"
    code, out = doctor(tmp_path, good_config(mock_url) + f"redis: {dead}\n", "--json", "--timeout", "1",
                       "--data-dir", str(tmp_path))
    report = json.loads(out)
    redis = [c for c in report["checks"] if c["check"] == "redis"]
    assert code == 1 and report["ok"] is False and redis[0]["status"] == "fail"
    assert "hunter2" not in out and "does not answer" in redis[0]["detail"]
