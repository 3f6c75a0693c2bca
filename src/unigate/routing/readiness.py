"""The start-up lines of `unigate serve`: one per endpoint, saying whether it can answer.

A destination can answer when its provider has a key (when its type needs one, routing.keys)
and its base URL's host resolves (routing.reachability). An endpoint is ready when at least
one of its destinations (fallbacks included) can; the line names those that cannot, and why.
The supervisor prints them once, from a thread, so the port opens without waiting for DNS."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from unigate.config import GatewayConfig
from unigate.providers import build_provider
from unigate.routing.keys import key_problem
from unigate.routing.reachability import RESOLVE_TIMEOUT, host_of, resolve_hosts


def setup_problems(config: GatewayConfig) -> dict[str, str]:
    """provider -> why it cannot authenticate or run, as a worker's provider will say it (a key,
    a secret reference that does not resolve, a local model this machine cannot run)."""
    problems: dict[str, str] = {}
    for name, p in config.providers.items():
        provider = build_provider(p)
        provider.missing_key = key_problem(p, config.key_env.get(name))
        if provider.missing_key is not None:
            problems[name] = provider.missing_key
    return problems


def provider_problems(config: GatewayConfig, resolved: dict[str, str | None],
                      setup: dict[str, str] | None = None) -> dict[str, str]:
    """provider -> why it cannot answer (its setup first: it is what the user must fix)."""
    setup = setup_problems(config) if setup is None else setup
    problems: dict[str, str] = {}
    for name, p in config.providers.items():
        why = setup.get(name)
        if why is None:
            dns = resolved.get(host_of(p.base_url))
            why = f"provider '{name}': {dns}" if dns else None
        if why is not None:
            problems[name] = why
    return problems


def endpoint_lines(config: GatewayConfig, problems: dict[str, str]) -> list[str]:
    lines = []
    for name, e in config.endpoints.items():
        providers = list(dict.fromkeys(d.provider for d in e.destinations + e.fallbacks))
        good = [p for p in providers if p not in problems]
        reasons = list(dict.fromkeys(problems[p] for p in providers if p in problems))
        if not good:
            lines.append(f"endpoint {name}: cannot answer: {'; '.join(reasons)}")
        elif reasons:
            lines.append(f"endpoint {name}: ready ({', '.join(good)}); not through "
                         f"{', '.join(p for p in providers if p in problems)}: {'; '.join(reasons)}")
        else:
            lines.append(f"endpoint {name}: ready ({', '.join(good)})")
    return lines


def readiness_lines(config: GatewayConfig, timeout: float = RESOLVE_TIMEOUT) -> list[str]:
    """Keys checked at once, every host looked up concurrently (at most `timeout` seconds)."""
    setup = setup_problems(config)
    resolved = resolve_hosts({host_of(p.base_url) for n, p in config.providers.items() if n not in setup}, timeout)
    return endpoint_lines(config, provider_problems(config, resolved, setup))


class StartupCheck:
    """Runs `readiness_lines` in a thread and prints them; `wait()` before forking a worker
    (no fork while the thread writes to stdout)."""

    def __init__(self, config: GatewayConfig, say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.say = say or (lambda line: print(line, file=sys.stdout, flush=True))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="startup-check", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            lines = readiness_lines(self.config)
        except Exception as e:  # never a reason not to serve
            lines = [f"endpoint readiness: not checked ({type(e).__name__}: {e})"]
        for line in lines:
            self.say(line)

    def wait(self, timeout: float = RESOLVE_TIMEOUT + 1.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
