"""`unigate doctor`: what stands between this machine and a working gateway, in one table.

Checks that the configuration parses, that the store opens and its migrations are current,
that the master key opens every stored secret, that each provider (the file's and those added
through the admin API) has its key (naming the variable), that each upstream's host resolves
and accepts a connection (TLS included), and that Redis answers when one is configured. Every
network check has a bounded timeout and they run concurrently. Exit status 1 when something
is broken (a warning alone is 0). Never prints a key or a password."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from unigate.config import ConfigError, GatewayConfig, load_config
from unigate.governance.ratelimit.redis_backend import safe_url
from unigate.providers import PROVIDER_TYPES, ProviderConfig
from unigate.providers.local import LocalProvider
from unigate.routing.reachability import host_of, port_of, resolve_hosts
from unigate.routing.readiness import setup_problems
from unigate.store import secrets_at_rest as sar
from unigate.store.base import Store
from unigate.store.config_store import load_config_from_store
from unigate.store.migrations import MIGRATIONS
from unigate.store.open import open_store, store_location
from unigate.store.postgres import is_postgres_url

OK, WARN, FAIL = "ok", "warn", "fail"
DEFAULT_TIMEOUT = 3.0  # seconds, each network check (they run at once)


@dataclass(slots=True)
class Check:
    check: str  # what kind: configuration, key, store, migrations, upstream, redis
    subject: str  # what it is about: the file, a provider, the store's location
    status: str  # OK, WARN or FAIL
    detail: str


def config_check(path: str) -> tuple[Check, GatewayConfig | None]:
    try:
        cfg = load_config(path)
    except ConfigError as e:
        return Check("configuration", path, FAIL, str(e)), None
    return Check("configuration", path, OK,
                 f"{len(cfg.providers)} provider(s), {len(cfg.endpoints)} endpoint(s)"), cfg


def used_providers(cfg: GatewayConfig) -> set[str]:
    return {d.provider for e in cfg.endpoints.values() for d in e.destinations + e.fallbacks}


def key_checks(cfg: GatewayConfig) -> list[Check]:
    used = used_providers(cfg)
    problems = setup_problems(cfg)  # as a worker's provider says it: references, a local model's setup
    out = []
    for name, p in cfg.providers.items():
        problem = problems.get(name)
        if problem is not None:
            # a provider no endpoint uses cannot break one
            status = FAIL if name in used else WARN
            out.append(Check("key", name, status, problem.removeprefix(f"provider '{name}' ")
                             + ("" if name in used else "; no endpoint uses it")))
        elif PROVIDER_TYPES[p.type].KEY_HEADER is None and not p.api_key:
            out.append(Check("key", name, OK, f"none needed ({p.type})"))
        else:
            out.append(Check("key", name, OK, "set" if p.api_key else "given in headers"))
    return out


@dataclass(slots=True)
class StoreReport:
    checks: list[Check]
    served: GatewayConfig | None = None  # what the gateway serves: the stored specs and the file's


def store_checks(location: str, timeout: float, data_dir: Path | None = None,
                 file_cfg: GatewayConfig | None = None) -> StoreReport:
    """Opens the store (it creates nothing: a missing SQLite file is reported, not made) and
    compares its applied migrations with this version's; then whether the master key opens
    every stored secret, and what the store serves beside the file (providers and endpoints
    added through the admin API). In a thread bounded by `timeout`."""
    where = location if not is_postgres_url(location) else _safe_store(location)
    if not is_postgres_url(location) and not Path(location.removeprefix("sqlite://")).exists():
        return StoreReport([Check("store", where, WARN, "does not exist yet (unigate serve creates it)")])
    report = StoreReport([])
    result = report.checks

    def run() -> None:
        try:
            store = open_store(location)
        except Exception as e:
            result.append(Check("store", where, FAIL, f"cannot open: {_why(e)}"))
            return
        try:
            tables = store.execute("SELECT name FROM schema_migrations")
            result.append(Check("store", where, OK, f"opens ({store!r})"))
            applied = {r[0] for r in tables}
            known = [name for name, _ in MIGRATIONS]
            pending = [n for n in known if n not in applied]
            unknown = sorted(applied - set(known))
            if unknown:
                result.append(Check("migrations", where, FAIL, f"{len(unknown)} applied migration(s) this version "
                                    f"does not know ({', '.join(unknown[:3])}): a newer unigate wrote this store"))
            elif pending:
                result.append(Check("migrations", where, WARN, f"{len(pending)} pending ({', '.join(pending[:3])}"
                                    f"{'...' if len(pending) > 3 else ''}): unigate serve or unigate migrate "
                                    "applies them"))
            else:
                result.append(Check("migrations", where, OK, f"current ({len(known)} applied)"))
                if data_dir is not None:
                    secrets = secrets_check(store, data_dir, where)
                    result.append(secrets)
                    if secrets.status != FAIL and file_cfg is not None:
                        try:
                            report.served = served_config(store, file_cfg)
                        except ConfigError as e:
                            result.append(Check("configuration", "store", FAIL, f"the stored specs: {e}"))
        except Exception as e:
            if not result:
                result.append(Check("store", where, FAIL, f"cannot read: {_why(e)}"))
        finally:
            store.close()

    t = threading.Thread(target=run, name="doctor-store", daemon=True)
    t.start()
    t.join(timeout + 2.0)
    if not result:
        result.append(Check("store", where, FAIL, f"did not answer within {timeout + 2.0:g} s"))
    return report


def secrets_check(store: Store, data_dir: Path, where: str) -> Check:
    """Whether the master key (as `unigate serve` would find it) opens every sealed value."""
    try:
        ring = sar.load_keyring(data_dir, create=False)
    except (ValueError, OSError) as e:
        return Check("secrets", where, FAIL, f"the master key: {e}")
    sar.use(ring)
    sealed = clear = 0
    for table in sar.TABLES:
        for (text,) in store.execute(f"SELECT spec FROM {table}"):
            spec = json.loads(text)
            values = sar.secret_values(table, spec)
            sealed += sum(1 for v in values if sar.is_sealed(v))
            clear += sum(1 for v in values if not sar.is_sealed(v))
            try:
                sar.open_spec(table, spec)
            except sar.SecretsLocked as e:
                return Check("secrets", where, FAIL, str(e))
    if clear:
        return Check("secrets", where, WARN, f"{clear} stored secret(s) in clear: unigate serve seals them "
                                             "at its next start")
    if not sealed:
        return Check("secrets", where, OK, "no secrets stored")
    return Check("secrets", where, OK, f"{sealed} sealed secret(s) open with the master key from {ring.source}")


def served_config(store: Store, file_cfg: GatewayConfig) -> GatewayConfig:
    """The store's providers and endpoints with the file's over them, as `unigate serve` would
    make them at its start (the file's are written over the stored ones, the rest stay)."""
    served = load_config_from_store(store, file_cfg.max_body_bytes, file_cfg.source)
    served.providers.update(file_cfg.providers)
    served.endpoints.update(file_cfg.endpoints)
    served.key_env = file_cfg.key_env
    served.redis = file_cfg.redis
    return served


def _safe_store(url: str) -> str:
    from unigate.store.postgres import safe_dsn

    return safe_dsn(url)


def _why(e: BaseException) -> str:
    return (str(e) or type(e).__name__).strip().splitlines()[0]


async def _connect(p: ProviderConfig, timeout: float) -> Check:
    host, port = host_of(p.base_url), port_of(p.base_url)
    tls = ssl.create_default_context() if p.base_url.startswith("https://") else None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=tls)
        writer.close()
    except TimeoutError:
        return Check("upstream", p.name, FAIL, f"{host}:{port} did not accept a connection within {timeout:g} s")
    except ssl.SSLError as e:
        return Check("upstream", p.name, FAIL, f"{host}:{port}: TLS failed: {_why(e)}")
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else _why(e)
        return Check("upstream", p.name, FAIL, f"cannot connect to {host}:{port}: {why}")
    ms = (time.perf_counter() - started) * 1000.0
    return Check("upstream", p.name, OK, f"{host}:{port} resolves and connects{' (TLS)' if tls else ''} "
                                         f"in {ms:.0f} ms")


