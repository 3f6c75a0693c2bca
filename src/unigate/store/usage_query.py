"""Reading the usage table: filters (time range, endpoint, requester, tags, status), rows and
aggregates (requests, token and cost sums and latency percentiles by endpoint, requester, group,
tag, minute, hour or day; optionally per time bucket as well, for charts).

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
TIME_GROUPS = ("minute", "hour", "day")
GROUP_BY = ("all", "endpoint", "requester", "group", "tag", *TIME_GROUPS, "status", "model", "client",
            "session", "mcp_service", "mcp_tool")
_BOOL_COLUMNS = ("streaming", "usage_estimated")
_JSON_COLUMNS = ("request_tags", "routing_information", "dropped_parameters", "emulated_parameters",
                 "guardrails")
_TOKEN_COLUMNS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
                  "cache_creation_input_tokens", "reasoning_tokens")
# What each grouping groups on, as SQL over the usage table `u` (tag joins the tags `t`);
# the time buckets are the store's own expressions.
_GROUP_SQL = {
    "all": "'all'",  # one group of every matching row: the totals (with a bucket: a total series)
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
    # Set for a caller who is neither an administrator nor a manager: only its own rows.
    requester_type: str | None = None


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


def _one(params: Mapping[str, str], name: str) -> str | None:
    """A query parameter given at most once: two values for one number are a client's mistake."""
    getall = getattr(params, "getall", None)  # a MultiDict holds every value given
    if getall is not None and len(getall(name, ())) > 1:
        raise InvalidRequest(f"'{name}' is given more than once", param=name)
    return params.get(name)


def bool_param(params: Mapping[str, str], name: str) -> bool:
    raw = _one(params, name)
    if raw is None or raw == "":
        return False
    value = raw.lower()
    if value not in ("1", "true", "yes", "0", "false", "no"):
        raise InvalidRequest(f"'{name}' must be true or false, got {raw!r}", param=name)
    return value in ("1", "true", "yes")


