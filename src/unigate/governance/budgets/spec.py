"""The `budgets` list (configuration file, admin API, `unigate apply`), parsed and validated.

One entry:

    {name, scope?: {endpoint: E} | {principal: user@x or sp-id} | {group: G} | {tag: {key: value}},
     period: daily | monthly, limit_usd: 100, block?: false, alerts?: [50, 80, 100],
     webhook?: https://... | {url: https://..., headers: {Name: value}}}

No scope (or `scope: global`) is the whole gateway. Periods are UTC calendar days and months.
`alerts` are percentages of the limit (above 100 is allowed: a budget that does not block may
be overspent); `webhook` is called once per alert per period. `block: true` answers 429 when a
request's estimated cost no longer fits."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

PERIODS = ("daily", "monthly")
SCOPE_KINDS = ("endpoint", "principal", "group", "tag")
FIELDS = ("name", "scope", "period", "limit_usd", "block", "alerts", "webhook")
MAX_ALERTS = 10
MAX_LIMIT_USD = 9_000_000  # counted in nano-dollars, compared exactly below 2^53 (redis_ledger)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class BudgetSpecError(ValueError):
    """A bad entry; `field` is the path of the failing field within the entry (`limit_usd`,
    `scope.tag`, `webhook.url`), so callers can prefix it (`budgets[2].limit_usd`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    headers: dict[str, str] = field(default_factory=dict)  # write-only: reads show the names


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    scope: str  # "global" or one of SCOPE_KINDS
    target: str | None  # the endpoint, principal or group; for a tag its key
    tag_value: str | None  # for a tag scope: the value
    period: str  # "daily" | "monthly"
    limit_usd: float
    block: bool = False
    alerts: tuple[float, ...] = ()
    webhook: Webhook | None = None
    # the counters' identity: a changed scope or period starts new counters (seeded from the
    # usage table), a changed limit, alert or webhook keeps them
    counter_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ident = orjson.dumps([self.scope, self.target, self.tag_value, self.period])
        digest = hashlib.blake2b(ident, digest_size=6).hexdigest()
        object.__setattr__(self, "counter_id", f"{self.name}\x1f{digest}")

    def scope_spec(self) -> dict[str, Any] | None:
        if self.scope == "global":
            return None
        if self.scope == "tag":
            return {"tag": {self.target: self.tag_value}}
        return {self.scope: self.target}

    def to_spec(self) -> dict[str, Any]:
        """Back to the entry shape (what the store keeps and the admin API returns)."""
        spec: dict[str, Any] = {"name": self.name}
        scope = self.scope_spec()
        if scope is not None:
            spec["scope"] = scope
        spec["period"] = self.period
        spec["limit_usd"] = self.limit_usd
        spec["block"] = self.block
        if self.alerts:
            spec["alerts"] = [int(a) if a == int(a) else a for a in self.alerts]
        if self.webhook is not None:
            spec["webhook"] = ({"url": self.webhook.url, "headers": dict(self.webhook.headers)}
                               if self.webhook.headers else self.webhook.url)
        return spec

    def describe_scope(self) -> str:
        if self.scope == "global":
            return "all requests"
        if self.scope == "tag":
            return f"requests tagged {self.target}={self.tag_value}"
        if self.scope == "principal":
            return f"requests of '{self.target}'"
        return f"requests of {self.scope} '{self.target}'"

    def applies(self, endpoint: str, principal: str, groups: frozenset[str] | set[str],
                tags: Mapping[str, str]) -> bool:
        """Whether a request (its endpoint, caller, the caller's groups with nesting followed,
        and its tags) counts against this budget."""
        scope = self.scope
        if scope == "global":
            return True
        if scope == "endpoint":
            return endpoint == self.target
        if scope == "principal":
            return principal == self.target
        if scope == "group":
            return self.target in groups
        return self.target is not None and tags.get(self.target) == self.tag_value


def parse_budgets(raw: Any, where: str = "budgets") -> list[Budget]:
    """The whole list; errors name `where[i].field`. A name given twice is an error."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BudgetSpecError(where, "must be a list")
    out: list[Budget] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        try:
            budget = parse_budget(entry)
        except BudgetSpecError as e:
            raise BudgetSpecError(f"{where}[{i}].{e.field}" if e.field else f"{where}[{i}]", e.message) from None
        if budget.name in seen:
            raise BudgetSpecError(f"{where}[{i}].name", f"duplicates {where}[{seen[budget.name]}] "
                                                       f"(a budget named '{budget.name}')")
        seen[budget.name] = i
        out.append(budget)
    return out


def parse_budget(entry: Any) -> Budget:
    if not isinstance(entry, dict):
        raise BudgetSpecError("", "must be a mapping such as {name: team-a, period: monthly, limit_usd: 100}")
    for key in entry:
        if key not in FIELDS:
            raise BudgetSpecError(str(key), f"unknown field (expected one of: {', '.join(FIELDS)})")
    name = entry.get("name")
    if name is None or name == "":
        raise BudgetSpecError("name", "missing (required)")
    if not isinstance(name, str) or not NAME.match(name):
        raise BudgetSpecError("name", "use letters, digits and . _ : - (at most 128), got " + repr(name))
    scope, target, tag_value = _scope(entry.get("scope"))
    period = entry.get("period")
    if period is None:
        raise BudgetSpecError("period", "missing (required: daily or monthly)")
    if period not in PERIODS:
        raise BudgetSpecError("period", f"must be daily or monthly, got {period!r}")
    limit = _number(entry.get("limit_usd"), "limit_usd", "a number of US dollars >= 0, such as 100")
    if limit > MAX_LIMIT_USD:
        raise BudgetSpecError("limit_usd", f"must be at most {MAX_LIMIT_USD:,}, got {limit!r}")
    block = entry.get("block", False)
    if not isinstance(block, bool):
        raise BudgetSpecError("block", f"must be true or false, got {block!r}")
    alerts = _alerts(entry.get("alerts"))
    webhook = _webhook(entry.get("webhook"))
    if webhook is not None and not alerts:
        raise BudgetSpecError("alerts", "give the thresholds (percent of limit_usd, e.g. [80, 100]) "
                                        "at which the webhook is called")
    return Budget(name, scope, target, tag_value, period, limit, block, alerts, webhook)


def _number(value: Any, name: str, what: str) -> float:
    if value is None:
        raise BudgetSpecError(name, f"missing (required: {what})")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0 \
            or value == float("inf"):
        raise BudgetSpecError(name, f"must be {what}, got {value!r}")
    return float(value)


def _scope(raw: Any) -> tuple[str, str | None, str | None]:
    if raw is None or raw == "global" or raw == {}:
        return "global", None, None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise BudgetSpecError("scope", "must name one of endpoint, principal, group or tag, such as "
                                       "{endpoint: my-chat} or {tag: {team: search}} (no scope: every request)")
    kind, value = next(iter(raw.items()))
    if kind not in SCOPE_KINDS:
        raise BudgetSpecError(f"scope.{kind}", f"unknown scope (expected one of: {', '.join(SCOPE_KINDS)})")
    if kind == "tag":
        if not isinstance(value, dict) or len(value) != 1:
            raise BudgetSpecError("scope.tag", "must be one tag as {key: value}, such as {team: search}")
        key, tag_value = next(iter(value.items()))
        if not isinstance(key, str) or not key:
            raise BudgetSpecError("scope.tag", f"the tag key must be a non-empty string, got {key!r}")
        if isinstance(tag_value, bool | int | float) and not isinstance(tag_value, str):
            tag_value = orjson.dumps(tag_value).decode()  # as request tags keep numbers (governance.tags)
        if not isinstance(tag_value, str):
            raise BudgetSpecError(f"scope.tag.{key}", f"must be a string, got {tag_value!r}")
        return "tag", key, tag_value
    if not isinstance(value, str) or not value:
        raise BudgetSpecError(f"scope.{kind}", f"must be a non-empty string, got {value!r}")
    return kind, value, None


def _alerts(raw: Any) -> tuple[float, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BudgetSpecError("alerts", "must be a list of percentages of limit_usd, such as [50, 80, 100]")
    if len(raw) > MAX_ALERTS:
        raise BudgetSpecError("alerts", f"at most {MAX_ALERTS} thresholds")
    values: list[float] = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1000:
            raise BudgetSpecError(f"alerts[{i}]", f"must be a percentage above 0 and at most 1000, got {v!r}")
        if float(v) in values:
            raise BudgetSpecError(f"alerts[{i}]", f"{v!r} is given twice")
        values.append(float(v))
    return tuple(sorted(values))


def _webhook(raw: Any) -> Webhook | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict):
        raise BudgetSpecError("webhook", "must be a URL, or {url: https://..., headers: {...}}")
    for key in raw:
        if key not in ("url", "headers"):
            raise BudgetSpecError(f"webhook.{key}", "unknown field (expected url, headers)")
    url = raw.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url) or any(c in url for c in "\r\n "):
        raise BudgetSpecError("webhook.url", f"must be an http:// or https:// URL, got {url!r}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise BudgetSpecError("webhook.headers", "must be a mapping of header names to values")
    for name, value in headers.items():
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", name):
            raise BudgetSpecError("webhook.headers", f"{name!r} is not a header name")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise BudgetSpecError(f"webhook.headers.{name}", "must be a string without line breaks")
    return Webhook(url, dict(headers))


class BudgetIndex:
    """A snapshot's budgets, indexed by what they are scoped to, so a request finds the ones
    that apply with a few dict lookups."""

    __slots__ = ("all", "by_endpoint", "by_group", "by_name", "by_principal", "by_tag", "everyone")

    def __init__(self, budgets: list[Budget] | tuple[Budget, ...] = ()) -> None:
        self.all = tuple(budgets)
        self.by_name = {b.name: b for b in budgets}
        self.everyone: list[Budget] = []
        self.by_endpoint: dict[str, list[Budget]] = {}
        self.by_principal: dict[str, list[Budget]] = {}
        self.by_group: dict[str, list[Budget]] = {}
        self.by_tag: dict[tuple[str, str], list[Budget]] = {}
        for b in sorted(budgets, key=lambda b: b.name):
            if b.scope == "global":
                self.everyone.append(b)
            elif b.scope == "endpoint":
                self.by_endpoint.setdefault(b.target or "", []).append(b)
            elif b.scope == "principal":
                self.by_principal.setdefault(b.target or "", []).append(b)
            elif b.scope == "group":
                self.by_group.setdefault(b.target or "", []).append(b)
            else:
                self.by_tag.setdefault((b.target or "", b.tag_value or ""), []).append(b)

    def __bool__(self) -> bool:
        return bool(self.all)

    def matching(self, endpoint: str, principal: str, groups: frozenset[str],
                 tags: Mapping[str, str] | None) -> list[Budget]:
        """Every budget the request counts against, each once, ordered by name."""
        found = list(self.everyone)
        found += self.by_endpoint.get(endpoint, ())
        found += self.by_principal.get(principal, ())
        if self.by_group and groups:
            for g in groups:
                found += self.by_group.get(g, ())
        if self.by_tag and tags:
            for item in tags.items():
                found += self.by_tag.get(item, ())
        if len(found) > 1:
            found.sort(key=lambda b: b.name)
        return found
