"""The price catalogue: what a request cost, from its token counts.

Prices are USD per million tokens. A price is looked up, for a provider (its configured name and
its type) and a model, in this order:

1. an operator entry for the provider's name and the model;
2. an operator entry for the provider's type and the model;
3. the shipped catalogue (prices.json, providers' published list prices) for the type and model.

At each step the model is tried as given, then without a trailing date snapshot
(gpt-4o-2024-08-06 -> gpt-4o, claude-sonnet-4-5-20250929 -> claude-sonnet-4-5), a Gemini version
number (gemini-2.0-flash-001 -> gemini-2.0-flash), "-latest" or a "models/" prefix. There is no
prefix matching: gpt-4o is a prefix of gpt-4o-mini and gpt-4o-realtime-preview, priced apart, and a
wrong price is worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from unigate.ir.usage import Usage

if TYPE_CHECKING:
    from unigate.accounting.usage import UsageRecord

PER_TOKENS = 1_000_000  # prices are per million tokens

# a trailing snapshot: -2024-08-06, -20250929, -001 (Gemini's stable versions), -latest
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")
_MEMO_MAX = 10_000  # lookups remembered (models come from the configuration: a handful)


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per 1M input tokens that are not cache reads/writes
    output: float  # USD per 1M output tokens (reasoning included)
    cached_input: float | None = None  # USD per 1M cache-read tokens (None: the input price)
    cache_write: float | None = None  # USD per 1M cache-creation tokens (None: the input price)

    def cost(self, usage: Usage) -> float | None:
        """USD for `usage`; None when it has no token counts."""
        if usage.input_tokens is None and usage.output_tokens is None:
            return None
        read = usage.cache_read_tokens or 0
        written = usage.cache_creation_tokens or 0
        plain = max(0, (usage.input_tokens or 0) - read - written)  # reads and writes are subsets
        total = (plain * self.input + (usage.output_tokens or 0) * self.output
                 + read * (self.input if self.cached_input is None else self.cached_input)
                 + written * (self.input if self.cache_write is None else self.cache_write))
        return total / PER_TOKENS

    def as_dict(self) -> dict[str, float | None]:
        return {"input": self.input, "output": self.output,
                "cached_input": self.cached_input, "cache_write": self.cache_write}


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """An operator's price (configuration file or admin API): for one provider, by its name, or
    for every provider of a type."""

    model: str
    price: Price
    provider: str | None = None  # exactly one of provider and type
    type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        key: dict[str, Any] = {"provider": self.provider} if self.provider is not None else {"type": self.type}
        return {**key, "model": self.model, **self.price.as_dict()}

    def spec(self) -> dict[str, Any]:
        """The entry in the configuration file's shape (what is stored): unset prices left out."""
        return {k: v for k, v in self.as_dict().items() if v is not None}

    @property
    def key(self) -> tuple[str, str, str]:
        """("provider", name, model) or ("type", type, model): one price per key."""
        if self.provider is not None:
            return ("provider", self.provider, self.model)
        assert self.type is not None
        return ("type", self.type, self.model)


def model_candidates(model: str) -> list[str]:
    """The names `model` is looked up by: as given, then without its snapshot suffix."""
    names = [model]
    bare = model.removeprefix("models/")  # Gemini's resource name
    if bare != model:
        names.append(bare)
    stripped = _SNAPSHOT.sub("", bare)
    if stripped != bare and stripped:
        names.append(stripped)
    return names


@dataclass(frozen=True, slots=True)
class ShippedCatalogue:
    as_of: str
    source: str
    prices: Mapping[tuple[str, str], Price]  # (provider type, model) -> price