async def _redis(url: str, timeout: float) -> Check:
    from unigate.governance.ratelimit.resp import RespClient

    client = RespClient(url, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            reply = await client.call("PING")
    except Exception as e:
        why = f"no answer within {timeout:g} s" if isinstance(e, TimeoutError) else _why(e)
        return Check("redis", safe_url(url), FAIL, f"does not answer: {why}")
    finally:
        await client.close()
    return Check("redis", safe_url(url), OK, f"answers ({reply!r})" if not isinstance(reply, bytes)
                 else f"answers ({reply.decode(errors='replace')})")


def network_checks(cfg: GatewayConfig, timeout: float) -> list[Check]:
    # a local model's server is started by `unigate serve` itself: nothing to reach beforehand
    remote = {n: p for n, p in cfg.providers.items() if not issubclass(PROVIDER_TYPES[p.type], LocalProvider)}
    resolved = resolve_hosts({host_of(p.base_url) for p in remote.values()}, timeout)
    out: dict[str, Check] = {n: Check("upstream", n, OK, "a local model: unigate serve starts its server")
                             for n in cfg.providers if n not in remote}
    reachable = []
    for name, p in remote.items():
        problem = resolved.get(host_of(p.base_url))
        if problem is not None:
            out[name] = Check("upstream", name, FAIL, problem)
        else:
            reachable.append(p)

    async def run() -> list[Check]:
        jobs = [_connect(p, timeout) for p in reachable]
        if cfg.redis:
            jobs.append(_redis(cfg.redis, timeout))
        return list(await asyncio.gather(*jobs))

    checked = asyncio.run(run()) if reachable or cfg.redis else []
    for c in checked:
        out[c.subject if c.check == "upstream" else "\0redis"] = c
    used = used_providers(cfg)
    for name, c in out.items():  # a provider no endpoint uses cannot break one
        if c.status == FAIL and c.check == "upstream" and name not in used:
            c.status, c.detail = WARN, f"{c.detail}; no endpoint uses it"
    ordered = [out[n] for n in cfg.providers if n in out]
    return ordered + ([out["\0redis"]] if "\0redis" in out else [])


def run_checks(config_path: str, data_dir: Path, store: str | None, timeout: float) -> list[Check]:
    first, cfg = config_check(config_path)
    report = store_checks(store_location(store or (cfg.store if cfg else None), data_dir), timeout, data_dir, cfg)
    checks = [first]
    served = report.served or cfg
    if cfg is not None and served is not None and served is not cfg:
        added = (len(set(served.providers) - set(cfg.providers)), len(set(served.endpoints) - set(cfg.endpoints)))
        if any(added):
            checks.append(Check("configuration", "store", OK, f"adds {added[0]} provider(s), {added[1]} endpoint(s) "
                                                             "(the admin API's): checked below too"))
    if served is not None:
        checks += key_checks(served)
    checks += report.checks
    if served is not None:
        checks += network_checks(served, timeout)
    return checks


def table(checks: list[Check]) -> str:
    rows = [("CHECK", "SUBJECT", "STATUS", "DETAIL")]
    rows += [(c.check, c.subject, c.status.upper() if c.status == FAIL else c.status, c.detail) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows)


def doctor_cmd(a: argparse.Namespace) -> int:
    checks = run_checks(a.config, Path(a.data_dir), a.store, a.timeout)
    broken = [c for c in checks if c.status == FAIL]
    if a.json:
        report: dict[str, Any] = {"ok": not broken, "checks": [asdict(c) for c in checks]}
        print(json.dumps(report, indent=2))
    else:
        print(table(checks))
        warned = sum(c.status == WARN for c in checks)
        summary = f"{len(broken)} problem(s), {warned} warning(s)" if broken or warned else "everything checked is fine"
        print(f"\n{summary}")
    sys.stdout.flush()
    return 1 if broken else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="check the configuration, keys, store, upstreams and Redis")
    p.add_argument("--config", default="unigate.yaml", help="configuration file (YAML)")
    p.add_argument("--data-dir", default=".unigate", help="where state is kept (its unigate.db)")
    p.add_argument("--store", help="postgresql://... or an SQLite file (default: the configuration's "
                                   "store, UNIGATE_STORE_URL, else the data directory's)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds each network check may take (default {DEFAULT_TIMEOUT:g}; they run at once)")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.set_defaults(func=doctor_cmd)
