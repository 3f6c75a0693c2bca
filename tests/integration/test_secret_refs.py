"""Secret references: `api_key: env:NAME` and `api_key: file:/path` are read at use. A file
is re-read within a second of a change, with no restart (a rotated Kubernetes secret). Only
the reference is stored. A reference that does not resolve answers a 502 that names it. The
admin API may write only the references `settings.secret_refs` allows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call, until_stable

KEY = "sk-mock-openai"  # what the mock provider accepts


def config(mock: str, secrets: Path) -> str:
    return f"""
providers:
  - {{name: from-file, type: openai, base_url: "{mock}/v1", api_key: "file:{secrets}/openai"}}
  - {{name: from-env, type: openai, base_url: "{mock}/v1", api_key: "env:REF_TEST_OPENAI_KEY"}}
  - {{name: from-unset, type: openai, base_url: "{mock}/v1", api_key: "env:REF_TEST_UNSET_KEY"}}
endpoints:
  - {{name: file-chat, destinations: [{{provider: from-file, model: gpt-4o-mini}}]}}
  - {{name: env-chat, destinations: [{{provider: from-env, model: gpt-4o-mini}}]}}
  - {{name: unset-chat, destinations: [{{provider: from-unset, model: gpt-4o-mini}}]}}
settings:
  secret_refs: {{env: ["REF_TEST_*"], files: ["{secrets}/*"]}}
"""


def chat(gw: Gateway, endpoint: str, text: str = "hi") -> tuple[int, dict[str, object]]:
    r = call("POST", f"{gw.base}/openai/v1/chat/completions", headers=bearer(gw.token),
             body={"model": endpoint, "messages": [{"role": "user", "content": text}]})
    return r.status, r.json()


def test_file_and_env_references_are_read_at_use(mock_url: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "openai").write_text(KEY + "\n")
    gw = start_gateway(config(mock_url, secrets), env={"REF_TEST_OPENAI_KEY": KEY})
    try:
        for endpoint in ("file-chat", "env-chat"):
            status, body = chat(gw, endpoint, endpoint)
            assert status == 200 and f"MOCK-UPSTREAM-OK: {endpoint}" in json.dumps(body), body
        # only the references are stored (sealed like keys); never the key itself
        assert gw.stored_spec("providers", "from-file")["api_key"] == f"file:{secrets}/openai"
        assert gw.stored_spec("providers", "from-env")["api_key"] == "env:REF_TEST_OPENAI_KEY"
        assert KEY not in json.dumps([gw.stored_spec("providers", p) for p in ("from-file", "from-env")])
        # an unset variable: a 502 naming the reference, before any upstream call
        status, body = chat(gw, "unset-chat")
        assert status == 502, body
        assert "env:REF_TEST_UNSET_KEY" in json.dumps(body) and "not set" in json.dumps(body)
        # the file rotates: the new value is used within about a second, with no restart
        (secrets / "openai").write_text("sk-rotated-but-wrong\n")
        until_stable(lambda: chat(gw, "file-chat")[0] == 502, timeout=10, times=3)
        assert "sk-rotated-but-wrong" not in gw.log()
        (secrets / "openai").write_text(KEY)
        until_stable(lambda: chat(gw, "file-chat")[0] == 200, timeout=10, times=3)
        # the file goes away: a 502 that names it
        os.remove(secrets / "openai")
        time.sleep(1.2)
        until_stable(lambda: chat(gw, "file-chat")[0] == 502, timeout=10, times=3)
        status, body = chat(gw, "file-chat")
        assert f"file:{secrets}/openai" in json.dumps(body) and "cannot be read" in json.dumps(body)
    finally:
        gw.stop()
    assert "Traceback" not in gw.log()


def test_the_admin_api_writes_only_allowed_references(mock_url: str, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "openai").write_text(KEY)
    gw = start_gateway(config(mock_url, secrets), env={"REF_TEST_OPENAI_KEY": KEY})
    try:
        def create(api_key: str) -> tuple[int, dict[str, object]]:
            r = call("POST", f"{gw.url}/api/v1/providers", headers=bearer(gw.token),
                     body={"name": f"p{abs(hash(api_key)) % 10**8}", "type": "openai",
                           "base_url": f"{mock_url}/v1", "api_key": api_key})
            return r.status, r.json()

        for refused in ("env:UNIGATE_MASTER_KEY", "env:HOME", "file:/etc/passwd",
                        f"file:{secrets}/../../etc/passwd"):
            status, body = create(refused)
            assert status == 400 and "may not write" in json.dumps(body), (refused, body)
        status, body = create("file:relative/path")
        assert status == 400 and "absolute path" in json.dumps(body), body
        for allowed in (f"file:{secrets}/openai", "env:REF_TEST_OPENAI_KEY"):
            status, body = create(allowed)
            assert status == 201, (allowed, body)
        # the API-made provider answers with the referenced key
        name = f"p{abs(hash(f'file:{secrets}/openai')) % 10**8}"
        r = call("POST", f"{gw.url}/api/v1/endpoints", headers=bearer(gw.token),
                 body={"name": "api-ref-chat", "destinations": [{"provider": name, "model": "gpt-4o-mini"}]})
        assert r.status == 201, r.body
        until_stable(lambda: chat(gw, "api-ref-chat")[0] == 200)
    finally:
        gw.stop()


def test_a_malformed_reference_in_the_file_is_refused_at_start(mock_url: str, tmp_path: Path) -> None:
    bad = f"""
providers:
  - {{name: p, type: openai, base_url: "{mock_url}/v1", api_key: "env:NOT A NAME"}}
endpoints:
  - {{name: c, destinations: [{{provider: p, model: gpt-4o-mini}}]}}
"""
    try:
        start_gateway(bad)
    except RuntimeError as e:
        assert "env: takes a variable name" in str(e) and "Traceback" not in str(e)
    else:
        raise AssertionError("the gateway started with a malformed reference")
