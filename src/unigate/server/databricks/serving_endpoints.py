"""Databricks' serving-endpoints management API, as a thin translation onto unigate's own
providers and endpoints (validated, stored and audited by the admin API's functions):

    POST   /api/2.0/serving-endpoints                    create (administrators)
    GET    /api/2.0/serving-endpoints                    list (what the caller may query)
    GET    /api/2.0/serving-endpoints/{name}             get (CAN_QUERY or CAN_MANAGE)
    PUT    /api/2.0/serving-endpoints/{name}/config      update the served entities and traffic (CAN_MANAGE;
                                                         changing providers or keys: administrators)
    PUT    /api/2.0/serving-endpoints/{name}/ai-gateway  rate limits, guardrails, payloads, fallbacks (CAN_MANAGE)
    PUT    /api/2.0/serving-endpoints/{name}/rate-limits the older rate limits: the same limits (CAN_MANAGE)
    PATCH  /api/2.0/serving-endpoints/{name}/tags        add and delete tags (CAN_MANAGE)
    PATCH  /api/2.0/serving-endpoints/{name}/notifications  email notifications, kept (CAN_MANAGE)
    GET    /api/2.0/serving-endpoints/{name}/openapi     the invocations route, described
    DELETE /api/2.0/serving-endpoints/{name}             delete, with the providers it made (administrators)

Metrics, logs, telemetry and provisioned throughput are answered 501 NOT_IMPLEMENTED (unserved).
Fields unigate keeps but does not act on (route_optimized, email_notifications, the inference
table's names, each entity's task, ...) are kept in the endpoint's `compat.databricks` so reads
give back what was written and Terraform plans no change.

Creating needs an administrator (Databricks lets any workspace user create one; unigate's rule
that only administrators create endpoints and providers holds). Every change is applied at
once, so `state` always reads READY / NOT_UPDATING and clients' waiters return at once."""

from __future__ import annotations

import asyncio
from typing import Any

from unigate.config import ConfigError, parse_config
from unigate.errors import GatewayError, InvalidRequest, NotFound, PermissionDenied
from unigate.governance.plan import hide_secrets, spec_diff
from unigate.server.admin.common import Caller, Conflict, json_response, read_json, record
from unigate.server.admin.config_api import (
    config_invalid,
    refuse_env_refs,
    replace_endpoint,
    stored,
    users_of,
    valid_provider,
)
from unigate.server.databricks.discovery import origin
from unigate.server.databricks.serving_gateway import (
    ai_gateway_view,
    apply_ai_gateway,
    entity_fallbacks,
    rate_limits_view,
)
from unigate.server.databricks.serving_mapping import (
    config_to_specs,
    current_entities,
    endpoint_view,
    kept,
    owned_providers,
    tags_view,
    with_kept,
)
from unigate.server.databricks.serving_route import AlreadyExists, databricks_route
from unigate.server.http import Request, Response, Router
from unigate.store.base import Duplicate, Store
from unigate.store.config_store import (
    Statement,
    delete_endpoint_statements,
    delete_provider_statements,
    endpoint_spec,
    get_spec_row,
    insert,
    list_rows,
    load_specs,
    update,
    upsert,
)

BASE = "/api/2.0/serving-endpoints"
_SUB = ("config", "ai-gateway", "openapi", "rate-limits", "tags", "notifications", "metrics", "telemetry-config",
        "served-models/[^/]+/logs", "served-models/[^/]+/build-logs")
NAME = f"{BASE}/{{name:(?:(?!/(?:{'|'.join(_SUB)})$).)+}}"  # names may hold "/", as in the admin API


class NotImplementedHere(GatewayError):
    """A Databricks route unigate does not serve (the SDK raises NotImplemented for it)."""

    status, code = 501, "not_implemented"


def _providers(store: Store) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in load_specs(store)[0]}


def _level(caller: Caller, name: str) -> str | None:
    if caller.state.can_manage(caller.principal, name):
        return "CAN_MANAGE"
    return "CAN_QUERY" if caller.state.can_query(caller.principal, name) else None


def _view(caller: Caller, row: dict[str, Any], providers: dict[str, dict[str, Any]], request: Request,
          detailed: bool = True) -> dict[str, Any]:
    return endpoint_view(row, providers, ai_gateway_view(row), detailed, _level(caller, row["name"]),
                         origin(request))


