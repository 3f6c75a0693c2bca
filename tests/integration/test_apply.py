"""`unigate apply -f FILE` against a running gateway: the plan shown first, confirmation,
--dry-run changing nothing, --prune deleting, and the endpoints/providers commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import bearer, call

START = """
providers:
  - {name: o, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-start-secret}
  - {name: c, type: openai_compatible, base_url: "http://127.0.0.1:9/compat/v1"}
endpoints:
  - {name: keep, destinations: [{provider: o, model: m}]}
  - {name: change, destinations: [{provider: o, model: m}]}
  - {name: extra, destinations: [{provider: c, model: x}]}
"""

FILE = """
providers:
  - {name: o, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: "${APPLY_TEST_KEY}"}
  - {name: c, type: openai_compatible, base_url: "http://127.0.0.1:9/compat/v1"}
endpoints:
  - {name: keep, destinations: [{provider: o, model: m}]}
  - name: change
    timeout: 5s
    destinations: [{provider: o, model: m2}]
    rate_limits: [{key: user_default, requests: 60, renewal_period: minute}]
  - {name: added, destinations: [{provider: c, model: y}], inference_table: {enabled: true}}
"""


@pytest.fixture
def gw() -> Iterator[Gateway]:
    g = start_gateway(START, workers=1)
    yield g
    g.stop()


def unigate(gw: Gateway, *args: str, stdin: str = "", file_text: str | None = None) -> subprocess.CompletedProcess[str]:
    extra: list[str] = []
    if file_text is not None:
        path = gw.data_dir.parent / "apply.yaml"
        path.write_text(file_text)
        extra = ["-f", str(path)]
    env = {**os.environ, "APPLY_TEST_KEY": "sk-applied-secret", "UNIGATE_URL": gw.url, "UNIGATE_TOKEN": gw.token}
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args, *extra], input=stdin, text=True,
                          capture_output=True, env=env, timeout=60)


def endpoints(gw: Gateway) -> dict[str, Any]:
    r = call("GET", gw.url + "/api/v1/endpoints", headers=bearer(gw.token))
    return {e["name"]: e for e in r.json()["endpoints"]}


def stored_key(gw: Gateway) -> str:
    return str(gw.stored_spec("providers", "o")["api_key"])


def test_dry_run_shows_the_plan_and_changes_nothing(gw: Gateway) -> None:
    before = endpoints(gw)
    out = unigate(gw, "apply", "--dry-run", file_text=FILE)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "~ update provider o" in text and "api_key: (hidden) -> (changed)" in text
    assert "~ update endpoint change" in text and "destinations[0].model: m -> m2" in text
    assert "timeout: (none) -> 5s" in text
    assert "+ create endpoint added" in text
    assert "keep" not in text and "extra" not in text  # unchanged; not pruned
    assert "Plan: 1 to create, 2 to update, 0 to delete." in text
    assert "secret" not in text + out.stderr
    assert endpoints(gw) == before and stored_key(gw) == "sk-start-secret"


def test_apply_asks_first_then_applies(gw: Gateway) -> None:
    refused = unigate(gw, "apply", stdin="n\n", file_text=FILE)
    assert refused.returncode == 1 and "Apply these changes?" in refused.stdout
    assert "Not applied" in refused.stderr and "added" not in endpoints(gw)
    done = unigate(gw, "apply", stdin="y\n", file_text=FILE)
    assert done.returncode == 0, done.stderr
    assert "Applied: 1 created, 2 updated, 0 deleted." in done.stdout
    eps = endpoints(gw)
    assert eps["change"]["destinations"][0]["model"] == "m2" and eps["change"]["timeout"] == "5s"
    assert eps["change"]["rate_limits"] == [{"key": "user_default", "requests": 60, "renewal_period": "minute"}]
    assert eps["added"]["inference_table"] == {"enabled": True}
    assert "extra" in eps  # no --prune: kept
    assert stored_key(gw) == "sk-applied-secret"  # ${VAR} resolved from the CLI's environment
    again = unigate(gw, "apply", "--yes", file_text=FILE)
    assert again.returncode == 0 and "No changes" in again.stdout


def test_prune_deletes_what_the_file_does_not_name(gw: Gateway) -> None:
    out = unigate(gw, "apply", "--prune", "--yes", file_text=FILE)
    assert out.returncode == 0, out.stderr
    assert "- delete endpoint extra" in out.stdout and "Applied: 1 created, 2 updated, 1 deleted." in out.stdout
    assert set(endpoints(gw)) == {"keep", "change", "added"}
    only = "providers: [{name: c, type: openai_compatible, base_url: 'http://127.0.0.1:9/compat/v1'}]\n" \
           "endpoints: [{name: added, destinations: [{provider: c, model: y}]}]\n"
    out = unigate(gw, "apply", "--prune", "--yes", "--json", file_text=only)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["applied"] is True
    deleted = {(c["kind"], c["name"]) for c in result["plan"]["changes"] if c["action"] == "delete"}
    assert deleted == {("provider", "o"), ("endpoint", "keep"), ("endpoint", "change")}
    assert set(endpoints(gw)) == {"added"}


def test_bad_files_and_plans_are_refused(gw: Gateway) -> None:
    bad = FILE.replace("provider: c, model: y", "provider: nope, model: y")
    out = unigate(gw, "apply", "--yes", file_text=bad)
    assert out.returncode == 1 and "unknown provider 'nope'" in out.stderr
    # Pruning a provider an endpoint still uses: the server names the field.
    body = {"providers": [], "endpoints": [{"name": "keep", "destinations": [{"provider": "o", "model": "m"}]}],
            "prune": True}
    r = call("POST", gw.url + "/api/v1/apply", body, bearer(gw.token))
    assert r.status == 400 and r.json()["error"]["field"] == "endpoints[0].destinations[0].provider"
    # A plan that no longer matches what is stored is not applied.
    body = {"endpoints": [{"name": "keep", "destinations": [{"provider": "o", "model": "zz"}]}],
            "expect_plan": "0000000000000000"}
    r = call("POST", gw.url + "/api/v1/apply", body, bearer(gw.token))
    assert r.status == 409 and endpoints(gw)["keep"]["destinations"][0]["model"] == "m"
    out = unigate(gw, "apply", "--yes", "--token", "ug_wrong", file_text=FILE)
    assert out.returncode == 1 and "401" in out.stderr


def test_endpoints_and_providers_commands(gw: Gateway) -> None:
    out = unigate(gw, "endpoints", "list")
    assert out.returncode == 0 and out.stdout.splitlines()[0].split()[:2] == ["NAME", "DESTINATIONS"]
    assert "o/m" in out.stdout and "extra" in out.stdout
    out = unigate(gw, "endpoints", "get", "keep", "--json")
    assert json.loads(out.stdout)["destinations"] == [{"provider": "o", "model": "m", "traffic_percentage": 100}]
    assert "destinations:  o/m" in unigate(gw, "endpoints", "get", "keep").stdout
    assert "Deleted endpoint extra." in unigate(gw, "endpoints", "delete", "extra").stdout
    missing = unigate(gw, "endpoints", "get", "extra")
    assert missing.returncode == 1 and "404" in missing.stderr
    out = unigate(gw, "providers", "list")
    assert out.returncode == 0 and "set" in out.stdout and "secret" not in out.stdout
    got = unigate(gw, "providers", "get", "o")
    assert "api_key:" in got.stdout and "(set)" in got.stdout and "secret" not in got.stdout
    assert json.loads(unigate(gw, "providers", "get", "o", "--json").stdout)["api_key_set"] is True


def test_help_mentions_the_options() -> None:
    out = subprocess.run([sys.executable, "-m", "unigate.cli", "apply", "--help"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert all(opt in out.stdout for opt in ("--prune", "--yes", "--dry-run", "-f"))


def test_cli_sets_rate_limits_and_payload_logging(gateway: Gateway) -> None:
    _json = json

    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "unigate.cli", *args, "--url", gateway.url,
                            "--token", gateway.token], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    limits = '[{"key": "user_default", "requests": 60, "renewal_period": "minute"}]'
    cli("endpoints", "rate-limits", "chat-compat", "--set", limits)
    shown = _json.loads(cli("endpoints", "rate-limits", "chat-compat", "--json"))
    assert shown["rate_limits"][0]["requests"] == 60
    assert "60" in cli("endpoints", "rate-limits", "chat-compat")
    cli("endpoints", "rate-limits", "chat-compat", "--clear")
    assert _json.loads(cli("endpoints", "rate-limits", "chat-compat", "--json"))["rate_limits"] == []
    cli("endpoints", "inference-table", "chat-compat", "--enable", "--retention-days", "7")
    table = _json.loads(cli("endpoints", "inference-table", "chat-compat", "--json"))
    assert table["enabled"] is True and table["retention_days"] == 7
    cli("endpoints", "inference-table", "chat-compat", "--disable")
    assert _json.loads(cli("endpoints", "inference-table", "chat-compat", "--json"))["enabled"] is False
