"""cost_usd on every usage row: known traffic through a running gateway with the official
OpenAI, Anthropic and Gemini SDKs against the mock providers (which report deterministic token
counts), priced by the operator's prices and the shipped catalogue; sums by endpoint, requester,
group (nested) and tag; PUT /api/v1/prices for later requests; `unigate apply` with prices; the
CLI's `prices list|set`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.integration.gateway import Gateway, start_gateway
from tests.integration.rawhttp import Reply, bearer, call, until_stable

RUN = uuid.uuid4().hex[:12]
ALICE, BOB = f"alice-{RUN}@example.com", f"bob-{RUN}@example.com"
TEAM, ORG = f"team-{RUN}", f"org-{RUN}"  # ORG holds TEAM (nested) and BOB; TEAM holds ALICE

PRICES = """
prices:
  - {type: openai, model: gpt-4o-mini, input: 1.5, output: 6}
  - {provider: claude, model: claude-haiku-4-5, input: 2, output: 10, cached_input: 0.2, cache_write: 2.5}
"""


def config(mock: str) -> str:
    return f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: compat, type: openai_compatible, base_url: "{mock}/compat/v1"}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
  - {{name: gem, type: gemini, base_url: "{mock}", api_key: mock-gemini-key}}
endpoints:
  - {{name: chat-openai, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
  - {{name: chat-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5-20251001}}]}}
  - {{name: chat-gemini, destinations: [{{provider: gem, model: gemini-2.5-flash}}]}}
  - {{name: chat-compat, destinations: [{{provider: compat, model: llama-3.1-8b}}]}}
  - {{name: emb-openai, destinations: [{{provider: openai-main, model: text-embedding-3-small}}]}}
{PRICES}"""


# (provider, model) -> (input, output, cached_input, cache_write), USD per million tokens: the
# operator's prices above, and the shipped list prices of the two models they do not name
EXPECTED = {
    ("openai-main", "gpt-4o-mini"): (1.5, 6.0, 1.5, 1.5),
    ("claude", "claude-haiku-4-5-20251001"): (2.0, 10.0, 0.2, 2.5),
    ("gem", "gemini-2.5-flash"): (0.3, 2.5, 0.03, 0.3),
    ("openai-main", "text-embedding-3-small"): (0.02, 0.0, 0.02, 0.02),
}


def expected_cost(row: dict[str, Any], prices: dict[tuple[str, str], tuple[float, ...]] = EXPECTED) -> float:
    inp, out, cached, write = prices[(row["destination_provider"], row["destination_model"])]
    read, created = row["cache_read_input_tokens"] or 0, row["cache_creation_input_tokens"] or 0
    plain = row["input_tokens"] - read - created
    return (plain * inp + (row["output_tokens"] or 0) * out + read * cached + created * write) / 1e6


def api(gw: Gateway, method: str, path: str, body: dict[str, Any] | None = None,
        token: str | None = None) -> Reply:
    return call(method, f"{gw.url}/api/v1{path}", body, bearer(token or gw.token))


