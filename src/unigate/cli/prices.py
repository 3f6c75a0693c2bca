"""`unigate prices list` and `unigate prices set FILE`: the price catalogue of a running gateway
(shipped list prices and the operator's entries) over its admin API.

    unigate prices list --origin operator
    unigate prices set prices.yaml      # a `prices:` list (a whole unigate.yaml will do)

`set` replaces the operator's entries with the file's; `${VAR}` references resolve from this
environment, as in the configuration file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from unigate.cli.common import CliError, call, connection_parent, guarded, show, table
from unigate.config import ConfigError, parse_config

COLUMNS = ("origin", "provider", "type", "model", "input", "output", "cached_input", "cache_write")


def file_prices(path: str) -> list[dict[str, Any]]:
    """The `prices:` list of a YAML (or JSON) file, validated and in the stored shape. The file
    holds either that list or a mapping with a `prices` key (other keys are not read)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise CliError(f"{path}: not valid YAML: {e}") from None
    if isinstance(raw, dict):
        raw = raw.get("prices") or []
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise CliError(f"{path}: must hold a list of prices, or a mapping with a 'prices' list")
    try:
        return [e.spec() for e in parse_config({"prices": raw}, path).prices]
    except ConfigError as e:
        raise CliError(str(e)) from None


def price_rows(data: dict[str, Any], origin: str | None = None) -> str:
    rows = [p for p in data["prices"] if origin is None or p["origin"] == origin]
    for p in rows:
        if p.get("overridden"):
            p["origin"] = "shipped (overridden)"
    head = f"Shipped prices as of {data.get('as_of')} (USD per million tokens; verify them):"
    return head + "\n" + table(rows, COLUMNS)


def prices_list(a: argparse.Namespace) -> None:
    show(a, call(a, "GET", "/prices"), lambda d: price_rows(d, a.origin))


def prices_set(a: argparse.Namespace) -> None:
    done = call(a, "PUT", "/prices", {"prices": file_prices(a.file)})
    show(a, done, lambda d: f"{d['changed']} price(s) changed.\n" + price_rows(d, "operator"))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = connection_parent()
    prices = sub.add_parser("prices", help="the price catalogue (cost_usd of usage rows)")
    actions = prices.add_subparsers(dest="action", required=True)
    leaf = actions.add_parser("list", parents=[c], help="the effective prices: shipped and the operator's")
    leaf.add_argument("--origin", choices=("operator", "shipped"), help="only prices of this origin")
    leaf.set_defaults(func=guarded(prices_list))
    leaf = actions.add_parser("set", parents=[c], help="replace the operator's prices with a file's",
                              description="The file's `prices:` entries become the operator's whole list "
                                          "(administrators only); workers use them within a second.")
    leaf.add_argument("file", help="YAML or JSON: a list of prices, or a mapping with a 'prices' list")
    leaf.set_defaults(func=guarded(prices_set))
