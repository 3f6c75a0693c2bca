"""Budget alerts: a threshold reached once per period, told by a webhook, a log line and a metric.

When a finished request's cost brings a budget's spend to one of its alert thresholds, the
worker that settled it claims the alert in the store (a row keyed by budget, period, threshold
and limit: the primary key lets exactly one claimant through, whichever worker or instance,
and it outlives restarts, so an alert is never sent twice in a period). The claimant logs,
counts and POSTs the webhook from a background task: a timeout per attempt, a few attempts
with a growing pause, the outcome written back to the row. Nothing here runs on the request
path but the comparison that decides a claim is worth trying."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Container
from typing import TYPE_CHECKING, Any

import orjson

from unigate import __version__
from unigate.governance.budgets.ledger import to_usd
from unigate.governance.budgets.period import iso
from unigate.governance.budgets.spec import Budget
from unigate.store import budgets as db

if TYPE_CHECKING:
    from unigate.server.state import GatewayState

log = logging.getLogger("unigate.budgets")

ATTEMPTS = 4
TIMEOUT = 5.0  # seconds, one attempt
PAUSES = (1.0, 3.0, 9.0)  # between attempts


def reached(alerts: tuple[float, ...], limit: int, spent: int) -> list[float]:
    """The thresholds (percent of `limit`, nano-dollars) that `spent` has reached. Nothing is
    reached before anything was spent (a budget of 0 alerts on its first cost, not at once)."""
    if spent <= 0:
        return []
    return [t for t in alerts if spent * 100 >= limit * t]


def crossed(alerts: tuple[float, ...], limit: int, before: int, after: int) -> list[float]:
    """The thresholds a change of the spend from `before` to `after` went past."""
    already = set(reached(alerts, limit, before))
    return [t for t in reached(alerts, limit, after) if t not in already]


def threshold_label(t: float) -> str:
    return f"{t:g}"


def payload(budget: Budget, threshold: float, start: int, end: int, spent: int) -> dict[str, Any]:
    return {"type": "budget.alert", "budget": budget.name, "threshold_percent": threshold,
            "limit_usd": budget.limit_usd, "spent_usd": round(to_usd(spent), 9),
            "percent_used": round(to_usd(spent) * 100 / budget.limit_usd, 3) if budget.limit_usd else None,
            "period": budget.period, "period_start": iso(start), "period_end": iso(end),
            "scope": budget.scope_spec(), "block": budget.block, "sent_at": iso(time.time())}


class AlertSender:
    """One per worker: claims alerts and delivers them, in tasks it keeps track of."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self._tried: set[tuple[str, int, float, float]] = set()  # claims this worker attempted
        self._tasks: set[asyncio.Task[None]] = set()

    def consider(self, budget: Budget, start: int, end: int, limit: int, spent: int) -> None:
        """Called on the event loop with a counter's spend after a settle."""
        if not budget.alerts:
            return
        for t in reached(budget.alerts, limit, spent):
            key = (budget.name, start, t, budget.limit_usd)
            if key in self._tried:
                continue
            if len(self._tried) > 10_000:
                self._tried.clear()
            self._tried.add(key)
            task = asyncio.get_running_loop().create_task(self._alert(budget, t, start, end, spent))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def forget_all_but(self, names: Container[str]) -> None:
        """Forget the claims tried for budgets that no longer exist."""
        if self._tried:
            self._tried = {key for key in self._tried if key[0] in names}

    async def _alert(self, budget: Budget, threshold: float, start: int, end: int, spent: int) -> None:
        store = self.state.store
        try:
            claimed = await asyncio.to_thread(db.claim_alert, store, budget.name, start, threshold,
                                              budget.limit_usd, to_usd(spent))
        except Exception as e:  # the store is away: the next worker to reach it tries again
            self._tried.discard((budget.name, start, threshold, budget.limit_usd))
            log.warning("budget '%s': alert at %s%% not claimed yet (store: %s)", budget.name,
                        threshold_label(threshold), e)
            return
        if not claimed:
            return
        self.state.metrics.add("unigate_budget_alerts_total", (budget.name, threshold_label(threshold)))
        log.warning("budget '%s' reached %s%% of %s USD for the %s period from %s: %.6f USD spent",
                    budget.name, threshold_label(threshold), f"{budget.limit_usd:g}",
                    "day" if budget.period == "daily" else "month", iso(start), to_usd(spent))
        if budget.webhook is None:
            return
        body = orjson.dumps(payload(budget, threshold, start, end, spent))
        delivered, error, attempts = await self.deliver(budget, body)
        try:
            await asyncio.to_thread(db.alert_delivered, store, budget.name, start, threshold, budget.limit_usd,
                                    delivered, error, attempts)
        except Exception as e:
            log.warning("budget '%s': the alert's delivery was not recorded: %s", budget.name, e)

    async def deliver(self, budget: Budget, body: bytes) -> tuple[bool, str | None, int]:
        """(delivered, last error, attempts): POST until a 2xx, at most ATTEMPTS times."""
        assert budget.webhook is not None
        headers = {"Content-Type": "application/json", "User-Agent": f"unigate/{__version__}",
                   **budget.webhook.headers}
        error: str | None = None
        for attempt in range(1, ATTEMPTS + 1):
            session = self.state.session
            if session is None:
                return False, "the gateway is shutting down", attempt - 1
            try:
                async with asyncio.timeout(TIMEOUT):
                    resp = await session.post(budget.webhook.url, body, headers)
                    try:
                        await resp.read()
                    finally:
                        resp.close()
                if 200 <= resp.status < 300:
                    return True, None, attempt
                error = f"HTTP {resp.status}"
            except TimeoutError:
                error = f"no answer within {TIMEOUT:g}s"
            except (OSError, ValueError) as e:
                error = str(e) or type(e).__name__
            if attempt < ATTEMPTS:
                await asyncio.sleep(PAUSES[attempt - 1])
        log.warning("budget '%s': the alert webhook failed %d times (%s)", budget.name, ATTEMPTS, error)
        return False, error, ATTEMPTS

    async def close(self, grace: float = 5.0) -> None:
        """Let deliveries under way finish for `grace` seconds, then cancel them."""
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