def int_param(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = _one(params, name)
    if raw is None:
        return default
    try:  # an empty value is not a number either (a client that means "default" leaves it out)
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
    # given empty, a number or a time is refused like any other bad one (not read as absent)
    if "start" in params:
        f.start = parse_time(params["start"], "start")
    if "end" in params:
        f.end = parse_time(params["end"], "end")
    if f.start is not None and f.end is not None and f.end < f.start:
        raise InvalidRequest("'end' must not be before 'start'", param="end")
    f.endpoint = params.get("endpoint") or None
    f.requester = params.get("requester") or None
    f.client = params.get("client") or None
    f.session = params.get("session") or None
    f.mcp_service = params.get("mcp_service") or None
    f.tags = [parse_tag(t) for t in tags if t]
    if "status" in params:
        f.status = int_param(params, "status", 0, 100, 599)
    f.limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    f.offset = int_param(params, "offset", 0, 0, 10**12)
    return f


def _group_sql(store: Store, group_by: str) -> str:
    if group_by in TIME_GROUPS:
        return _time_sql(store, group_by)
    return _GROUP_SQL[group_by]


def _time_sql(store: Store, unit: str) -> str:
    """The event time's UTC bucket as ISO 8601 text (2024-06-10T08:13:00Z, ...T08:00:00Z, 2024-06-10)."""
    template = {"minute": store.MINUTE_OF, "hour": store.HOUR_OF, "day": store.DAY_OF}[unit]
    return template.format("u.event_time")


def _where(store: Store, f: UsageFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if f.start is not None:
        clauses.append("u.event_time >= ?")
        args.append(f.start)
    if f.end is not None:
        clauses.append("u.event_time < ?")
        args.append(f.end)
    for column, value in (("endpoint_name", f.endpoint), ("requester", f.requester),
                          ("requester_type", f.requester_type), ("status_code", f.status),
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


def aggregate_usage(store: Store, f: UsageFilter, group_by: str, tag_key: str | None = None,
                    bucket: str | None = None) -> list[dict[str, Any]]:
    """Requests, token and cost sums and latency percentiles per group, largest first (time
    groups in time order). With group_by=tag a request counts once for each of its tags (`tag_key`
    keeps one tag name); with group_by=group once for each group its requester is in (at query
    time, nesting followed). With `bucket` (minute, hour, day) each group is split by time bucket
    as well, ordered by bucket then key: one series per key, for charts."""
    if group_by not in GROUP_BY:
        raise InvalidRequest(f"'group_by' must be one of {', '.join(GROUP_BY)}, got {group_by!r}",
                             param="group_by")
    if bucket is not None and bucket not in TIME_GROUPS:
        raise InvalidRequest(f"'bucket' must be one of {', '.join(TIME_GROUPS)}, got {bucket!r}",
                             param="bucket")
    if bucket is not None and group_by in TIME_GROUPS:
        raise InvalidRequest("'bucket' splits a non-time grouping by time; group_by is already a time",
                             param="bucket")
    with_, source, where, args = _aggregate_source(store, f, group_by, tag_key)
    keys = [_group_sql(store, group_by)] + ([_time_sql(store, bucket)] if bucket else [])
    select_keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
    group_keys = ", ".join(f"k{i}" for i in range(len(keys)))
    sums = ", ".join(f"COALESCE(SUM(u.{c}), 0)" for c in _TOKEN_COLUMNS)
    if bucket:
        order = "k1, requests DESC, k0"
    else:
        order = "k0" if group_by in TIME_GROUPS else "requests DESC, k0"
    sql = (f"{with_}SELECT {select_keys}, COUNT(*) AS requests, "
           "SUM(CASE WHEN u.status_code >= 400 THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN u.usage_estimated <> 0 THEN 1 ELSE 0 END), "
           f"{sums}, COALESCE(SUM(u.cost_usd), 0), "
           "SUM(CASE WHEN u.cost_usd IS NULL AND u.total_tokens > 0 THEN 1 ELSE 0 END) "
           f"FROM {source}{where} GROUP BY {group_keys} ORDER BY {order} LIMIT ? OFFSET ?")
    rows = store.execute(sql, [*args, f.limit, f.offset])
    percentiles = _percentiles(store, with_, source, where, args, keys)
    groups: list[dict[str, Any]] = []
    width = len(keys)
    tokens = len(_TOKEN_COLUMNS)
    for r in rows:
        key, counts = r[:width], r[width:]
        group: dict[str, Any] = {"key": key[0], group_by: key[0]}
        if bucket:
            group["bucket"] = key[1]
        group.update({"requests": counts[0], "errors": counts[1] or 0, "estimated": counts[2] or 0})
        group.update(zip(_TOKEN_COLUMNS, counts[3:3 + tokens], strict=True))
        group["cost_usd"] = round(float(counts[3 + tokens]), COST_DIGITS)
        group["unpriced"] = counts[4 + tokens] or 0  # requests with tokens but no known price
        group.update(percentiles.get(tuple(key), _NO_PERCENTILES))
        groups.append(group)
    return groups


def _aggregate_source(store: Store, f: UsageFilter, group_by: str,
                      tag_key: str | None) -> tuple[str, str, str, list[Any]]:
    """(WITH prefix, FROM source, WHERE clause, its arguments) of an aggregate over `u`."""
    where, args = _where(store, f)
    with_ = ""
    source = "usage u"
    if group_by == "tag":
        source = f"usage u JOIN {store.TAGS_OF.format('u.request_tags')} t ON TRUE"
        if tag_key:
            where += (" AND " if where else " WHERE ") + "t.key = ?"
            args.append(tag_key)
    if group_by == "group":
        # a request counts once in each group its requester is in now (nested groups followed)
        with_ = _GROUP_CLOSURE
        source = "usage u JOIN closure m ON m.member_type = u.requester_type AND m.member = u.requester"
    return with_, source, where, args


# Percentiles are nearest-rank: the p-th percentile of n values is the k-th smallest, with
# k = ceil(p * n / 100), written (p * n + 99) / 100 in integer arithmetic (SQLite and PostgreSQL
# both divide integers as integers). Only rows with a value count; the others have no rank.
PERCENTILES = (("latency_p50_ms", "latency", 50), ("latency_p95_ms", "latency", 95),
               ("ttfb_p50_ms", "ttfb", 50))
_NO_PERCENTILES: dict[str, Any] = {name: None for name, _, _ in PERCENTILES}
# The measured values: every row's total latency; the time to first byte of streams only (a
# unary answer's first byte is its last).
_MEASURES = {"latency": "u.latency_ms",
             "ttfb": "CASE WHEN u.streaming <> 0 THEN u.time_to_first_byte_ms END"}


def _percentiles(store: Store, with_: str, source: str, where: str, args: list[Any],
                 keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Latency percentiles per group (the same groups as the aggregate), by group key."""
    partition = ", ".join(keys)
    inner: list[str] = [f"{k} AS k{i}" for i, k in enumerate(keys)]
    for measure, expr in _MEASURES.items():
        # NULLs ranked last on both stores (SQLite sorts them first, PostgreSQL last)
        inner += [f"{expr} AS {measure}",
                  f"ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY CASE WHEN {expr} IS NULL "
                  f"THEN 1 ELSE 0 END, {expr}) AS {measure}_rank",
                  f"COUNT({expr}) OVER (PARTITION BY {partition}) AS {measure}_n"]
    picks = [f"MAX(CASE WHEN {m}_rank = ({p} * {m}_n + 99) / 100 THEN {m} END)" for _, m, p in PERCENTILES]
    group_keys = ", ".join(f"k{i}" for i in range(len(keys)))
    sql = (f"{with_}SELECT {group_keys}, {', '.join(picks)} FROM (SELECT {', '.join(inner)} "
           f"FROM {source}{where}) ranked GROUP BY {group_keys}")
    width = len(keys)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in store.execute(sql, args):
        out[tuple(r[:width])] = {name: (None if v is None else float(v))
                                 for (name, _, _), v in zip(PERCENTILES, r[width:], strict=True)}
    return out


COST_DIGITS = 10  # sums of float costs, rounded past any price's precision
# Every group a principal is in, nested groups followed: group_members(group_name, member_type,
# member) says the member is in the group; a group in a group brings its members along. UNION
# (not UNION ALL) ends at a cycle.
_GROUP_CLOSURE = ("WITH RECURSIVE closure(group_name, member_type, member) AS ("
                  "SELECT group_name, member_type, member FROM group_members UNION "
                  "SELECT gm.group_name, c.member_type, c.member FROM closure c JOIN group_members gm "
                  "ON gm.member_type = 'group' AND gm.member = c.group_name) ")
AGGREGATE_COLUMNS = ("key", "requests", "errors", "estimated", *_TOKEN_COLUMNS,
                     *(name for name, _, _ in PERCENTILES), "cost_usd", "unpriced")
# With a bucket, each line names its time bucket too (after the key).
BUCKETED_COLUMNS = ("key", "bucket", *AGGREGATE_COLUMNS[1:])


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
