"""Usage filters and aggregates over a real SQLite usage table."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigate.accounting.usage import UsageRecord
from unigate.errors import InvalidRequest
from unigate.ir.usage import Usage
from unigate.store.sqlite import SQLiteStore
from unigate.store.usage_query import (
    AGGREGATE_COLUMNS,
    COLUMNS,
    aggregate_usage,
    parse_time,
    parse_usage_filter,
    query_usage,
    to_csv,
)

T0 = 1_718_000_000.0  # 2024-06-10T06:13:20Z


@pytest.fixture()
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "u.db")
    s.migrate()
    rows = [
        UsageRecord("a", T0, "chat", "/x", endpoint_name="e1", requester="u1", status_code=200,
                    usage=Usage(10, 5), request_tags={"team": "search"}),
        UsageRecord("b", T0 + 3600, "chat", "/x", endpoint_name="e1", requester="u2", status_code=429,
                    request_tags={"team": "ads", "env": "prod"}),
        UsageRecord("c", T0 + 7200, "chat", "/x", endpoint_name="e2", requester="u1", status_code=200,
                    usage=Usage(1, 2, estimated=True)),
    ]
    s.insert_usage([r.as_row() for r in rows])
    return s


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["request_id"] for r in rows]


def test_times_are_unix_seconds_or_iso_8601() -> None:
    assert parse_time("1718000000", "start") == T0
    assert parse_time("2024-06-10T06:13:20Z", "start") == T0
    assert parse_time("2024-06-10T08:13:20+02:00", "start") == T0
    assert parse_time("2024-06-10", "start") == T0 - (6 * 3600 + 13 * 60 + 20)
    with pytest.raises(InvalidRequest) as info:
        parse_time("yesterday", "end")
    assert info.value.param == "end"


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"status": "abc"}, "status"), ({"start": "2", "end": "1"}, "end"), ({"start": "soon"}, "start"),
])
def test_bad_parameters_are_named(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_usage_filter(params)
    assert info.value.param == field


def test_filters(store: SQLiteStore) -> None:
    assert ids(query_usage(store, parse_usage_filter({}))) == ["c", "b", "a"]
    assert ids(query_usage(store, parse_usage_filter({"endpoint": "e1"}))) == ["b", "a"]
    assert ids(query_usage(store, parse_usage_filter({"requester": "u1"}))) == ["c", "a"]
    assert ids(query_usage(store, parse_usage_filter({}, ["team=ads"]))) == ["b"]
    assert ids(query_usage(store, parse_usage_filter({}, ["team"]))) == ["b", "a"]
    assert ids(query_usage(store, parse_usage_filter({}, ["team=ads", "env=dev"]))) == []
    assert ids(query_usage(store, parse_usage_filter({"status": "429"}))) == ["b"]
    window = {"start": str(T0 + 1), "end": "2024-06-10T08:13:20Z"}
    assert ids(query_usage(store, parse_usage_filter(window))) == ["b"]
    assert ids(query_usage(store, parse_usage_filter({"limit": "1", "offset": "1"}))) == ["b"]
    f = parse_usage_filter({})
    f.visible_endpoints = frozenset({"e2"})
    assert ids(query_usage(store, f)) == ["c"]
    f.visible_endpoints = frozenset()
    assert query_usage(store, f) == []


def test_rows_decode_json_and_flags(store: SQLiteStore) -> None:
    row = query_usage(store, parse_usage_filter({}, ["team=search"]))[0]
    assert row["request_tags"] == {"team": "search"}
    assert row["total_tokens"] == 15 and row["usage_estimated"] is False
    text = to_csv([row], COLUMNS)
    header, line = text.splitlines()
    assert header.split(",")[0] == "request_id" and '"{""team"":""search""}"' in line


def test_aggregates(store: SQLiteStore) -> None:
    by_ep = aggregate_usage(store, parse_usage_filter({}), "endpoint")
    assert [(g["endpoint"], g["requests"], g["total_tokens"], g["errors"]) for g in by_ep] == [
        ("e1", 2, 15, 1), ("e2", 1, 3, 0)]
    by_tag = aggregate_usage(store, parse_usage_filter({}), "tag")
    assert {g["key"]: g["requests"] for g in by_tag} == {"team=search": 1, "team=ads": 1, "env=prod": 1}
    only_team = aggregate_usage(store, parse_usage_filter({}), "tag", tag_key="team")
    assert {g["key"] for g in only_team} == {"team=search", "team=ads"}
    by_hour = aggregate_usage(store, parse_usage_filter({}), "hour")
    assert [g["hour"] for g in by_hour] == ["2024-06-10T06:00:00Z", "2024-06-10T07:00:00Z",
                                            "2024-06-10T08:00:00Z"]
    by_req = aggregate_usage(store, parse_usage_filter({"endpoint": "e1"}), "requester")
    assert {g["key"]: g["input_tokens"] for g in by_req} == {"u1": 10, "u2": 0}
    with pytest.raises(InvalidRequest) as info:
        aggregate_usage(store, parse_usage_filter({}), "week")
    assert info.value.param == "group_by"


def test_rows_carry_the_client_session_and_parameter_lists(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "attr.db")
    s.migrate()
    s.insert_usage([
        UsageRecord("cc", T0, "anthropic", "/x", "claude-cli/2.1.332 (external, sdk-cli)", endpoint_name="e",
                    session_id="s-1", dropped_parameters=["metadata"],
                    emulated_parameters=["context_management"]).as_row(),
        UsageRecord("cx", T0 + 1, "responses", "/x", "codex_exec/0.171.0 (Debian 12.0.0; x86_64)",
                    endpoint_name="e", session_id="s-2").as_row(),
        UsageRecord("cc2", T0 + 2, "anthropic", "/x", "claude-cli/2.1.332", endpoint_name="e",
                    session_id="s-1").as_row(),
    ])
    rows = {r["request_id"]: r for r in query_usage(s, parse_usage_filter({}))}
    assert (rows["cc"]["client_name"], rows["cc"]["client_version"]) == ("claude-code", "2.1.332")
    assert rows["cc"]["session_id"] == "s-1"
    assert rows["cc"]["dropped_parameters"] == ["metadata"]
    assert rows["cc"]["emulated_parameters"] == ["context_management"]
    assert rows["cx"]["client_name"] == "codex" and rows["cx"]["dropped_parameters"] is None
    assert ids(query_usage(s, parse_usage_filter({"client": "codex"}))) == ["cx"]
    assert ids(query_usage(s, parse_usage_filter({"session": "s-1"}))) == ["cc2", "cc"]
    by_client = aggregate_usage(s, parse_usage_filter({}), "client")
    assert [(g["key"], g["requests"]) for g in by_client] == [("claude-code", 2), ("codex", 1)]
    by_session = aggregate_usage(s, parse_usage_filter({}), "session")
    assert [(g["key"], g["requests"]) for g in by_session] == [("s-1", 2), ("s-2", 1)]


def nearest_rank(values: list[float], p: int) -> float | None:
    """The p-th percentile by nearest rank: the ceil(p * n / 100)-th smallest value."""
    ordered = sorted(values)
    return ordered[-(-p * len(ordered) // 100) - 1] if ordered else None


def test_latency_percentiles_are_nearest_rank_per_group(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "lat.db")
    s.migrate()
    e1 = [float(v) for v in (120, 5, 33, 7, 250, 91, 14, 60, 8, 300, 42)]
    records = [UsageRecord(f"a{i}", T0 + i, "chat", "/x", endpoint_name="e1", status_code=200,
                           latency_ms=v, streaming=i % 2 == 0, ttfb_ms=v / 2) for i, v in enumerate(e1)]
    records.append(UsageRecord("none", T0, "chat", "/x", endpoint_name="e1", status_code=500))
    records.append(UsageRecord("b", T0, "chat", "/x", endpoint_name="e2", status_code=200, latency_ms=9.5))
    records.append(UsageRecord("c", T0, "chat", "/x", endpoint_name="e3", status_code=404))
    s.insert_usage([r.as_row() for r in records])
    groups = {g["key"]: g for g in aggregate_usage(s, parse_usage_filter({}), "endpoint")}
    assert groups["e1"]["requests"] == 12  # the row without a latency counts, but has no rank
    assert groups["e1"]["latency_p50_ms"] == nearest_rank(e1, 50) == 42.0
    assert groups["e1"]["latency_p95_ms"] == nearest_rank(e1, 95) == 300.0
    streamed = [v / 2 for i, v in enumerate(e1) if i % 2 == 0]
    assert groups["e1"]["ttfb_p50_ms"] == nearest_rank(streamed, 50)
    assert groups["e2"]["latency_p50_ms"] == groups["e2"]["latency_p95_ms"] == 9.5
    assert groups["e2"]["ttfb_p50_ms"] is None  # not a stream
    assert groups["e3"]["latency_p50_ms"] is None
    header = to_csv(list(groups.values()), AGGREGATE_COLUMNS).splitlines()[0].split(",")
    assert header[-5:-2] == ["latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms"]


def test_a_bucket_splits_each_group_by_time(store: SQLiteStore) -> None:
    rows = aggregate_usage(store, parse_usage_filter({}), "endpoint", bucket="hour")
    assert [(g["bucket"], g["endpoint"], g["requests"]) for g in rows] == [
        ("2024-06-10T06:00:00Z", "e1", 1), ("2024-06-10T07:00:00Z", "e1", 1), ("2024-06-10T08:00:00Z", "e2", 1)]
    minutes = aggregate_usage(store, parse_usage_filter({}), "minute")
    assert [g["minute"] for g in minutes] == ["2024-06-10T06:13:00Z", "2024-06-10T07:13:00Z",
                                              "2024-06-10T08:13:00Z"]
    days = aggregate_usage(store, parse_usage_filter({}), "tag", bucket="day")
    assert {(g["bucket"], g["key"]) for g in days} == {("2024-06-10", "team=search"), ("2024-06-10", "team=ads"),
                                                       ("2024-06-10", "env=prod")}
    for bucket, group_by in (("week", "endpoint"), ("hour", "day")):
        with pytest.raises(InvalidRequest) as info:
            aggregate_usage(store, parse_usage_filter({}), group_by, bucket=bucket)
        assert info.value.param == "bucket"



def test_own_rows_match_requester_and_its_type(store: SQLiteStore) -> None:
    store.insert_usage([UsageRecord("d", T0, "chat", "/x", endpoint_name="e1", requester="u1",
                                    requester_type="user", status_code=200).as_row(),
                        UsageRecord("e", T0, "chat", "/x", endpoint_name="e1", requester="u1",
                                    requester_type="service_principal", status_code=200).as_row()])
    f = parse_usage_filter({})
    f.requester, f.requester_type = "u1", "user"
    assert ids(query_usage(store, f)) == ["d"]


def test_all_is_one_group_of_the_totals(store: SQLiteStore) -> None:
    [total] = aggregate_usage(store, parse_usage_filter({}), "all")
    assert (total["key"], total["requests"], total["errors"], total["total_tokens"]) == ("all", 3, 1, 18)
    series = aggregate_usage(store, parse_usage_filter({}), "all", bucket="day")
    assert [(g["bucket"], g["requests"]) for g in series] == [("2024-06-10", 3)]
    assert aggregate_usage(store, parse_usage_filter({"requester": "nobody"}), "all") == []
