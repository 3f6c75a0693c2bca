"""Budgets in the store: their specs (table `budgets`, the entry shape of unigate.governance.
budgets.spec), the spend a period has had so far (sums of the usage table's cost_usd, which
seed the counters), and the alerts claimed (table `budget_alerts`). Synchronous, as the rest
of the store: called at start, from background tasks through a thread, and from admin handlers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from unigate.governance.budgets.spec import Budget
from unigate.store.base import Store
from unigate.store.secrets_at_rest import spec_json, spec_of

Statement = tuple[str, tuple[Any, ...]]
_IN_CHUNK = 500  # requester names per IN (...) list


def load_budget_specs(store: Store) -> list[dict[str, Any]]:
    return [spec_of("budgets", r[0]) for r in store.execute("SELECT spec FROM budgets ORDER BY name")]


def list_budget_rows(store: Store) -> list[dict[str, Any]]:
    rows = store.execute("SELECT spec, created_at, updated_at FROM budgets ORDER BY name")
    return [{**spec_of("budgets", s), "created_at": c, "updated_at": u} for s, c, u in rows]


def get_budget_row(store: Store, name: str) -> dict[str, Any] | None:
    rows = store.execute("SELECT spec, created_at, updated_at FROM budgets WHERE name = ?", (name,))
    if not rows:
        return None
    return {**spec_of("budgets", rows[0][0]), "created_at": rows[0][1], "updated_at": rows[0][2]}


def insert_budget(spec: dict[str, Any]) -> Statement:
    now = time.time()
    return ("INSERT INTO budgets (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (spec["name"], spec_json("budgets", spec), now, now))


def upsert_budget(spec: dict[str, Any], only_if_changed: bool = False) -> Statement:
    now = time.time()
    return ("INSERT INTO budgets (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at"
            + (" WHERE budgets.spec != excluded.spec" if only_if_changed else ""),
            (spec["name"], spec_json("budgets", spec), now, now))


def delete_budget_statements(name: str) -> list[Statement]:
    # its alerts go with it: a later budget of the same name alerts afresh
    return [("DELETE FROM budgets WHERE name = ?", (name,)),
            ("DELETE FROM budget_alerts WHERE budget = ?", (name,))]


# --- spend ------------------------------------------------------------------------------------

def period_spend(store: Store, budget: Budget, start: float, end: float,
                 members: Sequence[str] = ()) -> float:
    """USD the usage table holds for `budget`'s scope in [start, end): what its counters start
    from. `members`: for a group scope, the names of every user and service principal in it
    (nesting followed)."""
    where = "event_time >= ? AND event_time < ? AND cost_usd IS NOT NULL"
    args: list[Any] = [start, end]
    if budget.scope == "endpoint":
        return _sum(store, where + " AND endpoint_name = ?", [*args, budget.target])
    if budget.scope == "principal":
        return _sum(store, where + " AND requester = ?", [*args, budget.target])
    if budget.scope == "tag":
        tags = store.TAGS_OF.format("request_tags")
        return _sum(store, where + f" AND EXISTS (SELECT 1 FROM {tags} WHERE key = ? AND value = ?)",
                    [*args, budget.target, budget.tag_value])
    if budget.scope == "group":
        total = 0.0
        names = sorted(set(members))
        for at in range(0, len(names), _IN_CHUNK):
            chunk = names[at:at + _IN_CHUNK]
            total += _sum(store, where + f" AND requester IN ({', '.join('?' for _ in chunk)})", [*args, *chunk])
        return total
    return _sum(store, where, args)


def _sum(store: Store, where: str, args: list[Any]) -> float:
    rows = store.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE {where}", args)
    return float(rows[0][0] or 0.0)


# --- alerts -----------------------------------------------------------------------------------

def claim_alert(store: Store, budget: str, period_start: int, threshold: float, limit_usd: float,
                spent_usd: float) -> bool:
    """True for the one caller that records this alert first (any worker, any instance)."""
    rows = store.execute(
        "INSERT INTO budget_alerts (budget, period_start, threshold, limit_usd, spent_usd, claimed_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING budget",
        (budget, period_start, threshold, limit_usd, spent_usd, time.time()))
    return bool(rows)


def alert_delivered(store: Store, budget: str, period_start: int, threshold: float, limit_usd: float,
                    delivered: bool, error: str | None, attempts: int) -> None:
    store.execute("UPDATE budget_alerts SET delivered_at = ?, attempts = ?, error = ? WHERE budget = ? "
                  "AND period_start = ? AND threshold = ? AND limit_usd = ?",
                  (time.time() if delivered else None, attempts, error, budget, period_start, threshold,
                   limit_usd))


def period_alerts(store: Store, budget: str, period_start: int) -> list[dict[str, Any]]:
    rows = store.execute("SELECT threshold, limit_usd, spent_usd, claimed_at, delivered_at, attempts, error "
                         "FROM budget_alerts WHERE budget = ? AND period_start = ? ORDER BY claimed_at",
                         (budget, period_start))
    keys = ("threshold_percent", "limit_usd", "spent_usd", "at", "delivered_at", "attempts", "error")
    return [dict(zip(keys, r, strict=True)) for r in rows]
