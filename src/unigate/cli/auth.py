"""`unigate auth login|token`: the token a coding agent's helper asks for.

    unigate auth login --url https://gw.example --token ug-...   # checks it, keeps it (0600)
    unigate auth token --url https://gw.example                  # prints it, for apiKeyHelper & co.

The token comes from --token, else $UNIGATE_TOKEN, else the credentials file
(`$XDG_CONFIG_HOME/unigate/credentials.json`, default ~/.config/unigate), which keeps one token per
gateway URL. --url defaults like the other commands: $UNIGATE_URL, else http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from unigate.cli.agent_files import write_private
from unigate.cli.common import DEFAULT_URL, CliError, gateway_url, guarded


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "unigate" / "credentials.json"


def _load() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"gateways": {}}
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("gateways"), dict):
        raise CliError(f"{path} is not a unigate credentials file")
    return data


def stored_token(url: str) -> str | None:
    entry = _load()["gateways"].get(url)
    return entry.get("token") if isinstance(entry, dict) else None


def save_token(url: str, token: str) -> Path:
    data = _load()
    data["gateways"][url] = {"token": token}
    path = credentials_path()
    write_private(path, json.dumps(data, indent=2) + "\n")
    return path


def resolve_token(token: str | None, url: str) -> tuple[str, str]:
    """(token, where it came from); CliError when there is none."""
    if token:
        return token, "--token"
    if os.environ.get("UNIGATE_TOKEN"):
        return os.environ["UNIGATE_TOKEN"], "UNIGATE_TOKEN"
    saved = stored_token(url)
    if saved:
        return saved, str(credentials_path())
    raise CliError(f"no token for {url}: pass --token, set UNIGATE_TOKEN, "
                    f"or run `unigate auth login --url {url} --token TOKEN`")


def verify(url: str, token: str) -> int:
    """Ask the gateway which endpoints this token may query: proves the token works for any
    principal (not only administrators). Returns how many endpoints it sees."""
    req = urllib.request.Request(f"{url}/ai-gateway/openai/v1/models",
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise CliError(f"{url} refused the token ({e.code}): check it, or create one with "
                            "`unigate tokens create`") from None
        raise CliError(f"{url} answered {e.code} when checking the token") from None
    except (urllib.error.URLError, OSError) as e:
        raise CliError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None
    except ValueError:
        raise CliError(f"{url} did not answer like a unigate gateway") from None
    data = body.get("data") if isinstance(body, dict) else None
    return len(data) if isinstance(data, list) else 0


def _token_cmd(args: argparse.Namespace) -> int:
    token, _ = resolve_token(args.token, gateway_url(args.url))
    print(token)  # the only place a token is ever printed: helpers read it from here
    return 0


def _login_cmd(args: argparse.Namespace) -> int:
    url = gateway_url(args.url)
    token, _ = resolve_token(args.token, url)
    count = verify(url, token)
    path = save_token(url, token)
    print(f"logged in to {url} ({count} endpoint(s) visible to this token); token kept in {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    auth = sub.add_parser("auth", help="the token coding agents use")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True)
    for name, fn, help in (("login", _login_cmd, "check a token against the gateway and keep it"),
                           ("token", _token_cmd, "print the token (for apiKeyHelper and the like)")):
        p = auth_sub.add_parser(name, help=help)
        p.add_argument("--url", help=f"gateway URL (default $UNIGATE_URL or {DEFAULT_URL})")
        p.add_argument("--token", help="the token (default $UNIGATE_TOKEN, then the kept one)")
        p.set_defaults(func=guarded(fn))
