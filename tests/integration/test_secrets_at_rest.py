"""Secrets encrypted at rest: provider keys and header values, MCP service headers and env
values, and budget webhook headers are stored sealed under the master key, on either store.
The gateway still uses them. A store opened with the wrong key is refused clearly at start.
A value stored in clear by an older version is sealed at start. `unigate secrets rotate`
re-seals under a new key while the gateway serves."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call, until_stable
from unigate.store.open import open_store
from unigate.store.secrets_at_rest import PREFIX, new_key

SECRETS = ("sk-mock-openai", "hdr-secret-1", "mcp-hdr-secret", "mcp-env-secret", "hook-secret-9")


def config(mock: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai,
      headers: {{X-Extra: hdr-secret-1}}}}
endpoints:
  - {{name: chat, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
mcp_services:
  - {{name: docs, url: "http://127.0.0.1:9/mcp", headers: {{Authorization: Bearer mcp-hdr-secret}}}}
  - {{name: tool, command: /bin/true, env: {{TOOL_TOKEN: mcp-env-secret}}}}
budgets:
  - {{name: hooked, scope: {{endpoint: chat}}, period: daily, limit_usd: 100, alerts: [50],
      webhook: {{url: "http://127.0.0.1:9/hook", headers: {{X-Hook-Key: hook-secret-9}}}}}}
"""


def stored_specs(gw: Gateway) -> str:
    """Every stored spec of the three tables, as the store holds them."""
    store = open_store(gw.store_location)
    try:
        return "\n".join(str(r[0]) for t in ("providers", "mcp_services", "budgets")
                         for r in store.execute(f"SELECT spec FROM {t}"))
    finally:
        store.close()


def chat(gw: Gateway, text: str) -> str:
    r = call("POST", f"{gw.base}/openai/v1/chat/completions", headers=bearer(gw.token),
             body={"model": "chat", "messages": [{"role": "user", "content": text}]})
    assert r.status == 200, r.body
    return str(r.json()["choices"][0]["message"]["content"])


def cli(gw: Gateway, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    store = ["--store", gw.store_location]
    return subprocess.run([sys.executable, "-m", "unigate.cli", "secrets", *args, "--data-dir", str(gw.data_dir),
                           *store], capture_output=True, text=True, timeout=60, env={**gw.env, **(env or {})})


def kids(specs: str) -> set[str]:
    return {part.split(":", 3)[2] for part in specs.replace('"', " ").split() if part.startswith(PREFIX)}


KEY_FILE = {"UNIGATE_MASTER_KEY": ""}  # the data dir's key file, not the tests' shared key


def test_secrets_are_sealed_and_still_used(mock_url: str) -> None:
    gw = start_gateway(config(mock_url), env=KEY_FILE)
    try:
        r = call("POST", f"{gw.url}/api/v1/providers", headers=bearer(gw.token),
                 body={"name": "api-made", "type": "openai", "base_url": f"{mock_url}/v1",
                       "api_key": "sk-api-made-secret", "headers": {"X-Other": "hdr-api-secret"}})
        assert r.status in (200, 201), r.body
        assert chat(gw, "sealed") == "MOCK-UPSTREAM-OK: sealed"  # the key opened for the upstream call
        specs = stored_specs(gw)
        for secret in (*SECRETS, "sk-api-made-secret", "hdr-api-secret"):
            assert secret not in specs, secret
        assert specs.count(PREFIX) == 7 and len(kids(specs)) == 1
        assert "X-Extra" in specs and f"{mock_url}/v1" in specs  # names and URLs stay readable
        key_file = gw.data_dir / "master.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert "created the master key" in gw.log() and "Back it up" in gw.log()
        # the admin API still shows them write-only, and an edit keeps the key
        r = call("GET", f"{gw.url}/api/v1/providers/api-made", headers=bearer(gw.token))
        assert r.json()["api_key_set"] is True and "secret" not in r.body.decode()
        status = json.loads(cli(gw, "status", "--json").stdout)
        assert status["values"] == {f"sealed under {status['current_key']}": 7}
    finally:
        gw.stop()
    # a restart re-applies unigate.yaml: the sealed text is the same, so no row changes
    again = start_gateway(config(mock_url), data_dir=gw.data_dir, env={**_store_env(gw), **KEY_FILE})
    try:
        assert stored_specs(again) == specs
        assert chat(again, "restarted") == "MOCK-UPSTREAM-OK: restarted"
    finally:
        again.stop()


def _store_env(gw: Gateway) -> dict[str, str]:
    """The same store on a restart (PostgreSQL runs pass it by URL)."""
    return {"UNIGATE_STORE_URL": gw.store_location} if "://" in gw.store_location else {}


def test_the_wrong_key_is_refused_clearly(mock_url: str, tmp_path: Path) -> None:
    key = new_key()
    gw = start_gateway(config(mock_url), env={"UNIGATE_MASTER_KEY": key})
    gw.stop()
    assert not (gw.data_dir / "master.key").exists()  # the key came from the environment
    wrong = {**gw.env, **_store_env(gw), "UNIGATE_MASTER_KEY": new_key()}
    cmd = [sys.executable, "-m", "unigate.cli", "serve", "--config", str(tmp_path / "c.yaml"),
           "--port", "1", "--data-dir", str(gw.data_dir)]
    (tmp_path / "c.yaml").write_text(config(mock_url))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=wrong)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is encrypted under master key" in done.stderr and "UNIGATE_MASTER_KEY" in done.stderr
    assert "Traceback" not in done.stderr
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**wrong, "UNIGATE_MASTER_KEY": "short"})
    assert bad.returncode == 2 and "32 random bytes" in bad.stderr and "Traceback" not in bad.stderr
    # the right key, with an older one after it, opens everything
    ok = start_gateway(config(mock_url), data_dir=gw.data_dir,
                       env={**_store_env(gw), "UNIGATE_MASTER_KEY": f"{key},{new_key()}"})
    try:
        assert chat(ok, "right key") == "MOCK-UPSTREAM-OK: right key"
    finally:
        ok.stop()


