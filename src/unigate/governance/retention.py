"""Per-endpoint payload retention: `inference_table: {enabled: true, retention_days: N}`.

The payload writer thread calls `RetentionPurger.maybe_purge()` between batches; it deletes
payload rows older than N days, at most once per `interval` (an hour by default). Endpoints
without `retention_days` keep their rows; rows of deleted endpoints are kept too (an admin
may still want them) until purged by hand."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from unigate.store.base import Store
from unigate.store.payloads import purge_payloads

log = logging.getLogger("unigate.payloads")
DAY = 86400.0
MAX_RETENTION_DAYS = 36500


def inference_table_error(table: Any) -> str | None:
    """Why an `inference_table` mapping is invalid ("field: message"), or None. For the
    config and admin API validation: {enabled: bool, retention_days: positive int}."""
    if not isinstance(table, Mapping):
        return "inference_table: must be a mapping such as {enabled: true, retention_days: 30}"
    for key in table:
        if key not in ("enabled", "retention_days"):
            return f"inference_table.{key}: unknown field (expected enabled, retention_days)"
    if "enabled" in table and not isinstance(table["enabled"], bool):
        return "inference_table.enabled: must be true or false"
    days = table.get("retention_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 1 <= days <= MAX_RETENTION_DAYS):
        return f"inference_table.retention_days: must be an integer from 1 to {MAX_RETENTION_DAYS}"
    return None


def payload_logging_enabled(table: Mapping[str, Any] | None) -> bool:
    """Whether an endpoint's `inference_table` setting asks for payload rows."""
    return table is not None and table.get("enabled") is True


def retention_days(endpoints: Mapping[str, Any]) -> dict[str, int]:
    """{endpoint name: days} for endpoints (EndpointConfig objects, or spec dicts) that set
    a retention; whether logging is still enabled does not matter (old rows still expire)."""
    out: dict[str, int] = {}
    for name, ep in endpoints.items():
        table = ep.get("inference_table") if isinstance(ep, Mapping) else getattr(ep, "inference_table", None)
        days = table.get("retention_days") if isinstance(table, Mapping) else None
        if isinstance(days, int) and not isinstance(days, bool) and days > 0:
            out[name] = days
    return out


RetentionSource = Callable[[], Mapping[str, int]]


class RetentionPurger:
    """Runs the purge at most once per `interval` seconds; `source` gives the current
    {endpoint: days} (read anew each time, so configuration changes apply)."""

    def __init__(self, store: Store, source: RetentionSource | None = None,
                 interval: float = 3600.0) -> None:
        self._store = store
        self.source = source
        self.interval = interval
        self._next = 0.0  # first purge soon after start

    def maybe_purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        if self.source is None or now < self._next:
            return 0
        self._next = now + self.interval
        return self.purge(now)

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        total = 0
        for endpoint, days in (self.source() if self.source else {}).items():
            try:
                total += purge_payloads(self._store, endpoint, now - days * DAY)
            except Exception as e:  # store unavailable: try again at the next interval
                log.warning("payload retention purge for %s failed: %s", endpoint, e)
        if total:
            log.info("payload retention: deleted %d expired row(s)", total)
        return total
