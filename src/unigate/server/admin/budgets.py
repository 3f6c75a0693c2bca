"""Admin API for spend budgets (administrators only).

`/api/v1/budgets`: GET lists them, POST creates one; `/api/v1/budgets/{name}`: GET, PUT (replaces
it, or creates it: 201), DELETE. A budget's reads carry its current period's figures: spent_usd
(finished requests), reserved_usd (requests in flight), remaining_usd, percent_used,
period_start/period_end (UTC) and the alerts the period has had. Webhook header values are
write-only: reads show their names with "(hidden)", and a write that sends "(hidden)" back keeps
the stored value. Every change bumps the configuration version (every worker of every instance
applies it within a second) and is audit-logged."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from unigate.errors import InvalidRequest, NotFound
from unigate.governance.budgets.period import period_bounds
from unigate.governance.budgets.plan import budget_diff, public
from unigate.governance.budgets.spec import Budget, BudgetSpecError, parse_budget
from unigate.server.admin.common import PREFIX, Caller, admin_route, field, json_response, read_json
from unigate.server.admin.config_api import check_name, writable, write
from unigate.server.http import Request, Response, Router
from unigate.store import budgets as db
from unigate.store.config_store import HIDDEN

# what reads add to the spec: ignored when a write sends them back
STATUS_FIELDS = ("created_at", "updated_at", "spent_usd", "reserved_usd", "remaining_usd", "percent_used",
                 "period_start", "period_end", "resets_in_seconds", "alerts_sent")


def parse(body: dict[str, Any]) -> Budget:
    try:
        return parse_budget(body)
    except BudgetSpecError as e:
        raise InvalidRequest(f"{e.field}: {e.message}" if e.field else e.message, param=e.field or None) from None


def keep_hidden(body: dict[str, Any], old: dict[str, Any] | None) -> None:
    """A header sent back as reads show it ("(hidden)") keeps its stored value."""
    hook, old_hook = body.get("webhook"), (old or {}).get("webhook")
    if isinstance(hook, dict) and isinstance(hook.get("headers"), dict) and isinstance(old_hook, dict):
        stored = old_hook.get("headers") or {}
        for name, value in list(hook["headers"].items()):
            if value == HIDDEN and name in stored:
                hook["headers"][name] = stored[name]


def _spec_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in STATUS_FIELDS}


async def shown(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    """A stored budget with its current period's figures."""
    budget = parse(_spec_of(row))
    state = caller.state
    status = await state.budgets.status(budget)
    start, _ = period_bounds(budget.period, time.time())
    alerts = await asyncio.to_thread(db.period_alerts, state.store, budget.name, start)
    return {**public(row), **status, "alerts_sent": alerts}


async def _row(caller: Caller, name: str) -> dict[str, Any]:
    row = await asyncio.to_thread(db.get_budget_row, caller.state.store, name)
    if row is None:
        raise NotFound(f"no budget named '{name}'")
    return row


@admin_route
async def list_budgets(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    rows = await asyncio.to_thread(db.list_budget_rows, caller.state.store)
    return json_response({"budgets": [await shown(caller, r) for r in rows]})


@admin_route
async def get_budget(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    return json_response(await shown(caller, await _row(caller, request.match_info["name"])))


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in writable(body).items() if k not in STATUS_FIELDS}


@admin_route
async def create_budget(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = _writable(await read_json(request))
    field(body, "name", str)
    spec = parse(body).to_spec()
    await write(caller, [db.insert_budget(spec)], "budget.create", spec["name"], {"spec": public(spec)})
    return json_response(await shown(caller, await _row(caller, spec["name"])), 201)


@admin_route
async def put_budget(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    body = _writable(await read_json(request))
    check_name(body, name)
    body["name"] = name
    old_row = await asyncio.to_thread(db.get_budget_row, caller.state.store, name)
    old = _spec_of(old_row) if old_row is not None else None
    keep_hidden(body, old)
    spec = parse(body).to_spec()
    if old is None:
        await write(caller, [db.upsert_budget(spec)], "budget.create", name, {"spec": public(spec)})
        return json_response(await shown(caller, await _row(caller, name)), 201)
    changes = budget_diff(old, spec)
    if changes:
        await write(caller, [db.upsert_budget(spec)], "budget.update", name, {"diff": changes})
    return json_response(await shown(caller, await _row(caller, name)))


@admin_route
async def delete_budget(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    await _row(caller, name)
    await write(caller, db.delete_budget_statements(name), "budget.delete", name)
    return json_response({"deleted": name})


def add_routes(router: Router) -> None:
    base = f"{PREFIX}/budgets"
    router.add_get(base, list_budgets)
    router.add_post(base, create_budget)
    router.add_get(f"{base}/{{name}}", get_budget)
    router.add_put(f"{base}/{{name}}", put_budget)
    router.add_delete(f"{base}/{{name}}", delete_budget)
