"""The price catalogue: lookup order (operator by provider, by type, then shipped), snapshot
suffixes, the arithmetic of cached and cache-write tokens, the `prices:` configuration and the
usage writer filling cost_usd (spooled and estimated rows too)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from unigate.accounting.estimate import CHARS_PER_TOKEN
from unigate.accounting.prices import (
    Price,
    PriceCatalogue,
    PriceEntry,
    Pricing,
    model_candidates,
    shipped_catalogue,
)
from unigate.accounting.spool import UsageSpool
from unigate.accounting.usage import UsageRecord, UsageWriter
from unigate.config import ConfigError, parse_config
from unigate.ir.usage import Usage
from unigate.store.sqlite import SQLiteStore

SONNET = Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)


def test_cached_and_cache_write_tokens_are_priced_apart_from_the_rest_of_the_input() -> None:
    # 1000 input tokens of which 200 cache reads and 300 cache writes: 500 plain ones.
    usage = Usage(input_tokens=1000, output_tokens=100, cache_read_tokens=200, cache_creation_tokens=300)
    # (500 * 3 + 100 * 15 + 200 * 0.3 + 300 * 3.75) / 1e6 = (1500 + 1500 + 60 + 1125) / 1e6
    assert SONNET.cost(usage) == pytest.approx(0.004185, abs=1e-15)


def test_without_cache_prices_cached_tokens_cost_the_input_price() -> None:
    usage = Usage(input_tokens=1000, output_tokens=10, cache_read_tokens=100, cache_creation_tokens=50)
    # every input token at 2, output at 8: (1000 * 2 + 10 * 8) / 1e6
    assert Price(2.0, 8.0).cost(usage) == pytest.approx(0.00208, abs=1e-15)


def test_reasoning_tokens_are_output_tokens_already() -> None:
    usage = Usage(input_tokens=10, output_tokens=100, reasoning_tokens=80)
    assert Price(1.0, 10.0).cost(usage) == pytest.approx((10 * 1 + 100 * 10) / 1e6, abs=1e-15)


def test_partial_and_missing_counts() -> None:
    assert Price(1.0, 2.0).cost(Usage()) is None  # nothing reported: no cost, not 0
    assert Price(1.0, 2.0).cost(Usage(output_tokens=10)) == pytest.approx(20 / 1e6)
    assert Price(1.0, 2.0).cost(Usage(input_tokens=7)) == pytest.approx(7 / 1e6)
    assert Price(1.0, 2.0).cost(Usage(input_tokens=0, output_tokens=0)) == 0.0
    # counts that do not add up (more cache reads than input) never price negative tokens
    inconsistent = Usage(input_tokens=10, output_tokens=0, cache_read_tokens=20)
    assert SONNET.cost(inconsistent) == pytest.approx(20 * 0.3 / 1e6)


@pytest.mark.parametrize(("model", "names"), [
    ("gpt-4o-2024-08-06", ["gpt-4o-2024-08-06", "gpt-4o"]),
    ("claude-sonnet-4-5-20250929", ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]),
    ("gemini-2.0-flash-001", ["gemini-2.0-flash-001", "gemini-2.0-flash"]),
    ("models/gemini-2.5-pro", ["models/gemini-2.5-pro", "gemini-2.5-pro"]),
    ("claude-3-5-haiku-latest", ["claude-3-5-haiku-latest", "claude-3-5-haiku"]),
    ("gpt-4o-mini", ["gpt-4o-mini"]),
    ("o3", ["o3"]),
    ("gpt-4.1-nano", ["gpt-4.1-nano"]),
])
def test_model_names_are_tried_without_their_snapshot(model: str, names: list[str]) -> None:
    assert model_candidates(model) == names


def test_shipped_prices_by_type_and_snapshot() -> None:
    c = PriceCatalogue()
    assert c.price("mine", "openai", "gpt-4o") == Price(2.5, 10.0, cached_input=1.25)
    assert c.price("mine", "openai", "gpt-4o-2024-08-06") == Price(2.5, 10.0, cached_input=1.25)
    assert c.price("mine", "openai", "gpt-4o-2024-05-13") == Price(5.0, 15.0)  # its own, older price
    assert c.price("x", "anthropic", "claude-sonnet-4-5-20250929") == SONNET
    assert c.price("x", "gemini", "models/gemini-2.0-flash-001") == Price(0.1, 0.4, cached_input=0.025)
    assert c.price("x", "openai", "text-embedding-3-small") == Price(0.02, 0.0)
    assert c.price("x", "anthropic", "gpt-4o") is None  # prices are per provider type
    assert c.price("x", "openai_compatible", "gpt-4o") is None  # a compatible server is not OpenAI
    assert c.price("x", "azure_openai", "gpt-4o-deployment") is None


@pytest.mark.parametrize("model", ["gpt-4o-realtime-preview", "gpt-4o-mini-audio-preview", "gpt-4o-x",
                                   "claude-sonnet-4-5-extra", "gpt-5-pro"])
def test_no_prefix_matching(model: str) -> None:
    """gpt-4o is a prefix of models priced otherwise: an unknown model has no price, not a wrong one."""
    assert PriceCatalogue().price("p", "openai" if model.startswith("gpt") else "anthropic", model) is None


def test_operator_entries_by_provider_then_type_then_shipped() -> None:
    by_type = PriceEntry("gpt-4o", Price(2.0, 9.0), type="openai")
    by_provider = PriceEntry("gpt-4o", Price(1.0, 4.0, cached_input=0.5), provider="negotiated")
    c = PriceCatalogue([by_type, by_provider])
    assert c.price("negotiated", "openai", "gpt-4o") == Price(1.0, 4.0, cached_input=0.5)
    assert c.price("other", "openai", "gpt-4o") == Price(2.0, 9.0)
    assert c.price("other", "openai", "gpt-4o-mini") == Price(0.15, 0.6, cached_input=0.075)  # shipped
    # the snapshot is stripped at each step: the provider's entry wins over a shipped exact name
    assert c.price("negotiated", "openai", "gpt-4o-2024-05-13") == Price(1.0, 4.0, cached_input=0.5)
    # an entry for a model no catalogue knows, on a type without shipped prices
    local = PriceCatalogue([PriceEntry("llama-3.1-8b", Price(0.05, 0.1), type="openai_compatible")])
    assert local.price("compat", "openai_compatible", "llama-3.1-8b") == Price(0.05, 0.1)
    assert PriceCatalogue().price("compat", "openai_compatible", "llama-3.1-8b") is None


def test_cost_usd_and_lookups_are_memoised() -> None:
    c = PriceCatalogue([PriceEntry("m", Price(4.0, 8.0), provider="p")])
    usage = Usage(input_tokens=250, output_tokens=125)
    assert c.cost_usd("p", "openai", "m", usage) == pytest.approx((250 * 4 + 125 * 8) / 1e6, abs=1e-15)
    assert c.cost_usd("q", "openai", "m", usage) is None
    assert c.cost_usd("p", "openai", "m", Usage()) is None
    assert ("p", "openai", "m") in c._memo and ("q", "openai", "m") in c._memo  # misses are remembered too


def test_effective_catalogue_marks_origins() -> None:
    c = PriceCatalogue([PriceEntry("gpt-4o", Price(2.0, 9.0), type="openai"),
                        PriceEntry("m", Price(1.0, 1.0), provider="p")])
    rows = c.effective()
    assert rows[0] == {"type": "openai", "model": "gpt-4o", "input": 2.0, "output": 9.0,
                       "cached_input": None, "cache_write": None, "origin": "operator"}
    assert rows[1]["provider"] == "p" and rows[1]["origin"] == "operator"
    shipped = {(r["type"], r["model"]): r for r in rows if r["origin"] == "shipped"}
    assert shipped[("openai", "gpt-4o")]["overridden"] is True
    assert shipped[("openai", "gpt-4o-mini")]["overridden"] is False


def test_the_shipped_catalogue_is_sane() -> None:
    shipped = shipped_catalogue()
    assert shipped.as_of[:4].isdigit() and "verify" in shipped.source
    assert {t for t, _ in shipped.prices} == {"openai", "anthropic", "gemini"}
    for (ptype, model), p in shipped.prices.items():
        assert 0 < p.input < 100 and 0 <= p.output < 200, (ptype, model)
        assert p.cached_input is None or p.cached_input < p.input, (ptype, model)
        assert p.cache_write is None or p.cache_write > p.input, (ptype, model)
        if model != "gpt-4o-2024-05-13":  # the one snapshot priced apart from its model
            others = [(ptype, m) for m in model_candidates(model)[1:] if (ptype, m) in shipped.prices]
            assert not others, f"{model} looks like a snapshot of {others}"
    for ptype, model in (("openai", "text-embedding-3-small"), ("openai", "text-embedding-3-large")):
        assert shipped.prices[(ptype, model)].output == 0.0


def test_pricing_prices_a_usage_record_by_its_destination() -> None:
    pricing = Pricing(PriceCatalogue([PriceEntry("m", Price(1.0, 3.0), provider="gone")]),
                      {"claude": "anthropic"})
    record = UsageRecord("r", time.time(), "chat", "/x", destination_provider="claude",
                         destination_model="claude-haiku-4-5-20251001",
                         usage=Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=400))
    # (600 * 1 + 400 * 0.1 + 200 * 5) / 1e6
    assert pricing.record_cost(record) == pytest.approx(0.00164, abs=1e-15)
    record.usage = None
    assert pricing.record_cost(record) is None  # not reported (nor estimated yet)
    orphan = UsageRecord("r", 0.0, "chat", "/x", destination_provider="gone", destination_model="m",
                         usage=Usage(input_tokens=10, output_tokens=10))
    assert pricing.record_cost(orphan) == pytest.approx(40 / 1e6)  # a provider no longer configured
    assert pricing.record_cost(UsageRecord("r", 0.0, "chat", "/x", usage=Usage(input_tokens=1))) is None


# --- the configuration's `prices:` ---------------------------------------------------------------

def test_prices_in_the_configuration() -> None:
    cfg = parse_config({"prices": [
        {"type": "openai", "model": "gpt-4o", "input": 2, "output": 8.5, "cached_input": 1},
        {"provider": "mine", "model": "gpt-4o", "input": 0, "output": 0, "cache_write": 0.25},
    ]}, "u.yaml")
    assert cfg.prices == [PriceEntry("gpt-4o", Price(2.0, 8.5, cached_input=1.0), type="openai"),
                          PriceEntry("gpt-4o", Price(0.0, 0.0, cache_write=0.25), provider="mine")]
    assert cfg.prices[1].spec() == {"provider": "mine", "model": "gpt-4o", "input": 0.0, "output": 0.0,
                                    "cache_write": 0.25}
    assert parse_config({}, "u.yaml").prices == []


def test_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPT4O_INPUT", "2.25")
    cfg = parse_config({"prices": [{"type": "openai", "model": "gpt-4o", "input": "${GPT4O_INPUT}",
                                    "output": "${GPT4O_OUTPUT:-9}"}]}, "u.yaml")
    assert cfg.prices[0].price == Price(2.25, 9.0)


@pytest.mark.parametrize(("entry", "message"), [
    ({"model": "m", "input": 1, "output": 1}, "prices[0] (m): provider: give the provider's name, or type"),
    ({"provider": "p", "type": "openai", "model": "m", "input": 1, "output": 1}, "prices[0] (m): provider:"),
    ({"type": "mistral", "model": "m", "input": 1, "output": 1}, "prices[0] (m): type: unknown provider type"),
    ({"type": "openai", "input": 1, "output": 1}, "prices[0]: model: missing"),
    ({"type": "openai", "model": "m", "output": 1}, "prices[0] (m): input: missing"),
    ({"type": "openai", "model": "m", "input": 1}, "prices[0] (m): output: missing"),
    ({"type": "openai", "model": "m", "input": -1, "output": 1}, "prices[0] (m): input: must be a number >= 0"),
    ({"type": "openai", "model": "m", "input": "2", "output": 1}, "prices[0] (m): input: must be a number"),
    ({"type": "openai", "model": "m", "input": True, "output": 1}, "prices[0] (m): input: must be a number"),
    ({"type": "openai", "model": "m", "input": 1, "output": 1, "cached_input": float("nan")},
     "prices[0] (m): cached_input: must be a number"),
    ({"type": "openai", "model": "m", "input": 1, "output": 1, "cache_write": float("inf")},
     "prices[0] (m): cache_write: must be a number"),
    ({"type": "openai", "model": "m", "input": 1, "output": 1, "currency": "EUR"},
     "prices[0] (m): unknown field 'currency'"),
    ("gpt-4o", "prices[0]: must be a mapping"),
])
def test_bad_prices_are_refused_naming_the_field(entry: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"prices": [entry]}, "u.yaml")
    assert str(e.value).startswith(f"u.yaml: {message}"), str(e.value)


def test_a_price_given_twice_is_refused() -> None:
    twice = [{"type": "openai", "model": "m", "input": 1, "output": 1},
             {"type": "openai", "model": "m", "input": 2, "output": 2}]
    with pytest.raises(ConfigError, match=r"prices\[1\]: model: type openai already has a price for model 'm'"):
        parse_config({"prices": twice}, "u.yaml")
    with pytest.raises(ConfigError, match="prices: must be a list"):
        parse_config({"prices": {"type": "openai"}}, "u.yaml")
    # the same model for a type and for a provider is two prices, not one given twice
    both = [twice[0], {"provider": "openai", "model": "m", "input": 1, "output": 1}]
    assert len(parse_config({"prices": both}, "u.yaml").prices) == 2


# --- the usage writer fills cost_usd --------------------------------------------------------------

def _pricing() -> Pricing:
    return Pricing(PriceCatalogue([PriceEntry("m", Price(2.0, 6.0), provider="p")]), {"p": "openai"})


def _record(i: int, **kw: object) -> UsageRecord:
    return UsageRecord(f"req-{i}", time.time(), "chat", "/x", endpoint_name="e", status_code=200,
                       destination_provider="p", destination_model="m", **kw)  # type: ignore[arg-type]


def _costs(store: SQLiteStore) -> dict[str, float | None]:
    return {r["request_id"]: r["cost_usd"] for r in store.usage_rows(limit=100)}


def test_the_writer_prices_rows_reported_and_estimated(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    writer = UsageWriter(store, interval=60)
    writer.pricing = _pricing
    writer.start()
    writer.put(_record(1, usage=Usage(input_tokens=100, output_tokens=50)))
    writer.put(_record(2, estimate_from=("no-such-format", "e", b"x" * 400, None)))
    writer.put(_record(3))  # a failed request: no usage, no cost
    writer.put(_record(4, usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.5))  # priced already
    writer.stop()
    costs = _costs(store)
    assert costs["req-1"] == pytest.approx((100 * 2 + 50 * 6) / 1e6, abs=1e-15)
    assert costs["req-2"] == pytest.approx(400 // CHARS_PER_TOKEN * 2 / 1e6, abs=1e-15)
    assert costs["req-3"] is None
    assert costs["req-4"] == 0.5


def test_spooled_rows_carry_their_cost(tmp_path: Path) -> None:
    """With a spool the row is made when the request ends (and reused by the writer): its cost
    is in it then, so a row replayed from the spool after a crash has it too."""
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    spool = UsageSpool(tmp_path / "spool")
    writer = UsageWriter(store, interval=60, spool=spool)
    writer.pricing = _pricing
    writer.put(_record(1, usage=Usage(input_tokens=1000, output_tokens=0)))
    writer.put(_record(2, estimate_from=("no-such-format", "e", b"x" * 40, None)))
    lines = [orjson.loads(line) for p in spool.directory.glob("usage-*.jsonl") for line in p.read_bytes().splitlines()]
    spooled = {row[0]: row[-1] for row in lines}
    assert spooled["req-1"] == pytest.approx(1000 * 2 / 1e6)
    assert spooled["req-2"] is None  # not estimated yet: its tokens (and cost) come in the writer
    writer.start()
    writer.stop()
    costs = _costs(store)
    assert costs["req-1"] == pytest.approx(1000 * 2 / 1e6)
    assert costs["req-2"] == pytest.approx(40 // CHARS_PER_TOKEN * 2 / 1e6)


# --- docs/costs.md ---------------------------------------------------------------------------------

def test_the_examples_in_costs_md_are_what_unigate_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import yaml

    from unigate.cli import build_parser

    text = (Path(__file__).resolve().parents[2] / "docs" / "costs.md").read_text()
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("AZURE_KEY", "k")
    [block] = re.findall(r"```yaml\n(.*?)```", text, re.S)
    cfg = parse_config(yaml.safe_load(block), "costs.md")
    c = PriceCatalogue(cfg.prices)
    assert c.price("openai-eu", "openai", "gpt-4o-2024-11-20") == Price(2.25, 9.0, cached_input=1.1)
    assert c.price("other", "openai_compatible", "llama-3.1-8b") == Price(0.05, 0.1)
    body = re.search(r"-d '(\{.*?\})'", text, re.S)
    assert body is not None
    parse_config(orjson.loads(body.group(1)), "costs.md")
    parser = build_parser()
    commands = re.findall(r"^unigate (prices .*?|usage aggregate .*?)(?:\s+#.*)?$", text, re.M)
    assert len(commands) == 6, commands
    for command in commands:
        parser.parse_args(command.split())