def _tags(raw: Any, where: str) -> dict[str, str]:
    """Databricks' `[{key, value?}]` as unigate's tags."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InvalidRequest(f"'{where}' must be a list of {{key, value}}", param=where)
    out: dict[str, str] = {}
    for i, tag in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str) or not tag["key"]:
            raise InvalidRequest(f"'{at}.key' must be a non-empty string", param=f"{at}.key")
        value = tag.get("value", "")
        if not isinstance(value, str):
            raise InvalidRequest(f"'{at}.value' must be a string", param=f"{at}.value")
        out[tag["key"]] = value
    return out


def _kept_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The create fields unigate keeps without acting on them, type-checked."""
    out: dict[str, Any] = {}
    for key, kind, what in (("route_optimized", bool, "true or false"), ("budget_policy_id", str, "a string"),
                            ("email_notifications", dict, "an object")):
        value = body.get(key)
        if value is not None and not isinstance(value, kind):
            raise InvalidRequest(f"'{key}' must be {what}", param=key)
        out[key] = value
    return out


async def _row(caller: Caller, name: str) -> dict[str, Any]:
    row = await asyncio.to_thread(get_spec_row, caller.state.store, "endpoints", name)
    if row is None:
        raise NotFound(f"serving endpoint '{name}' does not exist")
    return row