def test_values_in_clear_are_sealed_at_start_and_altered_ones_refused(mock_url: str, tmp_path: Path) -> None:
    gw = start_gateway(config(mock_url))
    gw.stop()
    store = open_store(gw.store_location)
    try:  # as an older unigate stored it: in clear
        store.transaction([("UPDATE providers SET spec = ? WHERE name = 'openai-main'", (json.dumps(
            {"name": "openai-main", "type": "openai", "base_url": f"{mock_url}/v1", "api_key": "sk-mock-openai",
             "headers": {"X-Extra": "hdr-secret-1"}}, sort_keys=True),))])
    finally:
        store.close()
    assert "sk-mock-openai" in stored_specs(gw)
    # (a different file: the stored row is what the gateway must seal, not the file's copy)
    again = start_gateway(config(mock_url).replace("sk-mock-openai", "sk-mock-openai ").replace(
        "api_key: sk-mock-openai ", "api_key: sk-mock-openai"), data_dir=gw.data_dir, env=_store_env(gw))
    try:
        assert "sk-mock-openai" not in stored_specs(again)
        assert chat(again, "legacy") == "MOCK-UPSTREAM-OK: legacy"
    finally:
        again.stop()
    # one altered character: refused, naming the value, never opened as garbage
    store = open_store(gw.store_location)
    try:
        text = str(store.execute("SELECT spec FROM providers WHERE name = 'openai-main'")[0][0])
        spec = json.loads(text)
        sealed = spec["api_key"]
        spec["api_key"] = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
        store.transaction([("UPDATE providers SET spec = ? WHERE name = 'openai-main'",
                            (json.dumps(spec, sort_keys=True),))])
    finally:
        store.close()
    (tmp_path / "c.yaml").write_text(config(mock_url).replace("providers:\n  - ", "providers:\n  - ", 1))
    done = subprocess.run([sys.executable, "-m", "unigate.cli", "serve", "--config", str(tmp_path / "c.yaml"),
                           "--port", "1", "--data-dir", str(gw.data_dir)], capture_output=True, text=True,
                          timeout=60, env={**gw.env, **_store_env(gw)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "providers/openai-main/api_key does not decrypt" in done.stderr and "Traceback" not in done.stderr


def test_rotation_while_serving(mock_url: str) -> None:
    gw = start_gateway(config(mock_url), env=KEY_FILE)
    try:
        before = kids(stored_specs(gw))
        assert chat(gw, "before") == "MOCK-UPSTREAM-OK: before"
        done = cli(gw, "rotate", "--new-key")
        assert done.returncode == 0, done.stderr
        after = kids(stored_specs(gw))
        assert len(after) == 1 and after != before
        assert "5 sealed anew" in done.stdout
        keys = [line for line in (gw.data_dir / "master.key").read_text().splitlines() if not line.startswith("#")]
        assert len(keys) == 2
        # the workers reload the re-sealed rows, meet the new key and re-read the key file
        time.sleep(1.5)
        until_stable(lambda: chat(gw, "after") == "MOCK-UPSTREAM-OK: after")
        assert "does not hold" not in gw.log()
        # dropping the old key: a second rotate has nothing left to seal
        done = cli(gw, "rotate", "--drop-old")
        assert done.returncode == 0 and "0 sealed anew" in done.stdout, done.stdout + done.stderr
        keys = [line for line in (gw.data_dir / "master.key").read_text().splitlines() if not line.startswith("#")]
        assert len(keys) == 1
        # with UNIGATE_MASTER_KEY set, the key file is not the CLI's to change
        refused = cli(gw, "rotate", "--new-key", env={"UNIGATE_MASTER_KEY": new_key()})
        assert refused.returncode == 2 and "NEW,OLD" in refused.stderr
    finally:
        gw.stop()
    assert os.path.exists(gw.data_dir / "master.key")
