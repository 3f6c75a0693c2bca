"""The two stores behind one interface: the same calls give the same answers on SQLite and on a
real PostgreSQL server, and PostgreSQL's outages surface as StoreUnavailable, then heal."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.postgres_server import PostgresServer, schema_url, shared_postgres
from unigate.store import identities as db
from unigate.store.base import USAGE_COLUMNS, Duplicate, Store, StoreUnavailable
from unigate.store.dump import export_rows, import_lines
from unigate.store.migrations import MIGRATIONS
from unigate.store.payloads import insert_payloads, payload_rows, purge_payloads
from unigate.store.postgres import PostgresStore, to_psycopg
from unigate.store.sqlite import SQLiteStore
from unigate.store.usage_query import UsageFilter, aggregate_usage, query_usage

DAY = 86_400.0
T0 = 1_765_000_000.0  # 2025-12-06T05:46:40Z


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = (SQLiteStore(tmp_path / "s.db") if request.param == "sqlite"
                else PostgresStore(schema_url(shared_postgres(), str(tmp_path))))
    s.migrate()
    yield s
    s.close()


def both(tmp_path: Path) -> tuple[Store, Store]:
    lite = SQLiteStore(tmp_path / "lite.db")
    pg = PostgresStore(schema_url(shared_postgres(), str(tmp_path / "pg")))
    for s in (lite, pg):
        s.migrate()
    return lite, pg


def usage_row(i: int, **values: Any) -> tuple[Any, ...]:
    row: dict[str, Any] = dict.fromkeys(USAGE_COLUMNS)
    row.update(request_id=f"r{i:04d}", event_time=T0 + i * 1800.5, endpoint_name=f"e{i % 3}",
               requester=f"u{i % 4}@x.y", status_code=200 if i % 5 else 429, streaming=i % 2 == 0,
               usage_estimated=i % 7 == 0, input_tokens=i * 3, output_tokens=i, total_tokens=i * 4,
               request_tags=json.dumps({"team": "a" if i % 3 else "b", "odd key=": "v=1%"}),
               session_id=f"s{i % 2}", mcp_service="svc" if i % 4 == 0 else None,
               mcp_tool="t" if i % 4 == 0 else None,
               # what COPY's text format escapes (PostgreSQL's usage batches go in by COPY)
               user_agent="tab\tnew\nline\\N é\r" if i % 6 == 0 else None)
    row.update(values)
    return tuple(row[c] for c in USAGE_COLUMNS)


def test_migrations_apply_once_and_give_the_same_columns(tmp_path: Path) -> None:
    lite, pg = both(tmp_path)
    try:
        assert lite.migrate() == [] and pg.migrate() == []
        for table in ("usage", "tokens", "audit_log", "responses", "mcp_grants", "payloads"):
            assert lite.columns(table) == pg.columns(table), table
    finally:
        lite.close()
        pg.close()


def test_usage_queries_answer_alike_on_both_stores(tmp_path: Path) -> None:
    lite, pg = both(tmp_path)
    rows = [usage_row(i) for i in range(150)]  # more than one INSERT statement's worth
    try:
        for s in (lite, pg):
            s.insert_usage(rows)
            s.insert_usage(rows[:10])  # a replay: skipped, not an error
        filters = [UsageFilter(), UsageFilter(tags=[("team", "b")]), UsageFilter(tags=[("odd key=", "v=1%")]),
                   UsageFilter(tags=[("team", None)], start=T0 + DAY, end=T0 + 2 * DAY),
                   UsageFilter(endpoint="e1", status=429), UsageFilter(visible_endpoints=frozenset()),
                   UsageFilter(visible_endpoints=frozenset({"e0", "e2"}), limit=7, offset=3),
                   UsageFilter(mcp_service="svc"), UsageFilter(session="s1", requester="u1@x.y")]
        for f in filters:
            assert query_usage(lite, f) == query_usage(pg, f), f
        for group_by in ("endpoint", "requester", "tag", "hour", "day", "status", "session",
                         "mcp_service", "mcp_tool"):
            expected = aggregate_usage(lite, UsageFilter(), group_by)
            assert expected and aggregate_usage(pg, UsageFilter(), group_by) == expected, group_by
        assert aggregate_usage(pg, UsageFilter(), "tag", "team") == aggregate_usage(lite, UsageFilter(), "tag", "team")
        day = aggregate_usage(pg, UsageFilter(), "day")[0]
        assert day["day"] == "2025-12-06" and isinstance(day["input_tokens"], int)
        assert aggregate_usage(pg, UsageFilter(), "hour")[0]["hour"] == "2025-12-06T05:00:00Z"
        assert pg.usage_rows(200) == lite.usage_rows(200)  # every column, as it was written
        first = query_usage(pg, UsageFilter(limit=1))[0]
        assert first["streaming"] is False and first["request_tags"]["team"] in ("a", "b")
    finally:
        lite.close()
        pg.close()


def test_identities_tokens_and_conflicts(store: Store) -> None:
    db.create_user(store, "a@x.y", "A")
    with pytest.raises(db.Clash):
        db.create_user(store, "a@x.y", "again")
    with pytest.raises(Duplicate):  # a concurrent writer that got there first
        store.transaction([("INSERT INTO users (email, created_at) VALUES (?, 0)", ("a@x.y",))])
    version = store.config_version()
    token = db.create_token(store, "a@x.y", "user", "laptop", None)
    assert store.config_version() == version + 1
    assert [t.principal for t in store.active_tokens()].count("a@x.y") == 1
    store.touch_tokens({token["token_id"]: 100.0})
    store.touch_tokens({token["token_id"]: 50.0})  # an older report never moves it back
    assert db.get_token(store, token["token_id"])["last_used_at"] == 100.0  # type: ignore[index]
    db.create_group(store, "team", [db.Member("user", "a@x.y")])
    assert db.get_group(store, "team")["members"]  # type: ignore[index]
    store.audit("admin", "user.create", "a@x.y", {"why": "100% sure"})
    assert db.audit_entries(store, action="user.")[0]["details"] == {"why": "100% sure"}
    assert db.audit_entries(store, action="user_*") == []  # _ is literal, not a wildcard


def test_payload_rows_and_their_purge(store: Store) -> None:
    rows = [(f"p{i}", T0 + i, "chat", "u@x.y", 200, 1.5, '{"q": 1}', '{"a": 2}', None) for i in range(5)]
    insert_payloads(store, rows)
    insert_payloads(store, rows[:2])  # retried batch: ignored
    assert [r["request_id"] for r in payload_rows(store, "chat", limit=3)] == ["p4", "p3", "p2"]
    assert purge_payloads(store, "chat", T0 + 2) == 2
    assert len(payload_rows(store, "chat")) == 3


def test_an_export_of_one_store_imports_into_the_other(tmp_path: Path) -> None:
    lite, pg = both(tmp_path)
    try:
        db.create_user(lite, "m@x.y", None)
        lite.audit("admin", "user.create", "m@x.y")
        lite.insert_usage([usage_row(i) for i in range(20)])
        counts = import_lines(pg, export_rows(lite))
        assert counts["usage"] == 20 and counts["users"] == 1
        pg.audit("admin", "user.delete", "m@x.y")  # numbered after the imported rows
        assert [e["action"] for e in db.audit_entries(pg)] == ["user.delete", "user.create"]
        assert query_usage(pg, UsageFilter()) == query_usage(lite, UsageFilter())
    finally:
        lite.close()
        pg.close()


def test_instances_starting_together_migrate_in_turn(tmp_path: Path) -> None:
    url = schema_url(shared_postgres(), str(tmp_path))
    results: list[Any] = []

    def start() -> None:
        s = PostgresStore(url)
        try:
            results.append(s.migrate())
        except Exception as e:  # noqa: BLE001 - recorded for the assertion
            results.append(e)
        finally:
            s.close()
    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(len(r) for r in results) == [0, 0, 0, len(MIGRATIONS)], results


def test_a_database_outage_raises_store_unavailable_and_then_heals() -> None:
    server = PostgresServer()
    server.start()
    store = PostgresStore(server.url, timeout=2.0)
    try:
        store.migrate()
        server.stop()
        began = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.config_version()
        assert time.monotonic() - began < 10
        assert "PostgreSQL at" in str(caught.value)
        server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert store.config_version() == 1
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not come back"
                time.sleep(0.2)
    finally:
        store.close()
        server.destroy()


def test_placeholders_become_psycopg_ones_outside_literals() -> None:
    assert to_psycopg("SELECT ? WHERE a LIKE ? ESCAPE '\\' AND b = '?%'") == \
        "SELECT %s WHERE a LIKE %s ESCAPE '\\' AND b = '?%%'"