def _validate(store: Store, providers: list[dict[str, Any]], spec: dict[str, Any],
              skip: set[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The new providers and the endpoint, checked by unigate's own parser (as the admin API
    does) against the stored providers; returned normalised."""
    checked = [valid_provider(p) for p in providers]
    others = [p for p in load_specs(store)[0] if p["name"] not in {c["name"] for c in checked} | skip]
    try:
        cfg = parse_config({"providers": others + checked, "endpoints": [spec]}, "request")
    except ConfigError as e:
        raise config_invalid(e, "request", keep_entry=False) from None
    return checked, endpoint_spec(next(iter(cfg.endpoints.values())))


async def _write(caller: Caller, statements: list[Statement],
                 records: list[tuple[str, str, dict[str, Any] | None]]) -> None:
    """One transaction (the workers reload within a second), then one audit record per change."""
    try:
        await asyncio.to_thread(caller.state.store.transaction, statements, True)
    except Duplicate:
        raise AlreadyExists("the serving endpoint (or one of its providers) already exists") from None
    for action, target, details in records:
        await record(caller, action, target, details)


def _provider_changes(name: str, new: list[dict[str, Any]], have: dict[str, dict[str, Any]]
                      ) -> tuple[list[Statement], list[tuple[str, str, dict[str, Any] | None]]]:
    statements: list[Statement] = []
    records: list[tuple[str, str, dict[str, Any] | None]] = []
    for spec in new:
        old = have.get(spec["name"])
        if old is None:
            statements.append(upsert("providers", spec))
            records.append(("provider.create", spec["name"], {"spec": hide_secrets(spec)}))
        elif spec_diff(old, spec):
            statements.append(upsert("providers", spec))
            records.append(("provider.update", spec["name"], {"diff": spec_diff(old, spec)}))
    return statements, records


def _check_owned(store: Store, endpoint: str, providers: list[dict[str, Any]]) -> None:
    """A provider named `endpoint--entity` that another endpoint uses is not ours to replace."""
    for p in providers:
        users = [u for u in users_of(store, p["name"]) if u != endpoint]
        if users:
            raise Conflict(f"provider '{p['name']}' is already used by endpoint(s) {', '.join(users)}")


@databricks_route
async def create(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    body = await read_json(request)
    refuse_env_refs(body)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'name' is required (a string)", param="name")
    store = caller.state.store
    if await asyncio.to_thread(get_spec_row, store, "endpoints", name) is not None:
        raise AlreadyExists(f"serving endpoint '{name}' already exists")
    have = await asyncio.to_thread(_providers, store)
    providers, destinations, notes = config_to_specs(name, body.get("config"), have)
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidRequest("'description' must be a string", param="description")
    spec: dict[str, Any] = {"name": name, "destinations": destinations, "description": description or None,
                            "tags": _tags(body.get("tags"), "tags") or None}
    spec = with_kept({k: v for k, v in spec.items() if v is not None}, creator=caller.name, entities=notes,
                     **_kept_fields(body))
    gateway = body.get("ai_gateway")
    if gateway is not None and not isinstance(gateway, dict):
        raise InvalidRequest("'ai_gateway' must be an object", param="ai_gateway")
    if gateway is not None or body.get("rate_limits"):
        gateway = dict(gateway or {})
        legacy = body.get("rate_limits") is not None and gateway.get("rate_limits") is None
        if legacy:  # the older top-level field: the same limits, not read back as ai_gateway's
            gateway["rate_limits"] = body["rate_limits"]
        spec = apply_ai_gateway(spec, gateway, "ai_gateway")
        if legacy:
            spec = _legacy_limits(spec)
    await asyncio.to_thread(_check_owned, store, name, providers)
    providers, spec = await asyncio.to_thread(_validate, store, providers, spec, set())
    statements, records = _provider_changes(name, providers, have)
    await _write(caller, statements + [insert("endpoints", spec)],
                 records + [("endpoint.create", name, {"spec": spec})])
    return json_response(_view(caller, await _row(caller, name), await asyncio.to_thread(_providers, store),
                               request))


@databricks_route
async def list_endpoints(request: Request, caller: Caller) -> Response:
    store = caller.state.store
    rows = await asyncio.to_thread(list_rows, store, "endpoints")
    providers = await asyncio.to_thread(_providers, store)
    visible = [r for r in rows if caller.state.can_query(caller.principal, r["name"])]
    return json_response({"endpoints": [_view(caller, r, providers, request, detailed=False) for r in visible]})


async def _readable(request: Request, caller: Caller) -> dict[str, Any]:
    name = request.match_info["name"]
    row = await _row(caller, name)
    if not caller.state.can_query(caller.principal, name):
        raise PermissionDenied(f"this operation needs CAN_QUERY or CAN_MANAGE on serving endpoint '{name}'")
    return row


@databricks_route
async def get(request: Request, caller: Caller) -> Response:
    row = await _readable(request, caller)
    return json_response(_view(caller, row, await asyncio.to_thread(_providers, caller.state.store), request))


async def _managed(request: Request, caller: Caller) -> tuple[str, dict[str, Any]]:
    name = request.match_info["name"]
    row = await _row(caller, name)
    caller.require_manage(name)
    return name, row


@databricks_route
async def update_config(request: Request, caller: Caller) -> Response:
    """Replace the served entities and their traffic split. The endpoint's providers follow:
    new entities get providers, removed ones lose theirs (when nothing else uses them)."""
    name, row = await _managed(request, caller)
    body = await read_json(request)
    refuse_env_refs(body)
    store = caller.state.store
    have = await asyncio.to_thread(_providers, store)
    old = stored(row)
    providers, destinations, notes = config_to_specs(name, body, have, where="", current=current_entities(old))
    new = with_kept({**old, "destinations": destinations}, entities=notes)
    if old.get("fallbacks") and old["fallbacks"] == entity_fallbacks(old):  # Databricks' fallbacks follow
        new["fallbacks"] = entity_fallbacks(new)
    await asyncio.to_thread(_check_owned, store, name, providers)
    used = {d["provider"] for d in destinations}
    gone = [p for p in owned_providers(name, have) if p not in used
            and not [u for u in await asyncio.to_thread(users_of, store, p) if u != name]]
    providers, spec = await asyncio.to_thread(_validate, store, providers, new, set(gone))
    statements, records = _provider_changes(name, providers, have)
    if (statements or gone) and not caller.is_admin:
        raise PermissionDenied("changing the providers of served entities (new entities, keys, URLs) needs an "
                               "administrator; CAN_MANAGE may change the traffic split of existing ones")
    diff = spec_diff(old, spec)
    if diff:
        statements.append(update("endpoints", spec))
        records.append(("endpoint.update", name, {"diff": diff}))
    # the endpoint first, then the providers it no longer uses
    for p in gone:
        statements += delete_provider_statements(p)
        records.append(("provider.delete", p, None))
    if statements:
        await _write(caller, statements, records)
    return json_response(_view(caller, await _row(caller, name), await asyncio.to_thread(_providers, store),
                               request))


@databricks_route
async def put_ai_gateway(request: Request, caller: Caller) -> Response:
    name, row = await _managed(request, caller)
    body = await read_json(request)
    refuse_env_refs(body)
    old = stored(row)
    legacy = kept(old).get("legacy_rate_limits") and body.get("rate_limits") is None
    if legacy:  # limits set through the older API are its own: a PUT here without limits keeps them
        body = {**body, "rate_limits": rate_limits_view(old.get("rate_limits") or [])}
    new = apply_ai_gateway(old, body)
    if legacy:
        new = _legacy_limits(new)
    spec = await replace_endpoint(caller, name, new, "endpoint.ai_gateway")
    return json_response(ai_gateway_view(spec))


@databricks_route
async def put_rate_limits(request: Request, caller: Caller) -> Response:
    """The older `PUT .../rate-limits`: the same limits as ai-gateway's, the rest kept."""
    name, row = await _managed(request, caller)
    body = await read_json(request)
    old = stored(row)
    gateway = {**ai_gateway_view(old), "rate_limits": body.get("rate_limits")}
    new = _legacy_limits(with_kept(apply_ai_gateway(old, gateway), ai_gateway=kept(old).get("ai_gateway")))
    spec = await replace_endpoint(caller, name, new, "endpoint.rate_limits")
    return json_response({"rate_limits": rate_limits_view(spec.get("rate_limits") or [])})


@databricks_route
async def patch_tags(request: Request, caller: Caller) -> Response:
    name, row = await _managed(request, caller)
    body = await read_json(request)
    drop = body.get("delete_tags") or []
    if not isinstance(drop, list) or not all(isinstance(k, str) for k in drop):
        raise InvalidRequest("'delete_tags' must be a list of tag keys", param="delete_tags")
    old = stored(row)
    tags = {k: v for k, v in (old.get("tags") or {}).items() if k not in drop}
    tags.update(_tags(body.get("add_tags"), "add_tags"))
    new = {k: v for k, v in old.items() if k != "tags"}
    if tags:
        new["tags"] = tags
    spec = await replace_endpoint(caller, name, new, "endpoint.tags")
    return json_response({"tags": tags_view(spec)})


@databricks_route
async def patch_notifications(request: Request, caller: Caller) -> Response:
    name, row = await _managed(request, caller)
    body = await read_json(request)
    notes = body.get("email_notifications")
    if notes is not None and not isinstance(notes, dict):
        raise InvalidRequest("'email_notifications' must be an object", param="email_notifications")
    spec = await replace_endpoint(caller, name, with_kept(stored(row), email_notifications=notes or None),
                                  "endpoint.notifications")
    out: dict[str, Any] = {"name": name}
    if kept(spec).get("email_notifications"):
        out["email_notifications"] = kept(spec)["email_notifications"]
    return json_response(out)


def _legacy_limits(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's limits marked as the older API's (its `rate_limits` field or route): Databricks
    does not read them back inside ai_gateway, and a PUT ai-gateway without limits keeps them."""
    blocks = [b for b in kept(spec).get("ai_gateway") or () if b != "rate_limits"]
    return with_kept(spec, legacy_rate_limits=True, ai_gateway=blocks or None)


def _unserved(what: str) -> Any:
    @databricks_route
    async def handler(request: Request, caller: Caller) -> Response:
        raise NotImplementedHere(f"{what} is not served by unigate (see docs/databricks.md, 'Not served')")
    return handler


@databricks_route
async def delete(request: Request, caller: Caller) -> Response:
    """Administrators only, as DELETE /api/v1/endpoints (Databricks: CAN_MANAGE)."""
    caller.require_admin()
    name = request.match_info["name"]
    await _row(caller, name)
    store = caller.state.store
    have = await asyncio.to_thread(_providers, store)
    gone = [p for p in owned_providers(name, have)
            if not [u for u in await asyncio.to_thread(users_of, store, p) if u != name]]
    statements = delete_endpoint_statements(name)
    records: list[tuple[str, str, dict[str, Any] | None]] = [("endpoint.delete", name, None)]
    for p in gone:
        statements += delete_provider_statements(p)
        records.append(("provider.delete", p, None))
    await _write(caller, statements, records)
    return json_response({})


@databricks_route
async def openapi(request: Request, caller: Caller) -> Response:
    """An OpenAPI document for the endpoint's invocations route (chat or embeddings, by task)."""
    row = await _readable(request, caller)
    view = _view(caller, row, await asyncio.to_thread(_providers, caller.state.store), request)
    host = request.headers.get("Host", "localhost")
    embeddings = view["task"] == "llm/v1/embeddings"
    schema = ({"type": "object", "required": ["input"], "properties": {"input": {}}} if embeddings else
              {"type": "object", "required": ["messages"], "properties": {"messages": {"type": "array"}}})
    doc = {"openapi": "3.1.0", "info": {"title": row["name"], "version": str(view["config"]["config_version"])},
           "servers": [{"url": f"http://{host}/serving-endpoints/{row['name']}"}],
           "paths": {"/invocations": {"post": {
               "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
               "responses": {"200": {"description": "the model's answer"}}}}}}
    return json_response(doc)


def add_routes(router: Router) -> None:
    for base in (BASE, BASE + "/"):  # mlflow's deployments client joins an empty route: a trailing /
        router.add_post(base, create)
        router.add_get(base, list_endpoints)
    router.add_post(f"{BASE}/pt", _unserved("provisioned throughput"))
    router.add_put(f"{BASE}/pt/{{name}}/config", _unserved("provisioned throughput"))
    router.add_put(f"{NAME}/config", update_config)
    router.add_put(f"{NAME}/ai-gateway", put_ai_gateway)
    router.add_put(f"{NAME}/rate-limits", put_rate_limits)
    router.add_patch(f"{NAME}/tags", patch_tags)
    router.add_patch(f"{NAME}/notifications", patch_notifications)
    router.add_get(f"{NAME}/metrics", _unserved("endpoint metrics (unigate's are at /metrics, Prometheus)"))
    router.add_patch(f"{NAME}/telemetry-config", _unserved("telemetry config (unigate exports OpenTelemetry)"))
    router.add_get(f"{NAME}/served-models/{{entity}}/logs", _unserved("served-model logs"))
    router.add_get(f"{NAME}/served-models/{{entity}}/build-logs", _unserved("served-model build logs"))
    router.add_get(f"{NAME}/openapi", openapi)
    router.add_get(NAME, get)
    router.add_delete(NAME, delete)

