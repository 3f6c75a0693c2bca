"""Whether upstream hosts resolve: a bounded, concurrent DNS check for the start-up lines and
`unigate doctor`. Loopback names and IP literals need no lookup. Each lookup runs in a daemon
thread of its own (getaddrinfo cannot be cancelled; one stuck on an unreachable resolver must
not keep the process from exiting)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

RESOLVE_TIMEOUT = 2.0  # seconds for every lookup together


def host_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or ""


def port_of(base_url: str) -> int:
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or (443 if parts.scheme == "https" else 80)


def needs_lookup(host: str) -> bool:
    """False for IP literals and loopback names, which resolve without asking anyone."""
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def resolve_hosts(hosts: set[str], timeout: float = RESOLVE_TIMEOUT) -> dict[str, str | None]:
    """host -> None when it resolves, else why not ("does not resolve", "did not resolve within
    2 s"). All lookups run at once; the whole check takes at most `timeout`."""
    out: dict[str, str | None] = {h: None for h in hosts if not needs_lookup(h)}
    todo = sorted(h for h in hosts if needs_lookup(h))
    results: dict[str, str | None] = {}
    lock = threading.Lock()

    def look_up(host: str) -> None:
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            verdict = None
        except (OSError, UnicodeError):
            verdict = f"host {host} does not resolve"
        with lock:
            results[host] = verdict

    threads = [threading.Thread(target=look_up, args=(h,), name=f"resolve-{h}", daemon=True) for h in todo]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        for host in todo:
            out[host] = results.get(host, f"host {host} did not resolve within {timeout:g} s")
    return out
