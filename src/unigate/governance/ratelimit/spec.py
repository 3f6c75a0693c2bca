"""The `rate_limits` list of an endpoint spec, parsed and validated.

Shape of one entry (the YAML file, the admin API and `unigate apply` all use it):
`{key: endpoint | user_default | user | service_principal | group | request_tag,
  principal?: str, requests?: int | tokens?: int, renewal_period: minute | hour}`.
Exactly one of `requests` / `tokens`; `principal` is required for user, service_principal, group
and request_tag (there: `"tagkey"` or `"tagkey=value"`) and refused for the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEYS = ("endpoint", "user_default", "user", "service_principal", "group", "request_tag")
PRINCIPAL_KEYS = frozenset({"user", "service_principal", "group", "request_tag"})
PERIOD_SECONDS = {"minute": 60, "hour": 3600}
FIELDS = ("key", "principal", "requests", "tokens", "renewal_period")


class RateLimitSpecError(ValueError):
    """A bad entry; `field` is the full path of the failing field, e.g.
    `rate_limits[1].renewal_period`, so the admin API can return it in its 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RateLimit:
    key: str  # one of KEYS
    principal: str | None  # email / application id / group name / "tag" or "tag=value"
    measure: str  # "requests" or "tokens"
    amount: int  # per window; 0 denies everything the limit applies to
    renewal_period: str  # "minute" or "hour"
    window_seconds: int = field(init=False, repr=False, compare=False)  # 60 or 3600

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_seconds", PERIOD_SECONDS[self.renewal_period])

    def to_dict(self) -> dict[str, Any]:
        """Back to the spec shape (what the admin API returns and the store keeps)."""
        out: dict[str, Any] = {"key": self.key}
        if self.principal is not None:
            out["principal"] = self.principal
        out[self.measure] = self.amount
        out["renewal_period"] = self.renewal_period
        return out


def parse_rate_limits(raw: Any, where: str = "rate_limits") -> list[RateLimit]:
    """Validate the list; `where` is the path of the list itself (e.g. `endpoints[0].rate_limits`).
    Raises RateLimitSpecError naming the failing field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RateLimitSpecError(where, "must be a list")
    limits: list[RateLimit] = []
    seen: dict[tuple[str, str | None, str, str], int] = {}
    for i, entry in enumerate(raw):
        at = f"{where}[{i}]"
        limit = parse_rate_limit(entry, at)
        ident = (limit.key, limit.principal, limit.measure, limit.renewal_period)
        if ident in seen:
            raise RateLimitSpecError(at, f"duplicates {where}[{seen[ident]}] (same key, principal, "
                                         f"{limit.measure} and renewal_period)")
        seen[ident] = i
        limits.append(limit)
    return limits


def parse_rate_limit(entry: Any, at: str) -> RateLimit:
    if not isinstance(entry, dict):
        raise RateLimitSpecError(at, "must be a mapping such as "
                                     "{key: user_default, requests: 60, renewal_period: minute}")
    for name in entry:
        if name not in FIELDS:
            raise RateLimitSpecError(f"{at}.{name}", f"unknown field (expected one of: {', '.join(FIELDS)})")
    key = entry.get("key")
    if key is None:
        raise RateLimitSpecError(f"{at}.key", "missing (required)")
    if not isinstance(key, str) or key not in KEYS:
        raise RateLimitSpecError(f"{at}.key", f"must be one of {', '.join(KEYS)}, got {key!r}")
    principal = _principal(entry.get("principal"), key, f"{at}.principal")
    measures = [m for m in ("requests", "tokens") if entry.get(m) is not None]
    if len(measures) != 1:
        raise RateLimitSpecError(f"{at}.requests", "give exactly one of requests or tokens")
    measure = measures[0]
    amount = entry[measure]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise RateLimitSpecError(f"{at}.{measure}", f"must be a non-negative integer, got {amount!r}")
    period = entry.get("renewal_period")
    if not isinstance(period, str) or period not in PERIOD_SECONDS:
        raise RateLimitSpecError(f"{at}.renewal_period", f"must be minute or hour, got {period!r}")
    return RateLimit(key, principal, measure, amount, period)


def _principal(value: Any, key: str, field: str) -> str | None:
    if key not in PRINCIPAL_KEYS:
        if value not in (None, ""):
            raise RateLimitSpecError(field, f"not allowed with key {key}")
        return None
    if value is None or value == "":
        raise RateLimitSpecError(field, f"missing (required with key {key})")
    if not isinstance(value, str):
        raise RateLimitSpecError(field, f"must be a string, got {value!r}")
    if key == "request_tag":
        tag, _, _ = value.partition("=")
        if not tag.strip():
            raise RateLimitSpecError(field, "must be a tag key or key=value, e.g. team or team=search")
    return value
