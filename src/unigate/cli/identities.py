"""`unigate users|service-principals|groups|tokens|permissions|audit ...`: the identity part of the
admin API from the command line. Talks to a running gateway over HTTP (--url / UNIGATE_URL, token
from --token / UNIGATE_TOKEN), prints readable tables, or the raw JSON with --json."""

from __future__ import annotations

import argparse
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from unigate.cli.common import call, connection_parent, guarded, q, show, table, when

LEVEL_CHOICES = ("CAN_QUERY", "CAN_MANAGE")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
Command = Callable[[argparse.Namespace], Any]


def member_text(m: dict[str, str]) -> str:
    key, name = next(iter(m.items()))
    return {"user_name": "user:", "service_principal_name": "sp:", "group_name": "group:"}[key] + name


# --- commands --------------------------------------------------------------------------------

def users_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/users"), lambda d: table(d["users"], ("email", "display_name", "created_at")))


def users_create(a: argparse.Namespace) -> None:
    body = {"email": a.email, **({"display_name": a.display_name} if a.display_name else {})}
    show(a, call(a, "POST", "/users", body), lambda d: f"created user {d['email']}")


def users_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/users/{q(a.email)}"), lambda d: table([d], ("email", "display_name", "created_at")))


def users_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/users/{q(a.email)}"),
         lambda d: f"deleted user {d['deleted']} ({d['tokens_revoked']} token(s) revoked)")


SP_COLUMNS = ("application_id", "display_name", "created_at")


def sps_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/service-principals"), lambda d: table(d["service_principals"], SP_COLUMNS))


def sps_create(a: argparse.Namespace) -> None:
    show(a, call(a, "POST", "/service-principals", {"display_name": a.display_name}),
         lambda d: f"created service principal {d['display_name']}: application_id {d['application_id']}")


def sps_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/service-principals/{q(a.application_id)}"), lambda d: table([d], SP_COLUMNS))


def sps_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/service-principals/{q(a.application_id)}"),
         lambda d: f"deleted service principal {d['deleted']} ({d['tokens_revoked']} token(s) revoked)")


SECRET_COLUMNS = ("secret_id", "status", "create_time", "expire_time", "last_used_time")


def sp_secrets_create(a: argparse.Namespace) -> None:
    body = {"lifetime_seconds": a.lifetime} if a.lifetime else {}
    show(a, call(a, "POST", f"/service-principals/{q(a.application_id)}/secrets", body), lambda d: (
        f"secret {d['secret_id']} for {d['application_id']} (expires {when(d.get('expire_time'))}); "
        f"shown once, store it now:\nclient id:     {d['application_id']}\nclient secret: {d['secret']}"))


def sp_secrets_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/service-principals/{q(a.application_id)}/secrets"),
         lambda d: table(d["secrets"], SECRET_COLUMNS))


def sp_secrets_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/service-principals/{q(a.application_id)}/secrets/{q(a.secret_id)}"),
         lambda d: f"deleted secret {d['deleted']} ({d['tokens_revoked']} access token(s) revoked)")


def members_of(a: argparse.Namespace) -> list[dict[str, str]]:
    return ([{"user_name": u} for u in a.user] + [{"service_principal_name": s} for s in a.service_principal]
            + [{"group_name": g} for g in a.group])


def _group_rows(groups: list[dict[str, Any]]) -> str:
    rows = [{"name": g["name"], "members": ", ".join(member_text(m) for m in g["members"]) or None}
            for g in groups]
    return table(rows, ("name", "members"))


def groups_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/groups"), lambda d: _group_rows(d["groups"]))


def groups_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/groups/{q(a.name)}"), lambda d: _group_rows([d]))


def groups_create(a: argparse.Namespace) -> None:
    show(a, call(a, "POST", "/groups", {"name": a.name, "members": members_of(a)}), lambda d: _group_rows([d]))


def groups_add(a: argparse.Namespace) -> None:
    show(a, call(a, "PATCH", f"/groups/{q(a.name)}", {"add": members_of(a)}), lambda d: _group_rows([d]))