def parse_price(data: Mapping[str, Any], where: str) -> Price:
    """A Price from {input, output, cached_input?, cache_write?}; ValueError names the field."""
    values: dict[str, float | None] = {}
    for name in ("input", "output", "cached_input", "cache_write"):
        value = data.get(name)
        if value is None:
            if name in ("input", "output"):
                raise ValueError(f"{where}.{name} is required (USD per million tokens)")
            values[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
            raise ValueError(f"{where}.{name} must be a number >= 0 (USD per million tokens)")
        values[name] = float(value)
    return Price(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def shipped_catalogue() -> ShippedCatalogue:
    """The catalogue shipped with the package (accounting/prices.json)."""
    raw = orjson.loads(resources.files("unigate.accounting").joinpath("prices.json").read_bytes())
    prices: dict[tuple[str, str], Price] = {}
    for ptype, models in raw["models"].items():
        for model, data in models.items():
            prices[(ptype, model)] = parse_price(data, f"prices.json models.{ptype}.{model}")
    return ShippedCatalogue(as_of=raw["as_of"], source=raw["source"], prices=prices)


class PriceCatalogue:
    """Shipped prices overlaid with the operator's entries. Immutable once made: a configuration
    change makes a new one (lookups are memoised, so repeated lookups are one dict access)."""

    def __init__(self, entries: Iterable[PriceEntry] = (), shipped: ShippedCatalogue | None = None) -> None:
        self.entries: tuple[PriceEntry, ...] = tuple(entries)
        self.shipped = shipped if shipped is not None else shipped_catalogue()
        self._by_provider: dict[tuple[str, str], Price] = {}
        self._by_type: dict[tuple[str, str], Price] = {}
        for e in self.entries:
            if e.provider is not None:
                self._by_provider[(e.provider, e.model)] = e.price
            else:
                assert e.type is not None
                self._by_type[(e.type, e.model)] = e.price
        self._memo: dict[tuple[str, str, str], Price | None] = {}

    def price(self, provider: str, provider_type: str, model: str) -> Price | None:
        key = (provider, provider_type, model)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = self._lookup(provider, provider_type, model)
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[key] = found
        return found

    def _lookup(self, provider: str, provider_type: str, model: str) -> Price | None:
        names = model_candidates(model)
        for table, owner in ((self._by_provider, provider), (self._by_type, provider_type),
                             (self.shipped.prices, provider_type)):
            for name in names:
                found = table.get((owner, name))
                if found is not None:
                    return found
        return None

    def cost_usd(self, provider: str, provider_type: str, model: str, usage: Usage) -> float | None:
        """USD the usage cost; None when no price is known or the usage has no token counts."""
        found = self.price(provider, provider_type, model)
        return None if found is None else found.cost(usage)

    def effective(self) -> list[dict[str, Any]]:
        """Every price, each marked with its origin ("operator" or "shipped"): what the admin API
        lists. Operator entries come first; a shipped price they override is marked so."""
        rows: list[dict[str, Any]] = [{**e.as_dict(), "origin": "operator"} for e in self.entries]
        for (ptype, model), p in sorted(self.shipped.prices.items()):
            overridden = (ptype, model) in self._by_type
            rows.append({"type": ptype, "model": model, **p.as_dict(), "origin": "shipped",
                         "overridden": overridden})
        return rows


@dataclass(frozen=True, slots=True)
class Pricing:
    """A configuration's catalogue and its providers' types: what a usage record cost. Each
    snapshot (unigate.server.snapshot) has one; the usage writer and the request path use it."""

    catalogue: PriceCatalogue
    provider_types: Mapping[str, str]  # provider name -> type

    def cost_usd(self, provider: str, model: str, usage: Usage) -> float | None:
        return self.catalogue.cost_usd(provider, self.provider_types.get(provider, ""), model, usage)

    def record_cost(self, record: UsageRecord) -> float | None:
        """USD the request of `record` cost, from its destination and usage; None when it has no
        destination, no usage (not reported and not estimated yet) or no known price."""
        if record.usage is None or not record.destination_provider or not record.destination_model:
            return None
        return self.cost_usd(record.destination_provider, record.destination_model, record.usage)


def no_pricing() -> Pricing:
    """The shipped catalogue alone, for no configured provider (a snapshot's default)."""
    return Pricing(PriceCatalogue(), {})
