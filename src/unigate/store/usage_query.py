"""Reading the usage table: filters (time range, endpoint, requester, tags, status), rows and
aggregates (requests, token and cost sums by endpoint, requester, group, tag, hour or day).

Parameters arrive as query strings; `parse_usage_filter` checks them and raises
`InvalidRequest` naming the parameter, so the API and the CLI share one set of rules."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from unigate.errors import InvalidRequest
from unigate.store.base import Store

COLUMNS: tuple[str, ...] = Store.USAGE_COLUMNS
DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000
GROUP_BY = ("endpoint", "requester", "group", "tag", "hour", "day", "status", "model", "client", "session",
            "mcp_service", "mcp_tool")
_BOOL_COLUMNS = ("streaming", "usage_estimated")
_JSON_COLUMNS = ("request_tags", "routing_information", "dropped_parameters", "emulated_parameters",
                 "guardrails")
_TOKEN_COLUMNS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
                  "cache_creation_input_tokens", "reasoning_tokens")
# What each grouping groups on, as SQL over the usage table `u` (tag joins the tags `t`);
# the time buckets are the store's own expressions.
_GROUP_SQL = {
    "endpoint": "u.endpoint_name",
    "requester": "u.requester",
    "tag": "t.key || '=' || t.value",
    "group": "m.group_name",
    "status": "u.status_code",
    "model": "u.destination_model",
    "client": "u.client_name",
    "session": "u.session_id",
    "mcp_service": "u.mcp_service",
    "mcp_tool": "u.mcp_service || '/' || u.mcp_tool",
}


@dataclass(slots=True)
class UsageFilter:
    start: float | None = None  # unix seconds, inclusive
    end: float | None = None  # unix seconds, exclusive
    endpoint: str | None = None
    requester: str | None = None
    tags: list[tuple[str, str | None]] = field(default_factory=list)  # (key, value or None = any)
    status: int | None = None
    client: str | None = None  # client_name, e.g. claude-code
    session: str | None = None  # session_id
    mcp_service: str | None = None  # tool calls on this registered MCP service
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    # None: every endpoint (admins); otherwise only rows of these endpoints (managers).
    visible_endpoints: frozenset[str] | None = None


def parse_time(value: str, name: str) -> float:
    """Unix seconds ("1718000000", "1718000000.5") or ISO 8601 ("2024-06-10", "2024-06-10T08:00:00Z",
    with an offset or without: then UTC)."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{name}' must be unix seconds or an ISO 8601 time such as "
                             f"2024-06-10T08:00:00Z, got {value!r}", param=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def int_param(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an integer, got {raw!r}", param=name) from None
    if not lo <= value <= hi:
        raise InvalidRequest(f"'{name}' must be between {lo} and {hi}, got {value}", param=name)
    return value


def parse_tag(raw: str) -> tuple[str, str | None]:
    """"team=search" matches rows tagged team=search; "team" matches rows with any team tag."""
    key, sep, value = raw.partition("=")
    if not key:
        raise InvalidRequest(f"'tag' must look like key=value (or key), got {raw!r}", param="tag")
    return key, value if sep else None


def parse_usage_filter(params: Mapping[str, str], tags: Sequence[str] = ()) -> UsageFilter:
    """Query parameters → a filter. `tags` are all values of the repeatable `tag` parameter."""
    f = UsageFilter()
    if params.get("start"):
        f.start = parse_time(params["start"], "start")
    if params.get("end"):
        f.end = parse_time(params["end"], "end")
    if f.start is not None and f.end is not None and f.end < f.start:
        raise InvalidRequest("'end' must not be before 'start'", param="end")
    f.endpoint = params.get("endpoint") or None
    f.requester = params.get("requester") or None
    f.client = params.get("client") or None
    f.session = params.get("session") or None
    f.mcp_service = params.get("mcp_service") or None
    f.tags = [parse_tag(t) for t in tags if t]
    if params.get("status"):
        f.status = int_param(params, "status", 0, 100, 599)
    f.limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    f.offset = int_param(params, "offset", 0, 0, 10**12)
    return f


def _group_sql(store: Store, group_by: str) -> str:
    if group_by == "hour":
        return store.HOUR_OF.format("u.event_time")
    if group_by == "day":
        return store.DAY_OF.format("u.event_time")
    return _GROUP_SQL[group_by]


def _where(store: Store, f: UsageFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if f.start is not None:
        clauses.append("u.event_time >= ?")
        args.append(f.start)
    if f.end is not None:
        clauses.append("u.event_time < ?")
        args.append(f.end)
    for column, value in (("endpoint_name", f.endpoint), ("requester", f.requester), ("status_code", f.status),
                          ("client_name", f.client), ("session_id", f.session),
                          ("mcp_service", f.mcp_service)):
        if value is not None:
            clauses.append(f"u.{column} = ?")
            args.append(value)
    for key, value in f.tags:
        # The JSON object's own rows compare keys and values exactly, whatever characters they hold.
        tags = store.TAGS_OF.format("u.request_tags")
        if value is None:
            clauses.append(f"EXISTS (SELECT 1 FROM {tags} WHERE key = ?)")
            args.append(key)
        else:
            clauses.append(f"EXISTS (SELECT 1 FROM {tags} WHERE key = ? AND value = ?)")
            args.extend((key, value))
    if f.visible_endpoints is not None:
        names = sorted(f.visible_endpoints)
        if not names:
            clauses.append("1 = 0")
        else:
            clauses.append(f"u.endpoint_name IN ({', '.join('?' for _ in names)})")
            args.extend(names)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def query_usage(store: Store, f: UsageFilter) -> list[dict[str, Any]]:
    """Matching rows, newest first, with JSON columns decoded and flags as booleans."""
    where, args = _where(store, f)
    cols = ", ".join(f"u.{c}" for c in COLUMNS)
    sql = (f"SELECT {cols} FROM usage u{where} ORDER BY u.event_time DESC, u.request_id "
           "LIMIT ? OFFSET ?")
    rows = store.execute(sql, [*args, f.limit, f.offset])
    return [_row_dict(r) for r in rows]


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    for name in _BOOL_COLUMNS:
        if out[name] is not None:
            out[name] = bool(out[name])
    for name in _JSON_COLUMNS:
        if out[name]:
            try:
                out[name] = orjson.loads(out[name])
            except orjson.JSONDecodeError:
                pass  # keep the text rather than lose the row
    return out


def aggregate_usage(store: Store, f: UsageFilter, group_by: str,
                    tag_key: str | None = None) -> list[dict[str, Any]]:
    """Requests, token and cost sums per group, largest first (time groups in time order). With
    group_by=tag a request counts once for each of its tags (`tag_key` keeps one tag name); with
    group_by=group once for each group its requester is in (at query time, nesting followed)."""
    if group_by not in GROUP_BY:
        raise InvalidRequest(f"'group_by' must be one of {', '.join(GROUP_BY)}, got {group_by!r}",
                             param="group_by")
    where, args = _where(store, f)
    key_sql = _group_sql(store, group_by)
    source = "usage u"
    if group_by == "tag":
        source = f"usage u JOIN {store.TAGS_OF.format('u.request_tags')} t ON TRUE"
        if tag_key:
            where += (" AND " if where else " WHERE ") + "t.key = ?"
            args.append(tag_key)
    with_ = ""
    if group_by == "group":
        # a request counts once in each group its requester is in now (nested groups followed)
        with_ = _GROUP_CLOSURE
        source = "usage u JOIN closure m ON m.member_type = u.requester_type AND m.member = u.requester"
    sums = ", ".join(f"COALESCE(SUM(u.{c}), 0)" for c in _TOKEN_COLUMNS)
    order = "g" if group_by in ("hour", "day") else "requests DESC, g"
    sql = (f"{with_}SELECT {key_sql} AS g, COUNT(*) AS requests, "
           "SUM(CASE WHEN u.status_code >= 400 THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN u.usage_estimated <> 0 THEN 1 ELSE 0 END), "
           f"{sums}, COALESCE(SUM(u.cost_usd), 0), "
           "SUM(CASE WHEN u.cost_usd IS NULL AND u.total_tokens > 0 THEN 1 ELSE 0 END) "
           f"FROM {source}{where} GROUP BY g ORDER BY {order} LIMIT ? OFFSET ?")
    rows = store.execute(sql, [*args, f.limit, f.offset])
    groups: list[dict[str, Any]] = []
    tokens = len(_TOKEN_COLUMNS)
    for r in rows:
        group: dict[str, Any] = {"key": r[0], group_by: r[0], "requests": r[1], "errors": r[2] or 0,
                                 "estimated": r[3] or 0}
        group.update(zip(_TOKEN_COLUMNS, r[4:4 + tokens], strict=True))
        group["cost_usd"] = round(float(r[4 + tokens]), COST_DIGITS)
        group["unpriced"] = r[5 + tokens] or 0  # requests with tokens but no known price
        groups.append(group)
    return groups


COST_DIGITS = 10  # sums of float costs, rounded past any price's precision
# Every group a principal is in, nested groups followed: group_members(group_name, member_type,
# member) says the member is in the group; a group in a group brings its members along. UNION
# (not UNION ALL) ends at a cycle.
_GROUP_CLOSURE = ("WITH RECURSIVE closure(group_name, member_type, member) AS ("
                  "SELECT group_name, member_type, member FROM group_members UNION "
                  "SELECT gm.group_name, c.member_type, c.member FROM closure c JOIN group_members gm "
                  "ON gm.member_type = 'group' AND gm.member = c.group_name) ")
AGGREGATE_COLUMNS = ("key", "requests", "errors", "estimated", *_TOKEN_COLUMNS, "cost_usd", "unpriced")


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A header row, then one line per row; JSON values as compact JSON text, flags as 0/1."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value