def groups_remove(a: argparse.Namespace) -> None:
    show(a, call(a, "PATCH", f"/groups/{q(a.name)}", {"remove": members_of(a)}), lambda d: _group_rows([d]))


def groups_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/groups/{q(a.name)}"), lambda d: f"deleted group {d['deleted']}")


def duration(text: str) -> float:
    """Seconds, or with a unit: 90s, 30m, 12h, 90d."""
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (like 3600, 30m, 12h, 90d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def tokens_create(a: argparse.Namespace) -> None:
    body: dict[str, Any] = {"principal": a.principal}
    if a.lifetime:
        body["lifetime_seconds"] = a.lifetime
    if a.comment:
        body["comment"] = a.comment
    show(a, call(a, "POST", "/tokens", body), lambda d: (
        f"token {d['token_id']} for {d['principal']} (expires {when(d.get('expires_at'))}); "
        f"shown once, store it now:\n{d['token']}"))


TOKEN_COLUMNS = ("token_id", "principal", "comment", "created_at", "expires_at", "last_used_at")


def tokens_list(a: argparse.Namespace) -> None:
    params = {k: v for k, v in (("principal", a.principal), ("include_revoked", "true" if a.all else None)) if v}
    path = "/tokens" + ("?" + urllib.parse.urlencode(params) if params else "")
    cols = TOKEN_COLUMNS + (("revoked_at",) if a.all else ())
    show(a, call(a, "GET", path), lambda d: table(d["tokens"], cols))


def tokens_revoke(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/tokens/{q(a.token_id)}"), lambda d: f"revoked token {d['token_id']}")


def _acl_rows(d: dict[str, Any]) -> str:
    rows = [{"principal": member_text({k: v for k, v in e.items() if k.endswith("_name")}),
             "permission_level": e["permission_level"]} for e in d["access_control_list"]]
    return table(rows, ("principal", "permission_level")) if rows else "no grants (only administrators)"


def permissions_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/endpoints/{q(a.endpoint)}/permissions"), _acl_rows)


def acl_entry(text: str) -> dict[str, str]:
    """user:EMAIL=LEVEL | sp:APPLICATION_ID=LEVEL | group:NAME=LEVEL"""
    who, sep, level = text.rpartition("=")
    kind, colon, name = who.partition(":")
    key = {"user": "user_name", "sp": "service_principal_name", "service_principal": "service_principal_name",
           "group": "group_name"}.get(kind)
    if not (sep and colon and key and name) or level.upper() not in LEVEL_CHOICES:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected user:EMAIL=LEVEL, sp:APPLICATION_ID=LEVEL or group:NAME=LEVEL "
            f"with LEVEL one of {', '.join(LEVEL_CHOICES)}")
    return {key: name, "permission_level": level.upper()}


def permissions_set(a: argparse.Namespace) -> None:
    method = "PATCH" if a.add else "PUT"
    show(a, call(a, method, f"/endpoints/{q(a.endpoint)}/permissions", {"access_control_list": a.grant}),
         _acl_rows)


def permissions_clear(a: argparse.Namespace) -> None:
    show(a, call(a, "PUT", f"/endpoints/{q(a.endpoint)}/permissions", {"access_control_list": []}), _acl_rows)


def audit_list(a: argparse.Namespace) -> None:
    params = {k: v for k, v in (("limit", str(a.limit)), ("actor", a.actor), ("action", a.action)) if v}
    show(a, call(a, "GET", "/audit?" + urllib.parse.urlencode(params)), lambda d: table(
        [{**e, "details": json.dumps(e["details"]) if e["details"] else None} for e in d["entries"]],
        ("event_time", "actor", "action", "target", "details")))


# --- argument parsing ------------------------------------------------------------------------

def _leaf(group: argparse._SubParsersAction, name: str, fn: Command, help: str,
          common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = group.add_parser(name, help=help, parents=[common])
    p.set_defaults(func=guarded(fn))
    return p


def _member_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", action="append", default=[], metavar="EMAIL")
    p.add_argument("--service-principal", action="append", default=[], metavar="APPLICATION_ID")
    p.add_argument("--group", action="append", default=[], metavar="NAME")


def register(sub: argparse._SubParsersAction) -> None:
    c = connection_parent()
    users = sub.add_parser("users", help="users (by email)").add_subparsers(dest="action", required=True)
    _leaf(users, "list", users_list, "list users", c)
    p = _leaf(users, "create", users_create, "create a user", c)
    p.add_argument("email")
    p.add_argument("--display-name")
    _leaf(users, "get", users_get, "show a user", c).add_argument("email")
    _leaf(users, "delete", users_delete, "delete a user (revokes its tokens)", c).add_argument("email")

    sps = sub.add_parser("service-principals", help="service principals (by application id)") \
        .add_subparsers(dest="action", required=True)
    _leaf(sps, "list", sps_list, "list service principals", c)
    _leaf(sps, "create", sps_create, "create a service principal", c).add_argument("display_name")
    _leaf(sps, "get", sps_get, "show a service principal", c).add_argument("application_id")
    _leaf(sps, "delete", sps_delete, "delete a service principal (revokes its tokens)", c) \
        .add_argument("application_id")
    secrets = sps.add_parser("secrets", help="OAuth M2M client secrets (client id = application id)") \
        .add_subparsers(dest="secrets_action", required=True)
    p = _leaf(secrets, "create", sp_secrets_create, "create a secret (shown once)", c)
    p.add_argument("application_id")
    p.add_argument("--lifetime", type=duration, help="how long it is valid: seconds, or 30m, 12h, 90d")
    _leaf(secrets, "list", sp_secrets_list, "list secrets (never the secrets themselves)", c) \
        .add_argument("application_id")
    p = _leaf(secrets, "delete", sp_secrets_delete, "delete a secret (revokes its access tokens)", c)
    p.add_argument("application_id")
    p.add_argument("secret_id")

    groups = sub.add_parser("groups", help="groups of users, service principals and groups") \
        .add_subparsers(dest="action", required=True)
    _leaf(groups, "list", groups_list, "list groups and their members", c)
    _leaf(groups, "get", groups_get, "show a group", c).add_argument("name")
    for name, fn, help in (("create", groups_create, "create a group"), ("add", groups_add, "add members"),
                           ("remove", groups_remove, "remove members")):
        p = _leaf(groups, name, fn, help, c)
        p.add_argument("name")
        _member_options(p)
    _leaf(groups, "delete", groups_delete, "delete a group", c).add_argument("name")

    tokens = sub.add_parser("tokens", help="personal access tokens").add_subparsers(dest="action", required=True)
    p = _leaf(tokens, "create", tokens_create, "create a token (shown once)", c)
    p.add_argument("principal", help="a user's email or a service principal's application id")
    p.add_argument("--lifetime", type=duration, help="how long it is valid: seconds, or 30m, 12h, 90d")
    p.add_argument("--comment")
    p = _leaf(tokens, "list", tokens_list, "list tokens (never the tokens themselves)", c)
    p.add_argument("--principal")
    p.add_argument("--all", action="store_true", help="include revoked tokens")
    _leaf(tokens, "revoke", tokens_revoke, "revoke a token", c).add_argument("token_id")

    perms = sub.add_parser("permissions", help="who may query or manage an endpoint") \
        .add_subparsers(dest="action", required=True)
    _leaf(perms, "get", permissions_get, "show an endpoint's grants", c).add_argument("endpoint")
    p = _leaf(perms, "set", permissions_set, "replace an endpoint's grants (or --add to them)", c)
    p.add_argument("endpoint")
    p.add_argument("grant", nargs="+", type=acl_entry,
                   help="user:EMAIL=LEVEL, sp:APPLICATION_ID=LEVEL or group:NAME=LEVEL (CAN_QUERY, CAN_MANAGE)")
    p.add_argument("--add", action="store_true", help="add or update these grants, keep the others")
    _leaf(perms, "clear", permissions_clear, "remove every grant (only admins may then use it)", c) \
        .add_argument("endpoint")

    p = _leaf(sub, "audit", audit_list, "the audit log of admin changes (newest first)", c)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--actor")
    p.add_argument("--action", help="an action, or a prefix ending in '.' (token.)")
