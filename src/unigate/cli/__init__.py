"""The `unigate` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from unigate import __version__
from unigate.cli import (
    agents,
    budgets,
    completion,
    config,
    doctor,
    identities,
    mcp_services,
    prices,
    secrets_cmds,
    store_cmds,
    usage,
)
from unigate.config import ConfigError, load_config
from unigate.governance.ratelimit.redis_backend import safe_url
from unigate.observability.logs import FORMATS, LEVELS, setup_logging
from unigate.providers.secret_refs import API_POLICY
from unigate.store import secrets_at_rest
from unigate.store.base import StoreUnavailable
from unigate.store.config_store import apply_file_config
from unigate.store.open import open_store, store_location
from unigate.store.postgres import PostgresStore

STORE_WAIT_SECONDS = 30.0  # a database starting beside the gateway (compose, Kubernetes) gets this long


def _serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"unigate: {e}", file=sys.stderr)
        return 2
    from unigate.server.workers import ServeOptions, check_port, serve

    data_dir = Path(args.data_dir)
    opts = ServeOptions(args.host, args.port, args.workers or os.cpu_count() or 1,
                        data_dir, args.grace, store_location(config.store, data_dir))
    API_POLICY.policy = config.secret_refs  # the secret references the admin API may write
    try:  # before any spec is read or written: stored secrets are sealed under it
        secrets_at_rest.use(secrets_at_rest.load_keyring(data_dir))
    except (ValueError, OSError) as e:
        print(f"unigate: the master key: {e}", file=sys.stderr)
        return 2
    store = open_store(opts.store)
    try:
        if isinstance(store, PostgresStore):
            store.wait_until_ready(STORE_WAIT_SECONDS)
        store.migrate()
        # every stored secret opens (else a clear refusal now, not a worker failing later), and
        # any still in clear (a store written before encryption) is sealed
        secrets_at_rest.reseal(store, plain_only=True)
        # The file's providers and endpoints become (or update) the stored ones, which the
        # workers serve and the admin API edits.
        apply_file_config(store, config)
        env_token = os.environ.get("UNIGATE_ADMIN_TOKEN") or None
        store.set_env_admin_token(env_token)
        if env_token is None and not store.has_admin_token():
            _, token = store.create_token("admin", "admin", "created at first start")
            print("Created the administrator token (shown once; only its hash is stored):\n"
                  f"    {token}", flush=True)
    except StoreUnavailable as e:
        print(f"unigate: the store is not available: {e}", file=sys.stderr)
        return 2
    except secrets_at_rest.SecretsLocked as e:
        print(f"unigate: {e}", file=sys.stderr)
        return 2
    finally:
        store.close()
    try:
        check_port(opts.host, opts.port)
    except OSError as e:
        print(f"unigate: cannot listen on {opts.host}:{opts.port}: {e.strerror}", file=sys.stderr)
        return 2
    shared = f"; rate limits shared through Redis at {safe_url(config.redis)}" if config.redis else ""
    print(f"unigate {__version__} serving {len(config.endpoints)} endpoint(s) from {config.source} "
          f"on http://{opts.host}:{opts.port}/ai-gateway with {opts.workers} worker(s); "
          f"store: {store!r}{shared}", flush=True)
    print(f"web console: http://{opts.host}:{opts.port}/console/ (sign in with a token)", flush=True)
    serve(config, opts)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unigate", description="A self-hosted AI gateway.")
    parser.add_argument("--version", action="version", version=f"unigate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", default="unigate.yaml", help="configuration file (YAML)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=0, help="worker processes (default: cores)")
    serve.add_argument("--data-dir", default=".unigate", help="where state is kept")
    serve.add_argument("--grace", type=float, default=30.0,
                       help="seconds in-flight requests get to finish on shutdown")
    serve.add_argument("--log-format", choices=FORMATS, default=os.environ.get("UNIGATE_LOG_FORMAT", "text"),
                       help="text, or json: one object per line (default: $UNIGATE_LOG_FORMAT or text)")
    serve.add_argument("--log-level", type=_level, default=None,
                       help="debug, info (a line per request), warning, error (default: $UNIGATE_LOG_LEVEL or info)")
    serve.set_defaults(func=_serve)
    identities.register(sub)
    usage.register(sub)
    config.register(sub)
    mcp_services.register(sub)
    prices.register(sub)
    budgets.register(sub)
    store_cmds.register(sub)
    secrets_cmds.register(sub)
    agents.register(sub)
    doctor.register(sub)
    completion.register(sub, parser)  # last: it describes every command above
    return parser


def _level(value: str) -> str:
    if value.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LEVELS).lower()}, got {value!r}")
    return value.upper()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = getattr(args, "log_level", None) or os.environ.get("UNIGATE_LOG_LEVEL", "INFO").upper()
    if level not in LEVELS:
        level = "INFO"
    setup_logging(getattr(args, "log_format", "text"), level)
    return int(args.func(args))

