"""`unigate agents configure|run claude|codex|gemini|opencode`: coding agents through the gateway.

    unigate agents configure claude --endpoint my-chat --url https://gw.example --token ug-...
    unigate agents run codex --endpoint my-chat -- exec "fix the failing test"

`configure` writes the agent's own configuration for the current user (merged into what is
there, the replaced file kept as a timestamped copy next to it); `run` starts the agent set up
for the gateway through its environment (and, where the agent needs one, a temporary config
directory) and leaves the user's files alone. What each agent gets is in agent_setups.py."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from unigate.cli import auth
from unigate.cli.agent_files import replace_file
from unigate.cli.agent_setups import AGENTS, Target
from unigate.cli.auth import resolve_token, save_token
from unigate.cli.common import DEFAULT_URL, CliError, UsageError, gateway_url, guarded

USES_HELPER = ("claude", "codex")  # these ask `unigate auth token` each time instead of keeping it


def _target(args: argparse.Namespace) -> tuple[Target, str]:
    endpoint = args.endpoint or os.environ.get("UNIGATE_ENDPOINT")
    if not endpoint:
        raise UsageError("which endpoint? pass --endpoint NAME (or set UNIGATE_ENDPOINT)")
    url = gateway_url(args.url)
    token, source = resolve_token(args.token, url)
    return Target(url=url, endpoint=endpoint, token=token), source


def _configure(args: argparse.Namespace) -> int:
    target, source = _target(args)
    plans = AGENTS[args.agent].configure(target)  # reads (and validates) the files first
    if source == "--token":
        print(f"kept the token for {target.url} in {save_token(target.url, target.token)}")
    for planned in plans:
        written, saved = replace_file(planned.path, planned.text, secret=planned.secret)
        if not written:
            print(f"{args.agent}: {planned.path} already set up, unchanged")
            continue
        kept = f" (previous version kept as {saved.name})" if saved else ""
        print(f"{args.agent}: wrote {planned.path}{kept}")
    if args.agent in USES_HELPER:
        print(f"{args.agent} asks `unigate auth token --url {target.url}` for the token when it needs it")
        if source == "UNIGATE_TOKEN":
            print("note: the token came from UNIGATE_TOKEN and was not kept; the agent will find it only "
                  f"while UNIGATE_TOKEN is set (or run `unigate auth login --url {target.url}`)")
    return 0


def _find_bin(args: argparse.Namespace) -> str:
    if args.bin:
        if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
            raise UsageError(f"--bin {args.bin}: not an executable file")
        return str(args.bin)
    name = AGENTS[args.agent].executable
    found = shutil.which(name)
    if not found:
        raise CliError(f"{name} not found on PATH: install it, or pass --bin /path/to/{name}")
    return found


def _run(args: argparse.Namespace) -> int:
    target, _ = _target(args)
    exe = _find_bin(args)
    agent_args = list(args.agent_args)
    with tempfile.TemporaryDirectory(prefix=f"unigate-{args.agent}-") as tmp:
        argv, env_update, env_drop = AGENTS[args.agent].run(target, exe, agent_args, Path(tmp))
        env = {k: v for k, v in os.environ.items() if k not in env_drop}
        env.update(env_update)
        # Ctrl-C reaches the agent through the terminal; we only wait for it to finish.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            code = subprocess.call(argv, env=env)
        except OSError as e:
            raise CliError(f"cannot start {exe}: {e.strerror}") from None
        finally:
            signal.signal(signal.SIGINT, previous)
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


def _options(p: argparse.ArgumentParser, endpoint_required: bool) -> None:
    p.add_argument("--endpoint", required=endpoint_required,
                   help="the gateway endpoint the agent uses as its model" +
                   ("" if endpoint_required else " (default $UNIGATE_ENDPOINT)"))
    p.add_argument("--url", help=f"gateway URL (default $UNIGATE_URL or {DEFAULT_URL})")
    p.add_argument("--token", help="the token (default $UNIGATE_TOKEN, then the one `unigate auth login` kept)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    agents = sub.add_parser("agents", help="set coding agents up to use the gateway")
    agents_sub = agents.add_subparsers(dest="agents_command", required=True)
    configure = agents_sub.add_parser("configure", help="write an agent's own configuration for this user") \
        .add_subparsers(dest="agent", required=True)
    run = agents_sub.add_parser("run", help="start an agent set up for the gateway, touching no file") \
        .add_subparsers(dest="agent", required=True)
    for name, setup in AGENTS.items():
        p = configure.add_parser(name, help=f"{setup.title}: write {setup.files}")
        _options(p, endpoint_required=True)
        p.set_defaults(func=guarded(_configure))
        p = run.add_parser(name, help=f"run {setup.title} (arguments after -- go to it)")
        _options(p, endpoint_required=False)
        p.add_argument("--bin", help=f"the {setup.executable} executable (default: found on PATH)")
        p.add_argument("agent_args", nargs="*", metavar="-- ARGS", help="passed to the agent as they are")
        p.set_defaults(func=guarded(_run))
    auth.register(sub)
