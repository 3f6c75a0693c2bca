"""The budgets of one worker: what the request path calls (`reserve` after the rate limits,
`settle` when the request ends), the seeds counters start from, alerts, and the figures the
admin API and the metrics read.

    reserve   the budgets that apply (scope: endpoint, principal, group, tag, or all), each in
              its current UTC period; the request's estimated cost (input: 4 bytes of body a
              token; output: the client's max tokens; priced at the dearest destination of the
              endpoint) reserved from all of them at once, or a 429 naming the first blocking
              budget without room. No database access: the ledger is shared memory or Redis.
    settle    the real cost (the usage row's cost_usd) replaces the reservation (the requests
              that end in one turn of the event loop together, right after it); the spend
              after it is compared with the alert thresholds.
    seeds     a counter that does not exist yet (a restart, a new budget) starts from the usage
              table's spend for the period, summed in a thread before the worker serves and
              whenever a new budget appears; a request that finds no seed it can trust waits
              for that sum (once per counter, not per request)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unigate.codecs.registry import FORMATS
from unigate.errors import BudgetExceeded, ServiceUnavailable
from unigate.governance.budgets.alerts import AlertSender
from unigate.governance.budgets.ledger import (
    NO_LIMIT,
    OK,
    REFUSED,
    UNSEEDED,
    Ledger,
    ReserveItem,
    SettleItem,
    to_nanos,
    to_usd,
)
from unigate.governance.budgets.period import PeriodClock, iso, period_bounds, retry_after
from unigate.governance.budgets.redis_ledger import RATE_LIMITED
from unigate.governance.budgets.spec import Budget, BudgetIndex
from unigate.governance.ratelimit import RateLimit
from unigate.governance.ratelimit.limiter import _Planned
from unigate.governance.ratelimit.redis_backend import RedisUnavailable
from unigate.governance.ratelimit.resp import RedisConnectionError, RedisError
from unigate.store import budgets as db

if TYPE_CHECKING:
    from unigate.accounting.usage import UsageRecord
    from unigate.config import EndpointConfig
    from unigate.server.context import RequestContext
    from unigate.server.snapshot import Snapshot
    from unigate.server.state import GatewayState

log = logging.getLogger("unigate.budgets")
SEP = "\x1f"
FRESH_PERIOD = 10.0  # seconds into a period during which a missing counter starts at 0
SEED_WAIT = 5.0  # seconds a request waits for a seed before the failure policy decides
REFRESH_INTERVAL = 1.0  # seconds between reads of the counters (metrics, new periods, new budgets)
SKIPPED = "skipped"  # the ledger did not answer and the failure policy lets the request through


@dataclass(slots=True)
class BudgetHold:
    """What a request reserved, to be replaced by its real cost."""

    budgets: list[Budget]
    keys: list[str]
    bounds: list[tuple[int, int]]
    cost: int  # nano-dollars reserved from each
    settled: bool = False


@dataclass(slots=True)
class _View:
    """What the engine derives from one snapshot (rebuilt when the snapshot changes)."""

    snap: Snapshot | None
    index: BudgetIndex
    prices: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # endpoint -> USD/token


def counter_key(budget: Budget, start: int) -> str:
    return f"{budget.counter_id}{SEP}{start}"


class Budgets:
    def __init__(self, state: GatewayState, ledger: Ledger, failure: str = "open") -> None:
        self.state = state
        self.ledger = ledger
        self.failure = failure  # the store or Redis cannot say: "open" lets through, "closed" 503s
        self._reserve_async = getattr(ledger, "reserve_async", None)
        self._settle_async = getattr(ledger, "settle_async", None)
        self._read_async = getattr(ledger, "read_async", None)
        self._reserve_folded = getattr(ledger, "reserve_with_limits_async", None)
        self.clock = PeriodClock()
        self.alerts = AlertSender(state)
        self._view = _View(None, BudgetIndex())
        self._seeds: dict[str, tuple[int, float]] = {}  # counter key -> (nano-dollars, when summed)
        self._seeding: dict[str, asyncio.Future[int | None]] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        self._batch: list[tuple[BudgetHold, list[SettleItem]]] = []  # settlements of this loop turn
        self._refresher: asyncio.Task[None] | None = None
        self.spend: dict[str, tuple[float, float]] = {}  # budget -> (spent, limit) USD, for the metrics
        self._logged = 0.0

    # --- the snapshot's budgets -----------------------------------------------------------------

    def view(self) -> _View:
        snap = self.state.snap
        view = self._view
        if view.snap is not snap:
            budgets = getattr(snap.config, "budgets", None) or []
            view = self._view = _View(snap, BudgetIndex(budgets))
            self.alerts.forget_all_but(view.index.by_name)  # a budget deleted and made again alerts afresh
        return view

    @property
    def index(self) -> BudgetIndex:
        return self.view().index

    # --- the request path -----------------------------------------------------------------------

    @property
    def folds(self) -> bool:
        """Whether the ledger takes the rate limits' counters in the same round trip (Redis)."""
        return self._reserve_folded is not None

    async def reserve(self, ctx: RequestContext, endpoint: EndpointConfig, body: dict[str, Any] | None,
                      limits: Sequence[RateLimit] | None = None, tokens: int = 0) -> None:
        """Reserve the request's estimated cost from every budget that applies; 429 naming the
        first blocking one without room (what the rate limits took is given back). With
        `limits` (the endpoint's rate limits and the request's token estimate, when the ledger
        `folds`), the rate limits' share is taken in the same round trip, all or nothing, and
        `ctx.reservation` set as the rate limiter would."""
        view = self.view()
        p = ctx.principal
        assert p is not None
        groups = ctx.state.snap.groups_of.get((p.type, p.name), frozenset())
        tags = ctx.record.request_tags
        matching = view.index.matching(endpoint.name, p.name, groups, tags) if view.index else []
        if not matching:
            if limits:  # no budget applies: the rate limits alone
                ctx.reservation = await ctx.state.limiter.acquire(endpoint.name, limits, p.type, p.name, groups,
                                                                  tags or {}, tokens)
            return
        planned = None
        if limits and self.folds:
            planned = ctx.state.limiter.plan(endpoint.name, limits, p.type, p.name, groups, tags or {}, tokens)
        elif limits:  # a ledger that cannot fold them: the rate limits first
            ctx.reservation = await ctx.state.limiter.acquire(endpoint.name, limits, p.type, p.name, groups,
                                                              tags or {}, tokens)
        if planned is not None and not planned.items:
            ctx.reservation, planned = planned.reservation, None  # no rate limit applies to this caller
        now = time.time()
        cost = to_nanos(self.estimate(view, endpoint, ctx.raw_body, body, ctx.fmt_name))
        keys: list[str] = []
        bounds: list[tuple[int, int]] = []
        items: list[ReserveItem] = []
        for b in matching:
            start, end = self.clock.bounds(b.period, now)
            key = counter_key(b, start)
            keys.append(key)
            bounds.append((start, end))
            items.append((key, end, to_nanos(b.limit_usd) if b.block else NO_LIMIT, cost, self.seed(key, start, now)))
        status, i = await self._call_reserve(items, planned)
        if status == UNSEEDED:
            unseeded = [(b, key, start, end) for b, key, (start, end) in zip(matching, keys, bounds, strict=True)
                        if self.seed(key, start, now) < 0]
            await self._seed_all(unseeded)
            later = time.time()
            items = [(k, e, lim, c, self.seed(k, bounds[j][0], later)) for j, (k, e, lim, c, _) in enumerate(items)]
            status, i = await self._call_reserve(items, planned)
            if status == UNSEEDED:
                if self.failure == "closed" and ctx.reservation is not None:
                    ctx.state.limiter.release(ctx.reservation)  # refused below: give the rate limits back
                self._unavailable("the usage table's spend could not be read")
                if planned is not None:  # the rate limits alone, then
                    ctx.reservation = await ctx.state.limiter.acquire(endpoint.name, limits or (), p.type, p.name,
                                                                      groups, tags or {}, tokens)
                return
        if status == RATE_LIMITED:
            assert planned is not None
            ctx.state.limiter.refuse(planned, i)
        if status == REFUSED:
            b = matching[i]
            if ctx.reservation is not None:  # what the rate limits took goes back (as when folded)
                ctx.state.limiter.release(ctx.reservation)
            ctx.state.metrics.add("unigate_budget_refusals_total", (b.name,))
            start, end = bounds[i]
            err = BudgetExceeded(refusal_message(b, end), headers={"Retry-After": str(retry_after(end, now))})
            err.budget = b.name
            raise err
        if planned is not None and status in (OK, SKIPPED):
            ctx.reservation = planned.reservation
        if status == OK:
            ctx.budget_hold = BudgetHold(matching, keys, bounds, cost)

    async def _call_reserve(self, items: list[ReserveItem], planned: _Planned | None) -> tuple[str, int]:
        """The ledger's answer; with `planned` rate-limit counters, from the folded call."""
        remote = self._reserve_async if planned is None else self._reserve_folded
        if remote is None:
            return self.ledger.reserve(items)
        try:
            result: tuple[str, int] = await (remote(items) if planned is None else remote(planned.items, items))
            return result
        except (RedisError, RedisConnectionError) as e:
            what = "budgets" if planned is None else "rate limits and budgets"
            if self.failure == "closed":
                raise RedisUnavailable(f"{what} cannot be checked: Redis does not answer") from None
            self._unavailable(f"Redis does not answer ({e})")
            return SKIPPED, -1

    def _unavailable(self, why: str) -> None:
        """Budgets cannot be checked: let the request through (and say so now and then), or
        refuse it, by settings.rate_limit_failure."""
        now = time.monotonic()
        if now - self._logged > 10:
            self._logged = now
            log.warning("budgets cannot be checked: %s; requests are %s", why,
                        "let through" if self.failure == "open" else "refused")
        if self.failure == "closed":
            raise ServiceUnavailable(f"budgets cannot be checked: {why}", headers={"Retry-After": "2"})

    def estimate(self, view: _View, endpoint: EndpointConfig, raw: bytes, body: dict[str, Any] | None,
                 fmt_name: str) -> float:
        """USD the request may cost: its input (about four bytes of request a token, as the
        rate limits estimate) and the most the client lets the model write, at the highest
        price among the endpoint's destinations and fallbacks."""
        if endpoint.name in view.prices:
            price = view.prices[endpoint.name]
        else:
            price = view.prices[endpoint.name] = self._endpoint_price(view, endpoint)
        if price is None:
            return 0.0
        fmt = FORMATS.get(fmt_name)
        out = fmt.max_output_tokens(body) if fmt is not None and body else 0
        return (len(raw) // 4) * price[0] + max(out, 0) * price[1]

    @staticmethod
    def _endpoint_price(view: _View, endpoint: EndpointConfig) -> tuple[float, float] | None:
        snap = view.snap
        pricing = getattr(snap, "pricing", None)
        if pricing is None:
            return None
        best: tuple[float, float] | None = None
        for d in [*endpoint.destinations, *endpoint.fallbacks]:
            p = pricing.catalogue.price(d.provider, pricing.provider_types.get(d.provider, ""), d.model)
            if p is not None:
                per_in, per_out = p.input / 1e6, p.output / 1e6
                best = (per_in, per_out) if best is None else (max(best[0], per_in), max(best[1], per_out))
        return best

    def settle(self, hold: BudgetHold, record: UsageRecord) -> None:
        """Replace the reservation by what the request cost. Unknown cost: nothing for a request
        that failed, the reservation for one that was answered (an unpriced model, no usage)."""
        if hold.settled:
            return
        hold.settled = True
        cost = record.cost_usd
        if cost is None:
            cost = record.cost_usd = self.state.record_cost(record)
        if cost is not None:
            actual = to_nanos(cost)
        else:
            actual = hold.cost if record.status_code == 200 else 0
        items: list[SettleItem] = [(key, hold.cost, actual) for key in hold.keys]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop (tools, tests): now
            self._settle_batch([(hold, items)])
            return
        # Settlements of the requests that end in one turn of the event loop go to the ledger
        # together, after it: one lock (shared memory) or one script (Redis) for all of them.
        self._batch.append((hold, items))
        if len(self._batch) == 1:
            loop.call_soon(self._flush_settlements)

    def _flush_settlements(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._settle_batch(batch)

    def _settle_batch(self, batch: list[tuple[BudgetHold, list[SettleItem]]]) -> None:
        items = [item for _, held in batch for item in held]
        if self._settle_async is None:
            self._distribute(batch, self.ledger.settle(items))
        else:  # in the background: the requests are done
            task = asyncio.get_running_loop().create_task(self._settle_remote(batch, items))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _settle_remote(self, batch: list[tuple[BudgetHold, list[SettleItem]]], items: list[SettleItem]) -> None:
        assert self._settle_async is not None
        try:
            spent = await self._settle_async(items)
        except (RedisError, RedisConnectionError) as e:
            self._unavailable_quietly(e)
            return
        self._distribute(batch, spent)

    def _distribute(self, batch: list[tuple[BudgetHold, list[SettleItem]]], spent: list[int | None]) -> None:
        at = 0
        for hold, held in batch:
            self._settled(hold, spent[at:at + len(held)])
            at += len(held)

    def _unavailable_quietly(self, e: Exception) -> None:
        now = time.monotonic()
        if now - self._logged > 10:
            self._logged = now
            log.warning("a budget settlement was lost (Redis: %s); the usage table keeps the cost", e)

    def _settled(self, hold: BudgetHold, spent: list[int | None]) -> None:
        for budget, (start, end), after in zip(hold.budgets, hold.bounds, spent, strict=True):
            if after is None:
                continue
            self.spend[budget.name] = (to_usd(after), budget.limit_usd)
            if budget.alerts:
                self.alerts.consider(budget, start, end, to_nanos(budget.limit_usd), after)

    # --- seeds ------------------------------------------------------------------------------

    def seed(self, key: str, start: int, now: float) -> int:
        """What a missing counter may start from: a trusted seed, 0 in the first seconds of a
        period (nothing can have been spent in it that the counter did not see), else -1."""
        known = self._seeds.get(key)
        max_age = self.ledger.seed_max_age
        if known is not None and (max_age is None or now - known[1] <= max_age):
            return known[0]
        if now - start < FRESH_PERIOD:
            return 0
        return -1

    async def _seed_all(self, wanted: list[tuple[Budget, str, int, int]]) -> None:
        futures = [self._seed_future(b, key, start, end) for b, key, start, end in wanted]
        if futures:
            await asyncio.wait(futures, timeout=SEED_WAIT)

    def _seed_future(self, budget: Budget, key: str, start: int, end: int) -> asyncio.Future[int | None]:
        running = self._seeding.get(key)
        if running is not None:
            return running
        task = asyncio.get_running_loop().create_task(self._compute_seed(budget, key, start, end))
        self._seeding[key] = task
        task.add_done_callback(lambda _t: self._seeding.pop(key, None))
        return task

    async def _compute_seed(self, budget: Budget, key: str, start: int, end: int) -> int | None:
        members = self._members(budget) if budget.scope == "group" else ()
        taken = time.time()
        try:
            usd = await asyncio.to_thread(db.period_spend, self.state.store, budget, start, end, members)
        except Exception as e:
            log.warning("budget '%s': the period's spend could not be read from the store: %s", budget.name, e)
            return None
        nanos = to_nanos(usd)
        self._seeds[key] = (nanos, taken)
        if len(self._seeds) > 10_000:
            self._seeds = {k: v for k, v in self._seeds.items() if taken - v[1] < 86_400}
        return nanos

    def _members(self, budget: Budget) -> list[str]:
        """Every user and service principal in the budget's group, nesting followed."""
        return [name for (ptype, name), groups in self.state.snap.groups_of.items()
                if ptype != "group" and budget.target in groups]

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Seed the current periods of every budget before the worker serves, then keep the
        figures fresh in the background."""
        await self._seed_current(wait=True)
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _seed_current(self, wait: bool) -> None:
        now = time.time()
        wanted = []
        for b in self.index.all:
            start, end = self.clock.bounds(b.period, now)
            key = counter_key(b, start)
            if key not in self._seeds:
                wanted.append((b, key, start, end))
        if wanted:
            if wait:
                await self._seed_all(wanted)
            else:
                for b, key, start, end in wanted:
                    self._seed_future(b, key, start, end)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            try:
                await self._seed_current(wait=False)  # new budgets, new periods
                await self.refresh()
            except Exception as e:  # keep refreshing: the next round may work
                log.debug("budget refresh failed: %s", e)

    async def refresh(self) -> None:
        """Read every budget's counter: the spend the metrics show."""
        budgets = self.index.all
        if not budgets:
            self.spend = {}
            return
        now = time.time()
        keys = [counter_key(b, self.clock.bounds(b.period, now)[0]) for b in budgets]
        rows = await self.read(keys)
        spend: dict[str, tuple[float, float]] = {}
        for b, key, row in zip(budgets, keys, rows, strict=True):
            if row is not None:
                spend[b.name] = (to_usd(row[1]), b.limit_usd)
            elif key in self._seeds:
                spend[b.name] = (to_usd(self._seeds[key][0]), b.limit_usd)
        self.spend = spend

    async def read(self, keys: list[str]) -> list[tuple[int, int] | None]:
        if self._read_async is not None:
            rows: list[tuple[int, int] | None] = await self._read_async(keys)
            return rows
        return self.ledger.read(keys)

    async def status(self, budget: Budget, now: float | None = None) -> dict[str, Any]:
        """The current period's figures of a budget, for the admin API: its counter's when it
        has one (the ledger), else the usage table's."""
        now = time.time() if now is None else now
        start, end = period_bounds(budget.period, now)
        key = counter_key(budget, start)
        try:
            row = (await self.read([key]))[0]
        except (RedisError, RedisConnectionError):
            row = None
        if row is None:
            members = self._members(budget) if budget.scope == "group" else ()
            spent = committed = to_nanos(await asyncio.to_thread(db.period_spend, self.state.store, budget,
                                                                 start, end, members))
        else:
            committed, spent = row
        limit = to_nanos(budget.limit_usd)
        return {"period_start": iso(start), "period_end": iso(end), "spent_usd": round(to_usd(spent), 9),
                "reserved_usd": round(to_usd(max(0, committed - spent)), 9),
                "remaining_usd": round(to_usd(max(0, limit - committed)), 9),
                "percent_used": round(spent * 100 / limit, 3) if limit else None,
                "resets_in_seconds": retry_after(end, now)}

    async def close(self) -> None:
        self._flush_settlements()
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=2)
        await self.alerts.close()


def refusal_message(budget: Budget, end: int) -> str:
    per = "day" if budget.period == "daily" else "month"
    return (f"budget exceeded: budget '{budget.name}' allows {budget.limit_usd:g} USD per {per} (UTC) for "
            f"{budget.describe_scope()}, and this request's estimated cost does not fit in what is left; "
            f"it resets at {iso(end)}")
