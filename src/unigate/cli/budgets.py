"""`unigate budgets list|get NAME|set FILE|delete NAME`: spend budgets of a running gateway, with
their current period's spend, over its admin API (administrators only).

    unigate budgets list
    unigate budgets set budgets.yaml     # one budget, a list, or a mapping with `budgets:` (a
                                         # whole unigate.yaml will do): each is created or replaced
    unigate budgets delete team-a-monthly

`set` validates the file here, `${VAR}` references resolved from this environment (webhook URLs
and headers), as in the configuration file; budgets the file does not name are left alone
(`unigate apply --prune` removes them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from unigate.cli.common import CliError, call, connection_parent, guarded, q, show, table
from unigate.config import ConfigError, parse_config

COLUMNS = ("name", "scope", "period", "limit_usd", "spent_usd", "remaining_usd", "percent_used", "block", "alerts")


def file_budgets(path: str) -> list[dict[str, Any]]:
    """The file's budgets, validated and in the stored shape."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise CliError(f"{path}: not valid YAML: {e}") from None
    if isinstance(raw, dict):
        raw = raw.get("budgets") if "name" not in raw else [raw]
    if not isinstance(raw, list) or not raw:
        raise CliError(f"{path}: must hold a budget, a list of budgets, or a mapping with a 'budgets' list")
    try:
        return [b.to_spec() for b in parse_config({"budgets": raw}, path).budgets]
    except ConfigError as e:
        raise CliError(str(e)) from None


def scope_text(b: dict[str, Any]) -> str:
    scope = b.get("scope")
    if not scope:
        return "everything"
    kind, value = next(iter(scope.items()))
    if kind == "tag":
        key, tag_value = next(iter(value.items()))
        return f"tag {key}={tag_value}"
    return f"{kind} {value}"


def budget_rows(d: dict[str, Any]) -> str:
    rows = [{**b, "scope": scope_text(b), "alerts": ", ".join(f"{a:g}%" for a in b.get("alerts", [])) or "-",
             "percent_used": f"{b['percent_used']:g}%" if b.get("percent_used") is not None else "-"}
            for b in d["budgets"]]
    return table(rows, COLUMNS)


def budget_text(b: dict[str, Any]) -> str:
    lines = [f"name:           {b['name']}", f"scope:          {scope_text(b)}",
             f"limit:          {b['limit_usd']:g} USD per {'day' if b['period'] == 'daily' else 'month'} (UTC)"
             + (", blocking" if b.get("block") else ", alerts only"),
             f"period:         {b['period_start']} to {b['period_end']}",
             f"spent:          {b['spent_usd']:.6f} USD ({b['percent_used']:g}%)" if b.get("percent_used") is not None
             else f"spent:          {b['spent_usd']:.6f} USD",
             f"in flight:      {b['reserved_usd']:.6f} USD reserved",
             f"remaining:      {b['remaining_usd']:.6f} USD"]
    alerts = ", ".join(f"{a:g}%" for a in b.get("alerts", [])) or "none"
    hook = b.get("webhook")
    url = hook.get("url") if isinstance(hook, dict) else hook
    lines.append(f"alerts:         {alerts}" + (f" -> {url}" if url else ""))
    for sent in b.get("alerts_sent", []):
        outcome = "delivered" if sent.get("delivered_at") else (sent.get("error") or "not delivered")
        lines.append(f"  reached {sent['threshold_percent']:g}% at {sent['spent_usd']:.6f} USD: {outcome}")
    return "\n".join(lines)


def budgets_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/budgets"), budget_rows)


def budgets_get(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", f"/budgets/{q(a.name)}"), budget_text)


def budgets_set(a: argparse.Namespace) -> None:
    done = [call(a, "PUT", f"/budgets/{q(spec['name'])}", spec) for spec in file_budgets(a.file)]
    show(a, {"budgets": done}, budget_rows)


def budgets_delete(a: argparse.Namespace) -> None:
    show(a, call(a, "DELETE", f"/budgets/{q(a.name)}"), lambda d: f"Deleted budget {d['deleted']}.")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = connection_parent()
    actions = sub.add_parser("budgets", help="spend budgets (USD per day or month)") \
        .add_subparsers(dest="action", required=True)
    for name, fn, help, arg in (
            ("list", budgets_list, "list budgets with their current period's spend", None),
            ("get", budgets_get, "show a budget, its spend and the alerts of its period", "name"),
            ("set", budgets_set, "create or replace the budgets of a YAML or JSON file", "file"),
            ("delete", budgets_delete, "delete a budget", "name")):
        leaf = actions.add_parser(name, parents=[c], help=help)
        if arg == "name":
            leaf.add_argument("name")
        elif arg == "file":
            leaf.add_argument("file", help="one budget, a list of them, or a mapping with a 'budgets' list")
        leaf.set_defaults(func=guarded(fn))
