"""The start-up lines' DNS check: loopback and IP literals are not looked up, the lookups run
at once, and the whole check is bounded however long a resolver takes."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from unigate.config import parse_config
from unigate.routing import reachability
from unigate.routing.reachability import needs_lookup, resolve_hosts
from unigate.routing.readiness import readiness_lines


def test_loopback_names_and_ip_literals_need_no_lookup() -> None:
    assert not any(needs_lookup(h) for h in ("127.0.0.1", "::1", "localhost", "model.localhost", "10.1.2.3"))
    assert needs_lookup("api.openai.com")


def test_lookups_run_at_once_and_the_check_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    release = threading.Event()

    def slow(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        started.append(host)
        if host.startswith("hang"):
            release.wait(30)  # a resolver that never answers
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 0))]

    monkeypatch.setattr(reachability.socket, "getaddrinfo", slow)
    t0 = time.monotonic()
    out = resolve_hosts({"hang-1.example", "hang-2.example", "ok.example", "no.invalid", "127.0.0.1"}, timeout=0.5)
    took = time.monotonic() - t0
    release.set()
    assert 0.4 < took < 1.5  # both hanging lookups waited on together, not one after the other
    assert out == {"hang-1.example": "host hang-1.example did not resolve within 0.5 s",
                   "hang-2.example": "host hang-2.example did not resolve within 0.5 s",
                   "ok.example": None, "no.invalid": "host no.invalid does not resolve", "127.0.0.1": None}
    assert "127.0.0.1" not in started


def test_a_keyless_provider_is_not_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIGATE_TEST_NO_SUCH_KEY", raising=False)
    asked: list[str] = []
    monkeypatch.setattr(reachability.socket, "getaddrinfo", lambda host, *a, **k: asked.append(host) or [])
    cfg = parse_config({"providers": [
        {"name": "c", "type": "anthropic", "base_url": "https://api.anthropic.com",
         "api_key": "${UNIGATE_TEST_NO_SUCH_KEY:-}"},
        {"name": "o", "type": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-x"}],
        "endpoints": [{"name": "e", "destinations": [{"provider": "c", "model": "m"}],
                       "fallbacks": [{"provider": "o", "model": "m"}]}]})
    assert readiness_lines(cfg) == ["endpoint e: ready (o); not through c: provider 'c' has no key "
                                    "(UNIGATE_TEST_NO_SUCH_KEY is not set)"]
    assert asked == ["api.openai.com"]
