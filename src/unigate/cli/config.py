"""`unigate apply -f unigate.yaml`, `unigate endpoints ...` and `unigate providers ...`: the
configuration part of the admin API from the command line.

`apply` reads and validates the file here (so `${VAR}` references resolve from the operator's
environment, as they would at `unigate serve`), asks the gateway for the plan, shows it, asks
for confirmation unless --yes, then applies exactly that plan (the server refuses with 409 if
the stored configuration changed in between)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from unigate.cli.common import CliError, call, connection_parent, guarded, q, show, table
from unigate.config import UNSUPPORTED_PARAMETERS, ConfigError, load_config
from unigate.governance.plan import render_plan
from unigate.store.config_store import endpoint_spec, mcp_service_spec, provider_spec

# --- apply -----------------------------------------------------------------------------------

Specs = list[dict[str, Any]]


def file_specs(path: str) -> tuple[Specs, Specs, Specs, Specs, Specs]:
    """The file's providers, endpoints, MCP services, prices and budgets, in the stored shape."""
    try:
        cfg = load_config(path)
    except ConfigError as e:
        raise CliError(str(e)) from None
    return ([provider_spec(p) for p in cfg.providers.values()],
            [endpoint_spec(e) for e in cfg.endpoints.values()],
            [mcp_service_spec(m) for m in cfg.mcp_services.values()],
            [e.spec() for e in cfg.prices],
            [b.to_spec() for b in cfg.budgets])


def confirm(prompt: str) -> bool:
    """y/yes applies; anything else, or no input at all (a closed stdin), does not."""
    print(prompt, end="", flush=True)
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


def apply_cmd(a: argparse.Namespace) -> int:
    providers, endpoints, services, prices, budgets = file_specs(a.file)
    body = {"providers": providers, "endpoints": endpoints, "mcp_services": services, "prices": prices,
            "budgets": budgets, "prune": a.prune, "dry_run": True}
    planned = call(a, "POST", "/apply", body)
    plan = planned["plan"]
    if not a.json:
        print(render_plan(plan))
    if a.dry_run or not plan["changes"]:
        if a.json:
            print(json.dumps(planned, indent=2))
        return 0
    if not a.yes and not confirm("Apply these changes? [y/N] "):
        print("Not applied.", file=sys.stderr)
        return 1
    done = call(a, "POST", "/apply", {**body, "dry_run": False, "expect_plan": plan["plan_id"]})
    if a.json:
        print(json.dumps(done, indent=2))
    else:
        s = done["plan"]["summary"]
        print(f"Applied: {s['create']} created, {s['update']} updated, {s['delete']} deleted.")
    return 0


# --- endpoints and providers -------------------------------------------------------------------

def dest_text(dests: list[dict[str, Any]]) -> str:
    parts = [f"{d['provider']}/{d['model']}" + (f" ({d['traffic_percentage']}%)"
             if "traffic_percentage" in d and len(dests) > 1 else "") for d in dests]
    return ", ".join(parts) or "-"


def limit_text(lim: dict[str, Any]) -> str:
    amount = f"{lim['requests']} requests" if "requests" in lim else f"{lim.get('tokens')} tokens"
    who = f" {lim['principal']}" if lim.get("principal") else ""
    return f"{lim['key']}{who}: {amount}/{lim['renewal_period']}"


def endpoint_rows(endpoints: list[dict[str, Any]]) -> str:
    rows = [{"name": e["name"], "destinations": dest_text(e.get("destinations", [])),
             "fallbacks": dest_text(e.get("fallbacks", [])), "rate_limits": len(e.get("rate_limits", [])),
             "payloads": "on" if e.get("inference_table", {}).get("enabled") else "off",
             "updated_at": e.get("updated_at")} for e in endpoints]
    return table(rows, ("name", "destinations", "fallbacks", "rate_limits", "payloads", "updated_at"))


