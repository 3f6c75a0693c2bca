"""GET /api/v1/usage (rows, JSON or CSV) and GET /api/v1/usage/aggregate (groups).

Admins see every row; an endpoint manager sees only the rows of the endpoints they manage
(asking for another endpoint by name is a 403, not an empty answer); any other signed-in
principal sees only its own requests (asking for another requester is a 403)."""

from __future__ import annotations

import asyncio

from unigate.errors import InvalidRequest, PermissionDenied
from unigate.server.admin.common import PREFIX, Caller, json_response, self_service_route
from unigate.server.http import AnyResponse, Request, Response, Router
from unigate.store.usage_query import (
    AGGREGATE_COLUMNS,
    BUCKETED_COLUMNS,
    COLUMNS,
    UsageFilter,
    aggregate_usage,
    parse_usage_filter,
    query_usage,
    to_csv,
)


def _filter_for(request: Request, caller: Caller) -> UsageFilter:
    f = parse_usage_filter(request.query, request.query.getall("tag", []))
    if not (caller.is_admin or caller.state.manages_any(caller.principal)):
        return _own_rows(f, caller)
    if f.endpoint is not None:
        caller.require_manage(f.endpoint)  # admins pass; managers only for their endpoints
    elif not caller.is_admin:
        f.visible_endpoints = frozenset(_managed_endpoints(caller))
    return f


def _own_rows(f: UsageFilter, caller: Caller) -> UsageFilter:
    """A caller with no admin right: its own requests only, on any endpoint."""
    if f.requester is not None and f.requester != caller.name:
        raise PermissionDenied("without an admin or manager right only your own usage is visible")
    f.requester, f.requester_type = caller.name, caller.principal.type
    return f


def _managed_endpoints(caller: Caller) -> list[str]:
    managed: list[str] = []
    for name in list(caller.state.endpoints):
        try:
            caller.require_manage(name)
        except PermissionDenied:
            continue
        managed.append(name)
    return managed


def _wants_csv(request: Request) -> bool:
    fmt = request.query.get("format")
    if fmt is None:
        return "text/csv" in request.headers.get("Accept", "")
    if fmt not in ("json", "csv"):
        raise InvalidRequest(f"'format' must be json or csv, got {fmt!r}", param="format")
    return fmt == "csv"


def _csv_response(text: str, filename: str) -> Response:
    return Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@self_service_route
async def list_usage(request: Request, caller: Caller) -> AnyResponse:
    f = _filter_for(request, caller)
    csv_out = _wants_csv(request)
    rows = await asyncio.to_thread(query_usage, caller.state.store, f)
    if csv_out:
        return _csv_response(await asyncio.to_thread(to_csv, rows, COLUMNS), "usage.csv")
    return json_response({"rows": rows, "limit": f.limit, "offset": f.offset})


@self_service_route
async def aggregate(request: Request, caller: Caller) -> AnyResponse:
    group_by = request.query.get("group_by")
    if not group_by:
        raise InvalidRequest("'group_by' is required: all, endpoint, requester, group, tag, minute, hour, day, "
                             "model, ...", param="group_by")
    f = _filter_for(request, caller)
    csv_out = _wants_csv(request)
    tag_key = request.query.get("tag_key") or None
    bucket = request.query.get("bucket")  # given empty: refused as any other unknown bucket
    groups = await asyncio.to_thread(aggregate_usage, caller.state.store, f, group_by, tag_key, bucket)
    if csv_out:
        text = to_csv(groups, BUCKETED_COLUMNS if bucket else AGGREGATE_COLUMNS)
        per = f"-per-{bucket}" if bucket else ""
        return _csv_response(text, f"usage-by-{group_by}{per}.csv")
    body = {"group_by": group_by, "groups": groups}
    if bucket:
        body["bucket"] = bucket
    return json_response(body)


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/usage", list_usage)
    router.add_get(f"{PREFIX}/usage/aggregate", aggregate)
