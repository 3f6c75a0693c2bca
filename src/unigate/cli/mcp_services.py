"""`unigate mcp-services ...`: MCP services registered in the gateway and who may use them.

Services are usually declared in the configuration file (`mcp_services:`) and applied with
`unigate apply`; these commands read them, add one from the command line, delete one, and
set the CAN_USE grants (for every tool, or `=tool1,tool2` for some)."""

from __future__ import annotations

import argparse
from typing import Any

from unigate.cli.common import call, connection_parent, guarded, q, show, table
from unigate.cli.identities import member_text


def service_rows(d: dict[str, Any]) -> str:
    rows = [{**s, "headers": ", ".join(s.get("headers") or {}) or "-"} for s in d["mcp_services"]]
    return table(rows, ("name", "url", "headers", "description", "updated_at")) if rows else "no MCP services"


def service_text(s: dict[str, Any]) -> str:
    return "\n".join(f"{k + ':':<18}{v}" for k, v in s.items())


def grant_rows(d: dict[str, Any]) -> str:
    rows = [{"principal": member_text({k: v for k, v in e.items() if k.endswith("_name")}),
             "tools": ", ".join(e["tools"]) if e.get("tools") else "(every tool)"}
            for e in d["access_control_list"]]
    return table(rows, ("principal", "tools")) if rows else "no grants (only administrators)"


def grant_entry(text: str) -> dict[str, Any]:
    """user:EMAIL | sp:APPLICATION_ID | group:NAME, optionally =TOOL,TOOL"""
    who, sep, tools = text.partition("=")
    kind, colon, name = who.partition(":")
    key = {"user": "user_name", "sp": "service_principal_name", "service_principal": "service_principal_name",
           "group": "group_name"}.get(kind)
    names = [t.strip() for t in tools.split(",") if t.strip()]
    if not (colon and key and name) or (sep and not names):
        raise argparse.ArgumentTypeError(
            f"'{text}': expected user:EMAIL, sp:APPLICATION_ID or group:NAME, optionally =TOOL,TOOL")
    entry: dict[str, Any] = {key: name, "permission_level": "CAN_USE"}
    if names:
        entry["tools"] = names
    return entry


def header_entry(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"'{text}': expected NAME=VALUE")
    return name.strip(), value


def services_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/mcp-services"), service_rows)


def services_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/mcp-services/{q(a.name)}"), service_text)


def services_create(a: argparse.Namespace) -> None:
    body: dict[str, Any] = {"name": a.name, "url": a.server_url}
    if a.header:
        body["headers"] = dict(a.header)
    if a.description:
        body["description"] = a.description
    show(a, call(a, "POST", "/mcp-services", body), service_text)


def services_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/mcp-services/{q(a.name)}"), lambda d: f"Deleted MCP service {d['deleted']}.")


def grants_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/mcp-services/{q(a.name)}/permissions"), grant_rows)


def grants_set(a: argparse.Namespace) -> None:
    show(a, call(a, "PATCH" if a.add else "PUT", f"/mcp-services/{q(a.name)}/permissions",
                 {"access_control_list": a.grant}), grant_rows)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = connection_parent()
    svc = sub.add_parser("mcp-services", help="MCP services governed by the gateway") \
        .add_subparsers(dest="action", required=True)
    leaves = {}
    for name, fn, help, named in (
            ("list", services_list, "list MCP services", False),
            ("get", services_get, "show an MCP service (header values hidden)", True),
            ("create", services_create, "register a streamable HTTP MCP server", True),
            ("delete", services_delete, "delete an MCP service and its grants", True),
            ("grants", grants_get, "show who may use an MCP service", True),
            ("grant", grants_set, "replace (or --add to) the CAN_USE grants", True)):
        leaf = leaves[name] = svc.add_parser(name, parents=[c], help=help)
        if named:
            leaf.add_argument("name")
        leaf.set_defaults(func=guarded(fn))
    create = leaves["create"]
    create.add_argument("server_url", help="the streamable HTTP URL of the MCP server")
    create.add_argument("--header", action="append", type=header_entry, help="NAME=VALUE sent to the server")
    create.add_argument("--description")
    grant = leaves["grant"]
    grant.add_argument("grant", nargs="+", type=grant_entry,
                       help="user:EMAIL, sp:APPLICATION_ID or group:NAME, optionally =TOOL,TOOL")
    grant.add_argument("--add", action="store_true", help="add or update these grants, keep the others")