def endpoint_text(e: dict[str, Any]) -> str:
    lines = [f"name:          {e['name']}", f"destinations:  {dest_text(e.get('destinations', []))}",
             f"fallbacks:     {dest_text(e.get('fallbacks', []))}"]
    for key in ("timeout", "first_token_timeout"):
        if e.get(key):
            lines.append(f"{key + ':':<15}{e[key]}")
    table_cfg = e.get("inference_table") or {}
    days = f", retention {table_cfg['retention_days']} days" if table_cfg.get("retention_days") else ""
    lines.append(f"payloads:      {'on' if table_cfg.get('enabled') else 'off'}{days}")
    lines.append("rate limits:   " + ("; ".join(limit_text(x) for x in e.get("rate_limits", [])) or "none"))
    lines.append(f"unsupported parameters: {e.get('unsupported_parameters', 'refuse')}")
    return "\n".join(lines)


def endpoints_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/endpoints"), lambda d: endpoint_rows(d["endpoints"]))


def endpoints_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/endpoints/{q(a.name)}"), endpoint_text)


def endpoints_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/endpoints/{q(a.name)}"), lambda d: f"Deleted endpoint {d['deleted']}.")


def endpoints_rate_limits(a: argparse.Namespace) -> None:
    """Show the limits, or replace them with --set '[{...}]' (a JSON list) or --clear."""
    path = f"/endpoints/{q(a.name)}/rate-limits"
    if a.set is not None or a.clear:
        try:
            limits = [] if a.clear else json.loads(a.set)
        except json.JSONDecodeError as e:
            raise CliError(f"--set: not valid JSON: {e}") from None
        data = call(a, "PUT", path, {"rate_limits": limits})
    else:
        data = call(a, "GET", path)
    show(a, data, lambda d: "\n".join(limit_text(x) for x in d["rate_limits"]) or "(no rate limits)")


def guardrail_text(g: dict[str, Any]) -> str:
    extra = {k: v for k, v in g.items() if k not in ("name", "type", "phase", "action", "mode")}
    return (f"{g['name']}: {g['type']} on {g['phase']}, {g.get('action', 'block')}"
            f"{' (log only)' if g.get('mode') == 'log' else ''}" + (f" {json.dumps(extra)}" if extra else ""))


def endpoints_guardrails(a: argparse.Namespace) -> None:
    """Show the guardrails, or replace them with --set FILE (a YAML or JSON list) or --clear."""
    path = f"/endpoints/{q(a.name)}/guardrails"
    if a.set is not None or a.clear:
        rails: Any = []
        if a.set is not None:
            try:
                with open(a.set) as f:
                    rails = yaml.safe_load(f)
            except (OSError, yaml.YAMLError) as e:
                raise CliError(f"--set: cannot read {a.set}: {e}") from None
        body: dict[str, Any] = {"guardrails": rails.get("guardrails", []) if isinstance(rails, dict) else rails}
        if isinstance(rails, dict):
            body.update({k: rails[k] for k in ("guardrail_response", "guardrail_window") if k in rails})
        data = call(a, "PUT", path, body)
    else:
        data = call(a, "GET", path)
    show(a, data, lambda d: "\n".join(guardrail_text(g) for g in d["guardrails"]) or "(no guardrails)")


def endpoints_inference_table(a: argparse.Namespace) -> None:
    """Show payload logging, or change it with --enable/--disable [--retention-days N]."""
    path = f"/endpoints/{q(a.name)}/inference-table"
    if a.enable or a.disable or a.retention_days is not None:
        current = call(a, "GET", path)
        table_ = {k: v for k, v in current.items() if k in ("enabled", "retention_days")}
        if a.enable or a.disable:
            table_["enabled"] = bool(a.enable)
        if a.retention_days is not None:
            table_["retention_days"] = a.retention_days
        data = call(a, "PUT", path, table_)
    else:
        data = call(a, "GET", path)
    show(a, data, lambda d: json.dumps(d, indent=2))


def endpoints_parameters(a: argparse.Namespace) -> None:
    """Show the endpoint's parameter policy, or change it with --unsupported refuse|drop."""
    path = f"/endpoints/{q(a.name)}"
    data = call(a, "PATCH", path, {"unsupported_parameters": a.unsupported}) if a.unsupported \
        else call(a, "GET", path)
    policy = data.get("unsupported_parameters", "refuse")
    meaning = {"refuse": "refused with a 400", "drop": "dropped and reported"}[policy]
    show(a, {"name": data["name"], "unsupported_parameters": policy},
         lambda d: f"{d['name']}: unsupported_parameters={policy}: semantic parameters the provider "
                   f"lacks are {meaning} (advisory ones are always dropped, emulated ones applied)")


