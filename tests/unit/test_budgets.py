"""Budgets without a server: the entries' validation, UTC periods and Retry-After, alert
thresholds, which requests a budget covers, and the ledgers (local, and shared by forked
processes: exact under concurrency), with the request path's cost of a budget check."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from unigate.config import ConfigError, parse_config
from unigate.governance.budgets.alerts import crossed, reached
from unigate.governance.budgets.ledger import NO_LIMIT, OK, REFUSED, UNSEEDED, LocalLedger, to_nanos
from unigate.governance.budgets.period import PeriodClock, iso, period_bounds, retry_after
from unigate.governance.budgets.shared_ledger import SharedLedger
from unigate.governance.budgets.spec import BudgetIndex, BudgetSpecError, parse_budget, parse_budgets
from unigate.server.snapshot import _group_closure

FORK = multiprocessing.get_context("fork")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- validation ---------------------------------------------------------------------------------

def test_a_full_entry_round_trips_through_its_spec() -> None:
    entry = {"name": "search-team", "scope": {"group": "search"}, "period": "monthly", "limit_usd": 250,
             "block": True, "alerts": [100, 50, 80.5],
             "webhook": {"url": "https://hooks.example.com/b", "headers": {"Authorization": "Bearer x"}}}
    b = parse_budget(entry)
    assert (b.scope, b.target, b.period, b.limit_usd, b.block) == ("group", "search", "monthly", 250.0, True)
    assert b.alerts == (50.0, 80.5, 100.0)
    assert parse_budget(b.to_spec()) == b
    assert b.to_spec()["alerts"] == [50, 80.5, 100]


def test_defaults_a_global_scope_and_tag_values_as_request_tags_keep_them() -> None:
    b = parse_budget({"name": "all", "period": "daily", "limit_usd": 0})
    assert (b.scope, b.block, b.alerts, b.webhook) == ("global", False, (), None)
    assert "scope" not in b.to_spec()
    assert parse_budget({"name": "g", "scope": "global", "period": "daily", "limit_usd": 1}).scope == "global"
    t = parse_budget({"name": "t", "scope": {"tag": {"build": 42}}, "period": "daily", "limit_usd": 1})
    assert (t.target, t.tag_value) == ("build", "42")


@pytest.mark.parametrize(("entry", "field", "words"), [
    ({"period": "daily", "limit_usd": 1}, "name", "missing"),
    ({"name": "a/b", "period": "daily", "limit_usd": 1}, "name", "letters"),
    ({"name": "a", "limit_usd": 1}, "period", "missing"),
    ({"name": "a", "period": "weekly", "limit_usd": 1}, "period", "daily or monthly"),
    ({"name": "a", "period": "daily"}, "limit_usd", "missing"),
    ({"name": "a", "period": "daily", "limit_usd": -5}, "limit_usd", ">= 0"),
    ({"name": "a", "period": "daily", "limit_usd": "100"}, "limit_usd", "number"),
    ({"name": "a", "period": "daily", "limit_usd": True}, "limit_usd", "number"),
    ({"name": "a", "period": "daily", "limit_usd": 10**8}, "limit_usd", "at most"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "block": "yes"}, "block", "true or false"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": [0]}, "alerts[0]", "above 0"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": [50, 50]}, "alerts[1]", "twice"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": "80"}, "alerts", "list"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "scope": {"team": "x"}}, "scope.team", "unknown scope"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "scope": {"endpoint": "x", "group": "y"}}, "scope", "one of"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "scope": {"endpoint": ""}}, "scope.endpoint", "non-empty"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "scope": {"tag": "team=x"}}, "scope.tag", "{key: value}"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "scope": {"tag": {"t": [1]}}}, "scope.tag.t", "string"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": [80], "webhook": "ftp://x"}, "webhook.url", "http"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "webhook": "https://x/y"}, "alerts", "thresholds"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": [80],
      "webhook": {"url": "https://x", "headers": {"X-Key": "a\nb"}}}, "webhook.headers.X-Key", "line breaks"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "alerts": [80], "webhook": {"url": "https://x", "tls": 1}},
     "webhook.tls", "unknown"),
    ({"name": "a", "period": "daily", "limit_usd": 1, "currency": "EUR"}, "currency", "unknown field"),
])
def test_bad_entries_name_the_field(entry: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(BudgetSpecError) as e:
        parse_budget(entry)
    assert e.value.field == field
    assert words in e.value.message


def test_the_configuration_file_names_the_entry_and_the_field() -> None:
    ok = {"name": "a", "period": "daily", "limit_usd": 1}
    with pytest.raises(ConfigError, match=r"unigate.yaml: budgets\[1\] \(b\): period: must be daily or monthly"):
        parse_config({"budgets": [ok, {**ok, "name": "b", "period": "hourly"}]}, "unigate.yaml")
    with pytest.raises(ConfigError, match=r"budgets\[1\] \(a\): name: a budget of this name is already defined"):
        parse_config({"budgets": [ok, ok]}, "unigate.yaml")
    with pytest.raises(ConfigError, match=r"budgets: must be a list"):
        parse_config({"budgets": {"a": ok}}, "unigate.yaml")
    with pytest.raises(BudgetSpecError) as e:
        parse_budgets([ok, {**ok, "limit_usd": None, "name": "c"}])
    assert e.value.field == "budgets[1].limit_usd"


def test_webhook_urls_and_headers_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example.com/x")
    monkeypatch.setenv("HOOK_KEY", "secret")
    cfg = parse_config({"budgets": [{"name": "a", "period": "daily", "limit_usd": 1, "alerts": [90],
                                     "webhook": {"url": "${HOOK}", "headers": {"X-Key": "${HOOK_KEY}"}}}]})
    hook = cfg.budgets[0].webhook
    assert hook is not None and (hook.url, hook.headers) == ("https://hooks.example.com/x", {"X-Key": "secret"})


def test_a_changed_scope_or_period_starts_new_counters_a_changed_limit_does_not() -> None:
    base = {"name": "a", "scope": {"endpoint": "e"}, "period": "daily", "limit_usd": 1}
    ident = parse_budget(base).counter_id
    assert parse_budget({**base, "limit_usd": 5, "block": True}).counter_id == ident
    assert parse_budget({**base, "period": "monthly"}).counter_id != ident
    assert parse_budget({**base, "scope": {"endpoint": "f"}}).counter_id != ident


# --- periods ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "period", "start", "end"), [
    ("2026-03-15T13:45:00", "daily", "2026-03-15T00:00:00", "2026-03-16T00:00:00"),
    ("2026-03-15T00:00:00", "daily", "2026-03-15T00:00:00", "2026-03-16T00:00:00"),
    ("2026-03-15T23:59:59.999", "daily", "2026-03-15T00:00:00", "2026-03-16T00:00:00"),
    ("2026-12-31T23:59:59", "daily", "2026-12-31T00:00:00", "2027-01-01T00:00:00"),
    ("2026-01-31T10:00:00", "monthly", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
    ("2026-02-10T10:00:00", "monthly", "2026-02-01T00:00:00", "2026-03-01T00:00:00"),   # 28 days
    ("2028-02-29T23:00:00", "monthly", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),   # a leap year: 29
    ("2026-04-30T23:59:59", "monthly", "2026-04-01T00:00:00", "2026-05-01T00:00:00"),   # 30 days
    ("2026-12-31T23:59:59", "monthly", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),   # the year turns
    ("2027-01-01T00:00:00", "monthly", "2027-01-01T00:00:00", "2027-02-01T00:00:00"),
])
def test_periods_are_utc_calendar_days_and_months(now: str, period: str, start: str, end: str) -> None:
    assert period_bounds(period, ts(now)) == (ts(start), ts(end))


def test_month_lengths_over_a_year() -> None:
    lengths = [(lambda b: (b[1] - b[0]) // 86_400)(period_bounds("monthly", ts(f"2026-{m:02d}-15T12:00:00")))
               for m in range(1, 13)]
    assert lengths == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_retry_after_counts_to_the_reset_and_is_never_zero() -> None:
    start, end = period_bounds("daily", ts("2026-03-15T23:59:30"))
    assert retry_after(end, ts("2026-03-15T23:59:30")) == 30
    assert retry_after(end, ts("2026-03-15T23:59:59.5")) == 1
    assert retry_after(end, end + 0.0) == 1
    _, month_end = period_bounds("monthly", ts("2026-02-27T00:00:00"))
    assert retry_after(month_end, ts("2026-02-27T00:00:00")) == 2 * 86_400
    assert iso(start) == "2026-03-15T00:00:00Z"


def test_the_period_clock_moves_on_at_the_boundary() -> None:
    clock = PeriodClock()
    before = ts("2026-03-31T23:59:59")
    assert clock.bounds("monthly", before) == period_bounds("monthly", before)
    assert clock.bounds("monthly", before + 1) == (ts("2026-04-01T00:00:00"), ts("2026-05-01T00:00:00"))
    assert clock.bounds("daily", before + 1)[0] == ts("2026-04-01T00:00:00")


# --- alert thresholds ---------------------------------------------------------------------------

def test_thresholds_are_reached_at_their_exact_amount_and_crossed_once() -> None:
    limit = to_nanos(10.0)
    alerts = (50.0, 80.0, 100.0, 150.0)
    assert reached(alerts, limit, 0) == []
    assert reached(alerts, limit, to_nanos(4.999999999)) == []
    assert reached(alerts, limit, to_nanos(5.0)) == [50.0]
    assert crossed(alerts, limit, to_nanos(4.0), to_nanos(8.0)) == [50.0, 80.0]
    assert crossed(alerts, limit, to_nanos(8.0), to_nanos(9.0)) == []
    assert crossed(alerts, limit, to_nanos(9.0), to_nanos(20.0)) == [100.0, 150.0]
    assert crossed(alerts, limit, to_nanos(20.0), to_nanos(25.0)) == []
    # spend only grows within a period: the before/after pairs of successive settles cross each
    # threshold exactly once, whatever the steps
    steps = [0, 1, 3, 5, 5, 7, 8, 10, 16, 30]
    seen = [t for a, b in zip(steps, steps[1:], strict=False) for t in crossed(alerts, limit, to_nanos(a), to_nanos(b))]
    assert seen == list(alerts)
    assert reached((50.0,), 0, 1) == [50.0]  # a budget of nothing: its first cost reaches every threshold


# --- scope ---------------------------------------------------------------------------------------

def _budgets(*entries: dict[str, object]) -> BudgetIndex:
    return BudgetIndex(parse_budgets([{"period": "daily", "limit_usd": 1, **e} for e in entries]))


def test_scopes_match_the_endpoint_the_principal_the_groups_and_the_tags() -> None:
    index = _budgets({"name": "all"}, {"name": "ep", "scope": {"endpoint": "chat"}},
                     {"name": "alice", "scope": {"principal": "alice@x.com"}},
                     {"name": "app", "scope": {"principal": "sp-123"}},
                     {"name": "eng", "scope": {"group": "engineering"}},
                     {"name": "search", "scope": {"tag": {"team": "search"}}})

    def names(endpoint: str, principal: str, groups: frozenset[str] = frozenset(),
              tags: dict[str, str] | None = None) -> list[str]:
        return [b.name for b in index.matching(endpoint, principal, groups, tags)]

    assert names("chat", "bob@x.com") == ["all", "ep"]
    assert names("other", "alice@x.com") == ["alice", "all"]
    assert names("other", "sp-123") == ["all", "app"]
    assert names("other", "bob@x.com", frozenset({"engineering", "x"})) == ["all", "eng"]
    assert names("other", "bob@x.com", tags={"team": "search"}) == ["all", "search"]
    assert names("other", "bob@x.com", tags={"team": "ads", "search": "team"}) == ["all"]
    assert names("chat", "alice@x.com", frozenset({"engineering"}), {"team": "search"}) == \
        ["alice", "all", "eng", "ep", "search"]


def test_a_group_budget_covers_members_of_nested_groups() -> None:
    # alice is in "backend", which is in "engineering"; bob only in "sales"
    closure = _group_closure([("backend", "user", "alice@x.com"), ("engineering", "group", "backend"),
                              ("sales", "user", "bob@x.com")])
    index = _budgets({"name": "eng", "scope": {"group": "engineering"}})
    assert [b.name for b in index.matching("e", "alice@x.com", closure[("user", "alice@x.com")], None)] == ["eng"]
    assert index.matching("e", "bob@x.com", closure[("user", "bob@x.com")], None) == []
    b = index.by_name["eng"]
    assert b.applies("e", "alice@x.com", closure[("user", "alice@x.com")], {})
    assert not b.applies("e", "bob@x.com", closure[("user", "bob@x.com")], {})


# --- the ledgers -------------------------------------------------------------------------------

@pytest.fixture(params=["local", "shared"])
def ledger(request: pytest.FixtureRequest) -> Iterator[LocalLedger | SharedLedger]:
    if request.param == "local":
        yield LocalLedger()
        return
    shared = SharedLedger(capacity=64)
    yield shared
    shared.close()


def test_reserve_is_all_or_nothing_and_settle_replaces_the_reservation(ledger: LocalLedger | SharedLedger) -> None:
    end = int(time.time()) + 3600
    a, b = ("a", end, 100, 30, 0), ("b", end, NO_LIMIT, 30, 0)
    assert ledger.reserve([a, b]) == (OK, -1)
    assert ledger.reserve([a, b]) == (OK, -1)
    assert ledger.reserve([a, b]) == (OK, -1)          # 90 of 100 committed
    assert ledger.reserve([b, a]) == (REFUSED, 1)       # 120 > 100: b is not charged either
    assert ledger.read(["a", "b", "c"]) == [(90, 0), (90, 0), None]
    assert ledger.settle([("a", 30, 12), ("b", 30, 12)]) == [12, 12]   # one finished: it cost 12
    assert ledger.read(["a"]) == [(72, 12)]
    assert ledger.reserve([("a", end, 100, 28, 0)]) == (OK, -1)         # exactly 100
    assert ledger.reserve([("a", end, 100, 0, 0)]) == (REFUSED, 0)     # full: not even a free one
    assert ledger.settle([("gone", 5, 5)]) == [None]


def test_a_missing_counter_starts_from_its_seed_or_asks_for_one(ledger: LocalLedger | SharedLedger) -> None:
    end = int(time.time()) + 3600
    assert ledger.reserve([("s", end, 100, 10, -1)]) == (UNSEEDED, 0)
    assert ledger.read(["s"]) == [None]
    assert ledger.reserve([("s", end, 100, 10, 95)]) == (REFUSED, 0)     # 95 spent before: 10 more do not fit
    assert ledger.reserve([("s", end, 100, 5, 95)]) == (OK, -1)
    assert ledger.read(["s"]) == [(100, 95)]
    assert ledger.reserve([("s", end, 100, 0, 0)]) == (REFUSED, 0)       # the seed is used once only
    assert ledger.settle([("s", 5, 0)]) == [95]                           # it failed: cost nothing
    assert ledger.read(["s"]) == [(95, 95)]


def test_the_shared_table_forgets_ended_periods_when_full() -> None:
    shared = SharedLedger(capacity=16)
    try:
        past = int(time.time()) - 10
        for i in range(12):
            assert shared.reserve([(f"old{i}", past, NO_LIMIT, 1, 0)]) == (OK, -1)
        future = int(time.time()) + 3600
        for i in range(12):
            assert shared.reserve([(f"new{i}", future, NO_LIMIT, 1, 0)]) == (OK, -1)
        assert shared.read([f"new{i}" for i in range(12)]) == [(1, 0)] * 12
        assert shared.read(["old0"]) == [None]
    finally:
        shared.close()


def _spend_until_refused(ledger: SharedLedger, start: object, results: object, threads: int) -> None:
    granted = [0] * threads
    go = threading.Barrier(threads)

    def run(i: int) -> None:
        go.wait()
        end = int(time.time()) + 3600
        while True:
            # 7 reserved, 5 really spent; the second counter only watches
            if ledger.reserve([("cap", end, 1000, 7, 0), ("watch", end, NO_LIMIT, 7, 0)])[0] != OK:
                return
            granted[i] += 1
            ledger.settle([("cap", 7, 5), ("watch", 7, 5)])

    start.wait()  # type: ignore[attr-defined]
    ts_ = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts_:
        t.start()
    for t in ts_:
        t.join()
    results.put(sum(granted))  # type: ignore[attr-defined]


def test_forked_workers_never_commit_past_the_limit() -> None:
    """4 processes x 4 threads spend from one budget: whatever the interleaving, committed never
    passes 1000, so the requests granted cost at most 1000 and the watcher saw them all."""
    ledger = SharedLedger(capacity=64)
    try:
        start, results = FORK.Barrier(4), FORK.Queue()
        procs = [FORK.Process(target=_spend_until_refused, args=(ledger, start, results, 4)) for _ in range(4)]
        for p in procs:
            p.start()
        granted = sum(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(10)
        (committed, spent), (_, watched) = ledger.read(["cap", "watch"])  # type: ignore[misc]
        assert spent == granted * 5 == watched
        assert committed == spent <= 1000
        assert 1000 - spent < 7  # stopped only when the next reservation no longer fitted
    finally:
        ledger.close()


def test_the_cost_of_a_budget_check_on_the_request_path(capsys: pytest.CaptureFixture[str]) -> None:
    """Printed, not asserted (docs/performance.md, Budgets): what the request path adds per
    request with one and three budgets on the shared-memory ledger, and the lookup alone."""
    shared = SharedLedger()
    try:
        index = _budgets({"name": "all"}, {"name": "ep", "scope": {"endpoint": "chat"}},
                         {"name": "eng", "scope": {"group": "engineering"}})
        groups = frozenset({"engineering"})
        clock = PeriodClock()
        n = 20_000

        def one_request(budgets: int) -> None:
            now = time.time()
            found = index.matching("chat", "a@b.c", groups, None)[:budgets]
            items = []
            for b in found:
                start, end = clock.bounds(b.period, now)
                items.append((f"{b.counter_id}\x1f{start}", end, to_nanos(1e6), 2000, 0))
            shared.reserve(items)
            shared.settle([(k, 2000, 1500) for k, *_ in items])

        figures = {}
        for budgets in (1, 3):
            t = time.perf_counter()
            for _ in range(n):
                one_request(budgets)
            figures[budgets] = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for _ in range(n):
            index.matching("other", "a@b.c", frozenset(), None)
        lookup = (time.perf_counter() - t) / n
        with capsys.disabled():
            print(f"\nbudgets: reserve + settle, 1 budget {figures[1] * 1e6:.2f} us, 3 budgets "
                  f"{figures[3] * 1e6:.2f} us; lookup finding none {lookup * 1e6:.2f} us")
    finally:
        shared.close()