def rows(gw: Gateway, count: int, **params: Any) -> list[dict[str, Any]]:
    """The usage rows of this run (written in batches off the request path: waited for)."""
    query = urllib.parse.urlencode({"limit": 1000, **params}, doseq=True)
    deadline = time.monotonic() + 10
    while True:
        r = call("GET", f"{gw.url}/api/v1/usage?{query}", headers=bearer(gw.token))
        assert r.status == 200, r.body
        found: list[dict[str, Any]] = r.json()["rows"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def groups(gw: Gateway, group_by: str, **params: Any) -> dict[str, dict[str, Any]]:
    query = urllib.parse.urlencode({"group_by": group_by, **params}, doseq=True)
    r = call("GET", f"{gw.url}/api/v1/usage/aggregate?{query}", headers=bearer(gw.token))
    assert r.status == 200, r.body
    return {g["key"]: g for g in r.json()["groups"]}


def tags(team: str, run: str = RUN) -> dict[str, str]:
    return {"Unigate-Request-Tags": json.dumps({"run": run, "team": team})}


def openai_client(gw: Gateway, token: str, headers: dict[str, str]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base}/mlflow/v1", api_key=token, max_retries=0, default_headers=headers)


def chat_openai(gw: Gateway, token: str, headers: dict[str, str], endpoint: str = "chat-openai") -> Any:
    return openai_client(gw, token, headers).chat.completions.create(
        model=endpoint, messages=[{"role": "user", "content": "hello there"}])


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(config(mock_url))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def people(gw: Gateway) -> dict[str, str]:
    """ALICE in TEAM, TEAM and BOB in ORG; ORG may query every endpoint, BOB manages chat-gemini.
    Returns each one's token."""
    tokens: dict[str, str] = {}
    for email in (ALICE, BOB):
        assert api(gw, "POST", "/users", {"email": email}).status == 201
        r = api(gw, "POST", "/tokens", {"principal": email})
        assert r.status == 201, r.body
        tokens[email] = r.json()["token"]
    assert api(gw, "POST", "/groups", {"name": TEAM, "members": [{"user_name": ALICE}]}).status == 201
    org = {"name": ORG, "members": [{"group_name": TEAM}, {"user_name": BOB}]}
    assert api(gw, "POST", "/groups", org).status == 201
    for endpoint in ("chat-openai", "chat-anthropic", "chat-gemini", "emb-openai", "chat-compat"):
        acl = [{"group_name": ORG, "permission_level": "CAN_QUERY"}]
        if endpoint == "chat-gemini":
            acl.append({"user_name": BOB, "permission_level": "CAN_MANAGE"})
        r = api(gw, "PATCH", f"/endpoints/{endpoint}/permissions", {"access_control_list": acl})
        assert r.status == 200, r.body
    until_stable(lambda: call("POST", f"{gw.base}/mlflow/v1/chat/completions",
                              {"model": "chat-openai", "messages": [{"role": "user", "content": "warm"}]},
                              bearer(tokens[ALICE]) | tags("warm-up", "none")).status == 200)
    return tokens


@pytest.fixture(scope="module")
def traffic(gw: Gateway, people: dict[str, str]) -> list[dict[str, Any]]:
    """Alice: two OpenAI chats (one streamed) and an Anthropic message (team a); Bob: a Gemini
    generateContent and an OpenAI embedding (team b); the admin: a chat on a compatible server
    no price covers (team b). Six rows tagged run=RUN."""
    alice, bob = people[ALICE], people[BOB]
    first = chat_openai(gw, alice, tags("a"))
    assert first.usage is not None and first.usage.prompt_tokens > 0
    stream = openai_client(gw, alice, tags("a")).chat.completions.create(
        model="chat-openai", messages=[{"role": "user", "content": "tell me a longer story please"}],
        stream=True, stream_options={"include_usage": True})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    claude = anthropic.Anthropic(base_url=f"{gw.base}/anthropic", api_key=alice, max_retries=0,
                                 default_headers=tags("a"))
    msg = claude.messages.create(model="chat-anthropic", max_tokens=100,
                                 messages=[{"role": "user", "content": "hi from the anthropic sdk"}])
    assert msg.usage.input_tokens > 0
    gem = genai.Client(api_key=bob, http_options=gt.HttpOptions(base_url=f"{gw.base}/gemini", headers=tags("b")))
    answer = gem.models.generate_content(model="chat-gemini", contents="what does the gemini sdk say")
    assert answer.usage_metadata is not None and answer.usage_metadata.prompt_token_count
    emb = openai_client(gw, bob, tags("b")).embeddings.create(model="emb-openai", input=["one text", "two"])
    assert emb.usage.prompt_tokens > 0
    compat = chat_openai(gw, gw.token, tags("b"), "chat-compat")
    assert compat.choices
    found = rows(gw, 6, tag=f"run={RUN}")
    assert len(found) == 6, found
    by_endpoint = {r["endpoint_name"]: r for r in found}
    assert by_endpoint["chat-openai"]["input_tokens"] is not None
    # what the SDK saw is what the row holds
    assert {r["input_tokens"] for r in found if r["endpoint_name"] == "chat-openai"} >= {first.usage.prompt_tokens}
    assert by_endpoint["chat-anthropic"]["input_tokens"] == msg.usage.input_tokens
    assert by_endpoint["chat-anthropic"]["output_tokens"] == msg.usage.output_tokens
    return found


def test_every_row_costs_its_tokens_times_the_prices(traffic: list[dict[str, Any]]) -> None:
    priced = [r for r in traffic if r["endpoint_name"] != "chat-compat"]
    assert len(priced) == 5
    for row in priced:
        assert row["input_tokens"] and row["status_code"] == 200, row
        assert row["cost_usd"] == pytest.approx(expected_cost(row), rel=1e-9, abs=1e-15), row
        assert row["cost_usd"] > 0
    claude = next(r for r in traffic if r["endpoint_name"] == "chat-anthropic")
    # the operator's entry names claude-haiku-4-5: the configured snapshot -20251001 matches it
    assert claude["cost_usd"] == pytest.approx((claude["input_tokens"] * 2 + claude["output_tokens"] * 10) / 1e6)
    compat = next(r for r in traffic if r["endpoint_name"] == "chat-compat")
    assert compat["cost_usd"] is None and compat["total_tokens"]  # no price for that model: none made up


def test_aggregates_sum_the_costs(gw: Gateway, traffic: list[dict[str, Any]]) -> None:
    tag = f"run={RUN}"

    def total(pred: Any) -> float:
        return sum(r["cost_usd"] or 0.0 for r in traffic if pred(r))

    by_endpoint = groups(gw, "endpoint", tag=tag)
    assert set(by_endpoint) == {"chat-openai", "chat-anthropic", "chat-gemini", "emb-openai", "chat-compat"}
    for name, g in by_endpoint.items():
        assert g["cost_usd"] == pytest.approx(total(lambda r, n=name: r["endpoint_name"] == n), abs=1e-12)
    assert by_endpoint["chat-openai"]["requests"] == 2
    assert by_endpoint["chat-compat"]["unpriced"] == 1 and by_endpoint["chat-compat"]["cost_usd"] == 0
    assert by_endpoint["chat-openai"]["unpriced"] == 0

    by_requester = groups(gw, "requester", tag=tag)
    assert set(by_requester) == {ALICE, BOB, "admin"}
    for who in (ALICE, BOB):
        assert by_requester[who]["cost_usd"] == pytest.approx(total(lambda r, w=who: r["requester"] == w), abs=1e-12)
    alice_cost, bob_cost = by_requester[ALICE]["cost_usd"], by_requester[BOB]["cost_usd"]
    assert alice_cost > 0 and bob_cost > 0

    # a request counts in every group of its requester, nested groups followed
    by_group = groups(gw, "group", tag=tag)
    assert by_group[TEAM]["requests"] == 3 and by_group[TEAM]["cost_usd"] == pytest.approx(alice_cost, abs=1e-12)
    assert by_group[ORG]["requests"] == 5
    assert by_group[ORG]["cost_usd"] == pytest.approx(alice_cost + bob_cost, abs=1e-12)
    assert by_group[ORG]["input_tokens"] == sum(r["input_tokens"] for r in traffic if r["requester"] != "admin")
    assert "admins" not in by_group  # the admin token's principal is in no group

    by_tag = groups(gw, "tag", tag=tag, tag_key="team")
    assert by_tag["team=a"]["cost_usd"] == pytest.approx(alice_cost, abs=1e-12)
    assert by_tag["team=b"]["cost_usd"] == pytest.approx(bob_cost, abs=1e-12)

    by_model = groups(gw, "model", tag=tag)
    assert by_model["gemini-2.5-flash"]["cost_usd"] == pytest.approx(
        total(lambda r: r["destination_model"] == "gemini-2.5-flash"), abs=1e-12)
    by_day = groups(gw, "day", tag=tag)
    assert sum(g["cost_usd"] for g in by_day.values()) == pytest.approx(total(lambda r: True), abs=1e-12)


def test_csv_and_the_cli_show_cost(gw: Gateway, traffic: list[dict[str, Any]]) -> None:
    tag = f"run={RUN}"
    r = call("GET", f"{gw.url}/api/v1/usage/aggregate?group_by=group&format=csv&tag={tag}", headers=bearer(gw.token))
    lines = r.body.decode().splitlines()
    assert lines[0].split(",")[-2:] == ["cost_usd", "unpriced"]
    org = next(line for line in lines if line.startswith(ORG + ","))
    assert float(org.split(",")[-2]) == pytest.approx(groups(gw, "group", tag=tag)[ORG]["cost_usd"], abs=1e-12)
    r = call("GET", f"{gw.url}/api/v1/usage?format=csv&tag={tag}", headers=bearer(gw.token))
    header = r.body.decode().splitlines()[0].split(",")
    assert "cost_usd" in header
    out = cli(gw, "usage", "aggregate", "--group-by", "group", "--tag", tag)
    assert out.returncode == 0, out.stderr
    assert "COST_USD" in out.stdout and ORG in out.stdout and TEAM in out.stdout
    out = cli(gw, "usage", "list", "--tag", tag, "--endpoint", "chat-anthropic")
    claude = next(r for r in traffic if r["endpoint_name"] == "chat-anthropic")
    assert f"{claude['cost_usd']:.6f}" in out.stdout


def mini_input(gw: Gateway) -> float:
    """The operator's input price of gpt-4o-mini (for every openai provider), as GET shows it."""
    data = api(gw, "GET", "/prices").json()
    return float(next(p["input"] for p in data["prices"] if p["origin"] == "operator" and p["model"] == "gpt-4o-mini"))


def cli(gw: Gateway, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UNIGATE_URL": gw.url, "UNIGATE_TOKEN": token or gw.token}
    return subprocess.run([sys.executable, "-m", "unigate.cli", *args], text=True, capture_output=True,
                          env=env, timeout=60)


def test_get_prices_lists_shipped_and_operator_entries(gw: Gateway, people: dict[str, str]) -> None:
    data = api(gw, "GET", "/prices").json()
    assert data["as_of"] and "verify" in data["source"]
    operator = [p for p in data["prices"] if p["origin"] == "operator"]
    assert operator == [  # in the order they apply: a provider's entries before a type's
        {"provider": "claude", "model": "claude-haiku-4-5", "input": 2.0, "output": 10.0, "cached_input": 0.2,
         "cache_write": 2.5, "origin": "operator"},
        {"type": "openai", "model": "gpt-4o-mini", "input": 1.5, "output": 6.0, "cached_input": None,
         "cache_write": None, "origin": "operator"}]
    shipped = {(p["type"], p["model"]): p for p in data["prices"] if p["origin"] == "shipped"}
    assert shipped[("openai", "gpt-4o-mini")]["overridden"] is True
    assert shipped[("gemini", "gemini-2.5-flash")]["input"] == 0.3
    # managers read it too; a caller with no admin right at all does not
    assert api(gw, "GET", "/prices", token=people[BOB]).status == 200
    assert api(gw, "GET", "/prices", token=people[ALICE]).status == 403


def test_only_administrators_change_prices(gw: Gateway, people: dict[str, str]) -> None:
    body = {"prices": [{"type": "openai", "model": "gpt-4o-mini", "input": 0, "output": 0}]}
    for who in (BOB, ALICE):  # a manager of an endpoint, and a user with no admin right
        r = api(gw, "PUT", "/prices", body, token=people[who])
        assert r.status == 403, r.body
        assert r.json()["error"]["code"]
    assert mini_input(gw) == 1.5


@pytest.mark.parametrize(("body", "field"), [
    ({}, "prices"),
    ({"prices": {"type": "openai"}}, "prices"),
    ({"prices": [], "currency": "EUR"}, "currency"),
    ({"prices": [{"type": "openai", "model": "m", "input": -1, "output": 1}]}, "prices[0].input"),
    ({"prices": [{"type": "openai", "model": "m", "input": 1}]}, "prices[0].output"),
    ({"prices": [{"type": "openai", "model": "m", "input": "1", "output": 1}]}, "prices[0].input"),
    ({"prices": [{"type": "nope", "model": "m", "input": 1, "output": 1}]}, "prices[0].type"),
    ({"prices": [{"model": "m", "input": 1, "output": 1}]}, "prices[0].provider"),
    ({"prices": [{"type": "openai", "model": "m", "input": 1, "output": 1, "per": "token"}]}, "prices[0].per"),
    ({"prices": [{"type": "openai", "model": "m", "input": "${HOME}", "output": 1}]}, "prices[0].input"),
    ({"prices": [{"type": "openai", "model": "m", "input": 1, "output": 1},
                 {"type": "openai", "model": "m", "input": 2, "output": 2}]}, "prices[1].model"),
    ({"prices": ["gpt-4o"]}, "prices[0]"),
])
def test_bad_prices_are_400_naming_the_field(gw: Gateway, body: dict[str, Any], field: str) -> None:
    r = api(gw, "PUT", "/prices", body)
    assert r.status == 400, r.body
    assert r.json()["error"].get("field") == field, r.body
    assert mini_input(gw) == 1.5  # nothing changed


def test_a_price_change_applies_to_later_requests(gw: Gateway, people: dict[str, str],
                                                  traffic: list[dict[str, Any]]) -> None:
    before = {r["request_id"]: r["cost_usd"] for r in traffic}
    new = {"prices": [{"type": "openai", "model": "gpt-4o-mini", "input": 100, "output": 1000},
                      {"provider": "claude", "model": "claude-haiku-4-5", "input": 2, "output": 10,
                       "cached_input": 0.2, "cache_write": 2.5}]}
    r = api(gw, "PUT", "/prices", new)
    assert r.status == 200, r.body
    assert r.json()["changed"] == 1
    assert [p["input"] for p in r.json()["prices"] if p["origin"] == "operator"] == [2.0, 100.0]
    audit = api(gw, "GET", "/audit?action=prices.update").json()["entries"]
    assert audit and audit[0]["actor"] == "admin"
    assert audit[0]["details"]["changes"][0]["name"] == "type:openai/gpt-4o-mini"
    run = uuid.uuid4().hex[:12]
    time.sleep(1.5)  # every worker reloads within about a second
    for _ in range(6):  # two workers: each answers some of them
        chat_openai(gw, people[ALICE], tags("a", run))
    later = rows(gw, 6, tag=f"run={run}")
    assert len(later) == 6
    prices = {**EXPECTED, ("openai-main", "gpt-4o-mini"): (100.0, 1000.0, 100.0, 100.0)}
    for row in later:
        assert row["cost_usd"] == pytest.approx(expected_cost(row, prices), rel=1e-9), row
    # rows written before keep the cost they were written with
    assert {r["request_id"]: r["cost_usd"] for r in rows(gw, 6, tag=f"run={RUN}")} == before
    # the same list again changes nothing (and is not audited again)
    assert api(gw, "PUT", "/prices", new).json()["changed"] == 0


def test_prices_cli_list_and_set(gw: Gateway, tmp_path: Any) -> None:
    out = cli(gw, "prices", "list", "--origin", "operator")
    assert out.returncode == 0, out.stderr
    assert "gpt-4o-mini" in out.stdout and "claude-haiku-4-5" in out.stdout and "gemini" not in out.stdout
    listing = json.loads(cli(gw, "prices", "list", "--json").stdout)
    assert any(p["origin"] == "shipped" and p["model"] == "gpt-4o" for p in listing["prices"])
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES.replace("input: 1.5", "input: \"${COSTS_TEST_INPUT}\""))
    env_out = subprocess.run([sys.executable, "-m", "unigate.cli", "prices", "set", str(path)], text=True,
                             capture_output=True, timeout=60,
                             env={**os.environ, "UNIGATE_URL": gw.url, "UNIGATE_TOKEN": gw.token,
                                  "COSTS_TEST_INPUT": "1.25"})
    assert env_out.returncode == 0, env_out.stderr
    assert "1 price(s) changed" in env_out.stdout
    assert mini_input(gw) == 1.25
    path.write_text("prices:\n  - {type: openai, model: gpt-4o-mini, input: -3, output: 1}\n")
    bad = cli(gw, "prices", "set", str(path))
    assert bad.returncode == 1 and "prices[0] (gpt-4o-mini): input: must be a number >= 0" in bad.stderr


def test_apply_plans_and_writes_the_files_prices(gw: Gateway, mock_url: str, tmp_path: Any) -> None:
    path = tmp_path / "unigate.yaml"
    added = "  - {provider: gem, model: gemini-2.5-flash, input: 0.5, output: 4}\n"
    path.write_text(config(mock_url) + added)
    dry = cli(gw, "apply", "-f", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "~ update price type:openai/gpt-4o-mini" in dry.stdout  # 1.25 (prices set) back to the file's 1.5
    assert "+ create price provider:gem/gemini-2.5-flash" in dry.stdout
    assert "Plan: 1 to create, 1 to update, 0 to delete." in dry.stdout
    done = cli(gw, "apply", "-f", str(path), "--yes")
    assert done.returncode == 0, done.stderr
    operator = [p for p in api(gw, "GET", "/prices").json()["prices"] if p["origin"] == "operator"]
    assert {(p.get("provider") or p.get("type"), p["model"], p["input"]) for p in operator} == {
        ("openai", "gpt-4o-mini", 1.5), ("claude", "claude-haiku-4-5", 2.0), ("gem", "gemini-2.5-flash", 0.5)}
    assert "No changes" in cli(gw, "apply", "-f", str(path), "--dry-run").stdout
    run = uuid.uuid4().hex[:12]
    time.sleep(1.5)
    gem = genai.Client(api_key=gw.token, http_options=gt.HttpOptions(base_url=f"{gw.base}/gemini",
                                                                     headers=tags("b", run)))
    for _ in range(4):
        gem.models.generate_content(model="chat-gemini", contents="priced by the applied file")
    for row in rows(gw, 4, tag=f"run={run}"):
        assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 0.5 + row["output_tokens"] * 4) / 1e6)
    # --prune removes the operator's prices the file does not name
    path.write_text(config(mock_url).replace(PRICES, "") + "prices:\n" + added)
    pruned = cli(gw, "apply", "-f", str(path), "--yes", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    operator = [p for p in api(gw, "GET", "/prices").json()["prices"] if p["origin"] == "operator"]
    assert [(p.get("provider"), p["model"]) for p in operator] == [("gem", "gemini-2.5-flash")]
    assert api(gw, "GET", "/audit?action=config.apply").json()["entries"][0]["details"]["summary"]["delete"] == 2


def test_prices_in_the_file_reach_the_store_at_start(mock_url: str) -> None:
    """`unigate serve` writes the file's prices to the store as it does providers (the workers
    price by the stored ones); started again with the file changed, it updates them."""
    g = start_gateway(config(mock_url), workers=1)
    g.stop()

    def stored(gw: Gateway) -> dict[str, float]:
        return {json.loads(s)["model"]: json.loads(s)["input"] for (s,) in gw.query("SELECT spec FROM prices")}

    assert stored(g) == {"claude-haiku-4-5": 2.0, "gpt-4o-mini": 1.5}
    again = start_gateway(config(mock_url).replace("input: 1.5", "input: 1.75"), workers=1, data_dir=g.data_dir)
    try:
        assert stored(again) == {"claude-haiku-4-5": 2.0, "gpt-4o-mini": 1.75}
        chat_openai(again, again.token, tags("a", "restart"))
        row = rows(again, 1, tag="run=restart")[0]
        assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 1.75 + row["output_tokens"] * 6) / 1e6)
    finally:
        again.stop()