def provider_rows(providers: list[dict[str, Any]]) -> str:
    rows = [{**p, "api_key": "set" if p.get("api_key_set") else "-"} for p in providers]
    return table(rows, ("name", "type", "base_url", "api_key", "updated_at"))


def provider_text(p: dict[str, Any]) -> str:
    lines = [f"{k + ':':<20}{v}" for k, v in p.items() if k not in ("api_key_set", "created_at", "updated_at")]
    lines.append(f"{'api_key:':<20}{'(set)' if p.get('api_key_set') else '(not set)'}")
    return "\n".join(lines)


def providers_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/providers"), lambda d: provider_rows(d["providers"]))


def providers_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/providers/{q(a.name)}"), provider_text)


# --- argument parsing ------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = connection_parent()
    p = sub.add_parser("apply", parents=[c], help="apply a configuration file to a running gateway",
                       description="Creates and updates the file's providers, endpoints, MCP services, "
                                   "prices and budgets (and with --prune deletes the others), after showing "
                                   "the plan.")
    p.add_argument("-f", "--file", required=True, help="configuration file (YAML)")
    p.add_argument("--prune", action="store_true",
                   help="delete providers, endpoints, MCP services, prices and budgets the file does not name")
    p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument("--dry-run", action="store_true", help="show the plan only")
    p.set_defaults(func=guarded(apply_cmd))

    eps = sub.add_parser("endpoints", help="serving endpoints").add_subparsers(dest="action", required=True)
    for name, fn, help in (("list", endpoints_list, "list endpoints"), ("get", endpoints_get, "show an endpoint"),
                           ("delete", endpoints_delete, "delete an endpoint")):
        leaf = eps.add_parser(name, parents=[c], help=help)
        if name != "list":
            leaf.add_argument("name")
        leaf.set_defaults(func=guarded(fn))

    limits = eps.add_parser("rate-limits", parents=[c], help="show or replace an endpoint's rate limits")
    limits.add_argument("name")
    limits.add_argument("--set", help='a JSON list, e.g. \'[{"key": "user_default", "requests": 60, '
                                      '"renewal_period": "minute"}]\'')
    limits.add_argument("--clear", action="store_true", help="remove every limit")
    limits.set_defaults(func=guarded(endpoints_rate_limits))
    rails = eps.add_parser("guardrails", parents=[c], help="show or replace an endpoint's guardrails")
    rails.add_argument("name")
    rails.add_argument("--set", metavar="FILE", help="a YAML (or JSON) file: a list of guardrails, or a mapping "
                                                    "with guardrails, guardrail_response and guardrail_window")
    rails.add_argument("--clear", action="store_true", help="remove every guardrail")
    rails.set_defaults(func=guarded(endpoints_guardrails))
    tables = eps.add_parser("inference-table", parents=[c], help="show or change payload logging")
    tables.add_argument("name")
    on_off = tables.add_mutually_exclusive_group()
    on_off.add_argument("--enable", action="store_true")
    on_off.add_argument("--disable", action="store_true")
    tables.add_argument("--retention-days", type=int)
    tables.set_defaults(func=guarded(endpoints_inference_table))
    params = eps.add_parser("parameters", parents=[c],
                            help="show or set what happens to parameters a translated provider lacks")
    params.add_argument("name")
    params.add_argument("--unsupported", choices=UNSUPPORTED_PARAMETERS,
                        help="refuse (400, the default) or drop (and report) semantic parameters")
    params.set_defaults(func=guarded(endpoints_parameters))

    provs = sub.add_parser("providers", help="upstream providers").add_subparsers(dest="action", required=True)
    for name, fn, help in (("list", providers_list, "list providers"), ("get", providers_get, "show a provider")):
        leaf = provs.add_parser(name, parents=[c], help=help)
        if name != "list":
            leaf.add_argument("name")
        leaf.set_defaults(func=guarded(fn))
