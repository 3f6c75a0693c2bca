"""Admin API for providers and endpoints (with destinations, fallbacks, rate limits and payload
logging), and `POST /api/v1/apply` behind `unigate apply`.

Specs are stored in the configuration file's entry shape and validated by the same parser
(`unigate.config.parse_config`), so whatever the API accepts the workers can load. Provider
api_keys are write-only. Every change is one transaction that bumps the configuration version
(the workers reload within a second) followed by an audit record without secrets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from unigate.config import ConfigError, has_line_break, parse_config
from unigate.errors import InvalidRequest, NotFound
from unigate.governance.budgets.plan import budget_changes
from unigate.governance.budgets.spec import BudgetSpecError, parse_budgets
from unigate.governance.plan import hide_secrets, make_plan, spec_diff
from unigate.governance.price_plan import label, price_changes, spec_key
from unigate.guardrails.spec import DEFAULT_WINDOW
from unigate.providers.secret_refs import api_refusal
from unigate.server.admin.common import (
    PREFIX,
    Caller,
    Conflict,
    admin_route,
    audit,
    field,
    json_response,
    read_json,
)
from unigate.server.http import Request, Response, Router
from unigate.store import budgets as budget_db
from unigate.store.base import Duplicate, Store
from unigate.store.config_store import (
    Statement,
    delete_endpoint_statements,
    delete_mcp_service_statements,
    delete_price,
    delete_provider_statements,
    endpoint_spec,
    get_spec_row,
    insert,
    keep_hidden_headers,
    list_rows,
    load_price_specs,
    load_specs,
    mcp_service_spec,
    provider_spec,
    update,
    upsert,
    upsert_price,
)

READ_ONLY = ("created_at", "updated_at", "api_key_set")  # shown by reads, ignored on writes


# --- validation ------------------------------------------------------------------------------

def refuse_env_refs(value: Any, path: str = "") -> None:
    """`${VAR}` is resolved by the parser from the environment, which is right for the file
    (read by the operator) and wrong for the API: it would let a caller read the gateway's
    environment (its admin token, provider keys) through a model name. Secret references
    (`env:NAME`, `file:/path`) likewise, unless settings.secret_refs allows them."""
    if isinstance(value, str) and "${" in value:
        raise InvalidRequest(f"{path or 'value'}: environment references (${{...}}) are only "
                             "resolved in the configuration file; send the value itself",
                             param=path or None)
    refused = api_refusal(value)  # env:NAME / file:/path: only what the file's policy allows
    if refused:
        raise InvalidRequest(f"{path or 'value'}: {refused}", param=path or None)
    if isinstance(value, dict):
        for k, v in value.items():
            refuse_env_refs(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            refuse_env_refs(v, f"{path}[{i}]")


_ENTRY = re.compile(r"^(?P<entry>(?:providers|endpoints|mcp_services|prices)\[\d+\])(?: \([^)]*\))?")
_REST = re.compile(r"^(?P<path>(?:\.[A-Za-z_]+|\[\d+\])*): (?:(?P<key>[a-z_]+): )?(?P<msg>.*)$", re.S)
_UNKNOWN = re.compile(r"^unknown field '([^']*)'")


def config_invalid(err: ConfigError, source: str, keep_entry: bool) -> InvalidRequest:
    """A parser error as a 400 naming the field: `destinations[0].provider` for one entry,
    `endpoints[2].destinations[0].provider` (keep_entry) for a whole configuration."""
    text = str(err).removeprefix(f"{source}: ")
    entry = _ENTRY.match(text)
    rest = text[entry.end():] if entry else ""
    m = _REST.match(rest) if entry else None
    if not entry or not m:
        return InvalidRequest(text)
    key = m.group("key") or ""
    unknown = _UNKNOWN.match(m.group("msg"))
    if unknown and not key:
        key = unknown.group(1)
    parts = [entry.group("entry")] if keep_entry else []
    parts += [p for p in (m.group("path").lstrip("."), key) if p]
    name = ".".join(parts).replace(".[", "[")
    message = f"{name}: {m.group('msg')}" if name else m.group("msg")
    if keep_entry:
        message = f"{text[:entry.end()]}: " + message.removeprefix(entry.group("entry") + ".")
    return InvalidRequest(message, param=name or None)


def writable(body: dict[str, Any]) -> dict[str, Any]:
    refuse_env_refs(body)
    return {k: v for k, v in body.items() if k not in READ_ONLY}


def check_name(body: dict[str, Any], name: str) -> None:
    if body.get("name", name) != name:
        raise InvalidRequest(f"name: the body names '{body.get('name')}' but the path names "
                             f"'{name}' (renaming is not supported)", param="name")


def refuse_bad_headers(spec: Any, where: str = "headers") -> None:
    """A provider's headers go on every upstream request: through the API each value is a JSON
    string (the file's parser also takes YAML numbers and dates), without line breaks."""
    headers = spec.get("headers") if isinstance(spec, dict) else None
    if not isinstance(headers, dict):
        return  # absent, or not a mapping: the parser says so
    for name, value in headers.items():
        if not isinstance(value, str) or has_line_break(name + value):
            raise InvalidRequest(f"{where}.{name}: must be a string without line breaks", param=f"{where}.{name}")


def valid_provider(spec: dict[str, Any]) -> dict[str, Any]:
    refuse_bad_headers(spec)
    try:
        cfg = parse_config({"providers": [spec]}, "request")
    except ConfigError as e:
        raise config_invalid(e, "request", keep_entry=False) from None
    return provider_spec(next(iter(cfg.providers.values())))


def valid_endpoint(store: Store, spec: dict[str, Any]) -> dict[str, Any]:
    """Checked against the stored providers; returned normalised (as the workers load it)."""
    providers, _ = load_specs(store)
    try:
        cfg = parse_config({"providers": providers, "endpoints": [spec]}, "request")
    except ConfigError as e:
        raise config_invalid(e, "request", keep_entry=False) from None
    return endpoint_spec(next(iter(cfg.endpoints.values())))


# --- store access (synchronous; handlers call these in a thread) ------------------------------

def get_row(store: Store, table: str, name: str) -> dict[str, Any]:
    row = get_spec_row(store, table, name)
    if row is None:
        raise NotFound(f"no {table[:-1]} named '{name}'")
    return row


def stored(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in READ_ONLY}


def public(row: dict[str, Any]) -> dict[str, Any]:
    """What reads return: secrets hidden (providers say `api_key_set` instead)."""
    return hide_secrets(row) if "type" in row else row


def users_of(store: Store, provider: str) -> list[str]:
    _, endpoints = load_specs(store)
    return [e["name"] for e in endpoints
            if any(d.get("provider") == provider for d in e.get("destinations", []) + e.get("fallbacks", []))]


async def run(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def write(caller: Caller, statements: list[Statement], action: str, target: str,
                details: dict[str, Any] | None = None) -> None:
    try:
        await run(caller.state.store.transaction, statements, True)
    except Duplicate:
        raise Conflict(f"{action.split('.')[0]} '{target}' already exists") from None
    await run(audit, caller.state, caller, action, target, details)


# --- providers (admins only) -------------------------------------------------------------------

@admin_route
async def list_providers(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    rows = await run(list_rows, caller.state.store, "providers")
    return json_response({"providers": [public(r) for r in rows]})


@admin_route
async def get_provider(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    return json_response(public(await run(get_row, caller.state.store, "providers",
                                          request.match_info["name"])))


@admin_route
async def create_provider(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = writable(await read_json(request))
    field(body, "name", str)
    spec = valid_provider(body)
    await write(caller, [insert("providers", spec)], "provider.create", spec["name"],
                {"spec": hide_secrets(spec)})
    return json_response(public(await run(get_row, caller.state.store, "providers", spec["name"])), 201)


@admin_route
async def put_provider(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    body = writable(await read_json(request))
    check_name(body, name)
    old = stored(await run(get_row, caller.state.store, "providers", name))
    body["name"] = name
    if body.get("api_key") is None and old.get("api_key"):  # write-only: absent keeps it; "" clears
        body["api_key"] = old["api_key"]
    keep_hidden_headers(body, old)
    spec = valid_provider(body)
    diff = spec_diff(old, spec)
    if diff:
        await write(caller, [update("providers", spec)], "provider.update", name, {"diff": diff})
    return json_response(public(await run(get_row, caller.state.store, "providers", name)))


@admin_route
async def delete_provider(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    store = caller.state.store
    await run(get_row, store, "providers", name)
    users = await run(users_of, store, name)
    if users:
        raise Conflict(f"provider '{name}' is used by endpoint(s) {', '.join(users)}: "
                       "change or delete them first")
    await write(caller, delete_provider_statements(name), "provider.delete", name)
    return json_response({"deleted": name})


# --- endpoints (create/delete: admins; read/update: admins and the endpoint's managers) --------

@admin_route
async def list_endpoints(request: Request, caller: Caller) -> Response:
    rows = await run(list_rows, caller.state.store, "endpoints")
    if not caller.is_admin:
        rows = [r for r in rows if caller.state.can_manage(caller.principal, r["name"])]
    return json_response({"endpoints": rows})


@admin_route
async def get_endpoint(request: Request, caller: Caller) -> Response:
    name = request.match_info["name"]
    caller.require_manage(name)
    return json_response(await run(get_row, caller.state.store, "endpoints", name))


@admin_route
async def create_endpoint(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = writable(await read_json(request))
    field(body, "name", str)
    spec = await run(valid_endpoint, caller.state.store, body)
    await write(caller, [insert("endpoints", spec)], "endpoint.create", spec["name"], {"spec": spec})
    return json_response(await run(get_row, caller.state.store, "endpoints", spec["name"]), 201)


async def replace_endpoint(caller: Caller, name: str, new: dict[str, Any], action: str) -> dict[str, Any]:
    """Validate `new` (the whole spec), store it if it differs, audit the field-level diff."""
    store = caller.state.store
    old = stored(await run(get_row, store, "endpoints", name))
    new["name"] = name
    spec = await run(valid_endpoint, store, new)
    diff = spec_diff(old, spec)
    if diff:
        await write(caller, [update("endpoints", spec)], action, name, {"diff": diff})
    row: dict[str, Any] = await run(get_row, store, "endpoints", name)
    return row


async def endpoint_for_update(request: Request, caller: Caller) -> tuple[str, dict[str, Any]]:
    name = request.match_info["name"]
    caller.require_manage(name)
    return name, stored(await run(get_row, caller.state.store, "endpoints", name))


@admin_route
async def put_endpoint(request: Request, caller: Caller) -> Response:
    name, _ = await endpoint_for_update(request, caller)
    body = writable(await read_json(request))
    check_name(body, name)
    return json_response(await replace_endpoint(caller, name, body, "endpoint.update"))


@admin_route
async def patch_endpoint(request: Request, caller: Caller) -> Response:
    """JSON merge patch (RFC 7386) at the top level: given fields replace, null removes."""
    name, old = await endpoint_for_update(request, caller)
    body = writable(await read_json(request))
    check_name(body, name)
    new = {k: v for k, v in {**old, **body}.items() if v is not None}
    return json_response(await replace_endpoint(caller, name, new, "endpoint.update"))


@admin_route
async def delete_endpoint_route(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    name = request.match_info["name"]
    await run(get_row, caller.state.store, "endpoints", name)
    await write(caller, delete_endpoint_statements(name), "endpoint.delete", name)
    return json_response({"deleted": name})


@admin_route
async def get_rate_limits(request: Request, caller: Caller) -> Response:
    _, spec = await endpoint_for_update(request, caller)
    return json_response({"rate_limits": spec.get("rate_limits", [])})


@admin_route
async def put_rate_limits(request: Request, caller: Caller) -> Response:
    name, spec = await endpoint_for_update(request, caller)
    body = writable(await read_json(request))
    limits = field(body, "rate_limits", list)
    spec = await replace_endpoint(caller, name, {**spec, "rate_limits": limits}, "endpoint.rate_limits")
    return json_response({"rate_limits": spec.get("rate_limits", [])})


_GUARDRAIL_FIELDS = ("guardrails", "guardrail_response", "guardrail_window")


def _guardrails_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {"guardrails": spec.get("guardrails", []), "guardrail_response": spec.get("guardrail_response", "error"),
            "guardrail_window": spec.get("guardrail_window", DEFAULT_WINDOW)}


@admin_route
async def get_guardrails(request: Request, caller: Caller) -> Response:
    _, spec = await endpoint_for_update(request, caller)
    return json_response(_guardrails_of(spec))


@admin_route
async def put_guardrails(request: Request, caller: Caller) -> Response:
    """Replace the endpoint's guardrails (and, when given, how blocks answer and the stream window)."""
    name, spec = await endpoint_for_update(request, caller)
    body = writable(await read_json(request))
    unknown = set(body) - set(_GUARDRAIL_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field '{sorted(unknown)[0]}' (expected {', '.join(_GUARDRAIL_FIELDS)})",
                             param=sorted(unknown)[0])
    new = {**spec, "guardrails": field(body, "guardrails", list)}
    for key in _GUARDRAIL_FIELDS[1:]:
        if key in body:
            new[key] = body[key]
    if not new["guardrails"]:
        for key in _GUARDRAIL_FIELDS:
            new.pop(key, None)
    spec = await replace_endpoint(caller, name, new, "endpoint.guardrails")
    return json_response(_guardrails_of(spec))


@admin_route
async def get_inference_table(request: Request, caller: Caller) -> Response:
    _, spec = await endpoint_for_update(request, caller)
    return json_response({"enabled": False, **spec.get("inference_table", {})})


@admin_route
async def put_inference_table(request: Request, caller: Caller) -> Response:
    name, spec = await endpoint_for_update(request, caller)
    body = writable(await read_json(request))
    table: dict[str, Any] = {"enabled": field(body, "enabled", bool)}
    days = field(body, "retention_days", int, required=False)
    if days is not None:
        table["retention_days"] = days
    unknown = set(body) - {"enabled", "retention_days"}
    if unknown:
        raise InvalidRequest(f"unknown field '{sorted(unknown)[0]}' (expected enabled, retention_days)",
                             param=sorted(unknown)[0])
    spec = await replace_endpoint(caller, name, {**spec, "inference_table": table},
                                  "endpoint.inference_table")
    return json_response({"enabled": False, **spec.get("inference_table", {})})


# --- apply (admins only) -------------------------------------------------------------------------

_DELETE = {"endpoint": delete_endpoint_statements, "provider": delete_provider_statements,
           "mcp_service": delete_mcp_service_statements}


def apply_config(store: Store, providers: list[Any], endpoints: list[Any], prune: bool,
                 dry_run: bool, expect_plan: str | None,
                 services: list[Any] | None = None, stdio_ok: bool = False,
                 prices: list[Any] | None = None,
                 budgets: list[Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Validate the file's entries against what the result would be, plan, and (unless a dry
    run) write the plan in one transaction. Synchronous: run in a thread. `prices` None leaves
    the operator's prices alone; a list is planned like providers (pruned with `prune`); so are
    `budgets`."""
    have_p, have_e = load_specs(store)
    have_s = list_rows(store, "mcp_services")
    for row in have_s:
        row.pop("created_at", None)
        row.pop("updated_at", None)
    for i, spec in enumerate(providers):
        refuse_bad_headers(spec, f"providers[{i}].headers")
    named = {p.get("name") for p in providers if isinstance(p, dict)}
    kept = [] if prune else [p for p in have_p if p["name"] not in named]
    services = services or []
    try:
        cfg = parse_config({"providers": providers + kept, "endpoints": endpoints,
                            "mcp_services": services, "prices": prices or []}, "request")
    except ConfigError as e:
        raise config_invalid(e, "request", keep_entry=True) from None
    new_p = [provider_spec(p) for p in cfg.providers.values()][:len(providers)]
    new_e = [endpoint_spec(e) for e in cfg.endpoints.values()]
    new_s = [mcp_service_spec(m) for m in cfg.mcp_services.values()]
    plan = make_plan(new_p, new_e, have_p, have_e, prune, new_s, have_s)
    new_prices = {label(e.spec()): e for e in cfg.prices}
    stored_prices = load_price_specs(store) if prices is not None else []
    have_prices = {label(s): spec_key(s) for s in stored_prices}
    if prices is not None:
        plan.changes += price_changes([e.spec() for e in cfg.prices], stored_prices, prune)
    new_b: dict[str, dict[str, Any]] = {}
    if budgets is not None:
        try:
            new_b = {b.name: b.to_spec() for b in parse_budgets(budgets, "budgets")}
        except BudgetSpecError as e:
            raise InvalidRequest(f"{e.field}: {e.message}", param=e.field) from None
        plan.changes += budget_changes(list(new_b.values()), budget_db.load_budget_specs(store), prune)
    stdio = {s["name"] for s in new_s if "command" in s}
    changed = [c.name for c in plan.changes if c.kind == "mcp_service" and c.action != "delete" and c.name in stdio]
    if changed and not stdio_ok:
        raise InvalidRequest(f"mcp_services ({changed[0]}): a stdio MCP service runs a command on the gateway's "
                             "host, so it is created and changed in the file the gateway serves; set "
                             "settings.mcp_stdio_from_api there to allow it through apply", param="mcp_services")
    if expect_plan and expect_plan != plan.plan_id():
        raise Conflict("the stored configuration changed since the plan was made: run apply again")
    if dry_run or plan.empty:
        return plan.to_json(), False
    specs = ({("provider", s["name"]): s for s in new_p} | {("endpoint", s["name"]): s for s in new_e}
             | {("mcp_service", s["name"]): s for s in new_s})
    statements: list[Statement] = []
    for c in plan.changes:
        if c.kind == "price":
            statements.append(upsert_price(new_prices[c.name]) if c.action != "delete"
                              else delete_price(have_prices[c.name]))
        elif c.kind == "budget":
            statements += ([budget_db.upsert_budget(new_b[c.name])] if c.action != "delete"
                           else budget_db.delete_budget_statements(c.name))
        elif c.action == "delete":
            statements += _DELETE[c.kind](c.name)
        else:
            statements.append(upsert(c.kind + "s", specs[(c.kind, c.name)]))
    store.transaction(statements, bump=True)
    return plan.to_json(), True


@admin_route
async def apply(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    refuse_env_refs(body)
    providers = field(body, "providers", list, required=False) or []
    endpoints = field(body, "endpoints", list, required=False) or []
    services = field(body, "mcp_services", list, required=False) or []
    prices = field(body, "prices", list, required=False)  # absent: the stored prices stay as they are
    budgets = field(body, "budgets", list, required=False)  # likewise the budgets
    prune = field(body, "prune", bool, required=False) or False
    dry_run = field(body, "dry_run", bool, required=False) or False
    expect = field(body, "expect_plan", str, required=False)
    plan, applied = await run(apply_config, caller.state.store, providers, endpoints, prune, dry_run,
                              expect, services, caller.state.file_config.mcp_stdio_from_api, prices, budgets)
    if applied:
        details = {"prune": prune, "summary": plan["summary"],
                   "changes": [{k: c[k] for k in ("kind", "name", "action", "diff") if k in c}
                               for c in plan["changes"]]}
        await run(audit, caller.state, caller, "config.apply", "configuration", details)
    return json_response({"plan": plan, "applied": applied})


# Endpoint names may hold "/" (as in "team-a/chat"); the pattern stops short of the
# sub-resources so `/endpoints/{name}/permissions` etc. still reach their own handlers.
SUBRESOURCES = ("permissions", "payloads", "rate-limits", "inference-table", "guardrails")
EP = f"{PREFIX}/endpoints/{{name:(?:(?!/(?:{'|'.join(SUBRESOURCES)})$).)+}}"


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/providers", list_providers)
    router.add_post(f"{PREFIX}/providers", create_provider)
    router.add_get(f"{PREFIX}/providers/{{name}}", get_provider)
    router.add_put(f"{PREFIX}/providers/{{name}}", put_provider)
    router.add_delete(f"{PREFIX}/providers/{{name}}", delete_provider)
    router.add_get(f"{PREFIX}/endpoints", list_endpoints)
    router.add_post(f"{PREFIX}/endpoints", create_endpoint)
    router.add_get(f"{EP}/rate-limits", get_rate_limits)
    router.add_put(f"{EP}/rate-limits", put_rate_limits)
    router.add_get(f"{EP}/inference-table", get_inference_table)
    router.add_put(f"{EP}/inference-table", put_inference_table)
    router.add_get(f"{EP}/guardrails", get_guardrails)
    router.add_put(f"{EP}/guardrails", put_guardrails)
    router.add_get(EP, get_endpoint)
    router.add_put(EP, put_endpoint)
    router.add_patch(EP, patch_endpoint)
    router.add_delete(EP, delete_endpoint_route)
    router.add_post(f"{PREFIX}/apply", apply)
