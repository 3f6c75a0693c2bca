"""Fallbacks, timeouts, passive health, traffic splits and session affinity, driven by faults
injected into the mock providers, through every client dialect."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.integration.gateway import Gateway, free_port, start_gateway
from tests.integration.rawhttp import Reply, bearer, call
from tests.integration.routing_env import clear_faults, outcomes, queue_faults, routing_config, usage_row

# The OpenAI primary is reached on /v1/chat/completions (chat and Gemini clients translate to
# it) or /v1/responses (the Responses client's fast path).
OPENAI_PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses",
                "anthropic": "/v1/chat/completions", "gemini": "/v1/chat/completions"}


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    g = start_gateway(routing_config(mock_url, free_port()), workers=1)
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def no_leftover_faults(mock_url: str) -> Iterator[None]:
    clear_faults(mock_url)
    yield
    clear_faults(mock_url)


def ask(gw: Gateway, surface: str, endpoint: str, text: str = "hello", stream: bool = False,
        headers: dict[str, str] | None = None) -> Reply:
    h = {**bearer(gw.token), **(headers or {})}
    if surface == "chat":
        body: dict[str, object] = {"model": endpoint, "messages": [{"role": "user", "content": text}]}
        path = "/mlflow/v1/chat/completions"
    elif surface == "responses":
        body, path = {"model": endpoint, "input": text}, "/openai/v1/responses"
    elif surface == "anthropic":
        body = {"model": endpoint, "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
        path = "/anthropic/v1/messages"
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return call("POST", f"{gw.base}/gemini/v1beta/models/{endpoint}:{method}", body, h)
    if stream:
        body["stream"] = True
    return call("POST", gw.base + path, body, h)


FAULTS = ["status=500", "status=502", "status=503", "status=429,retry_after=2", "reset", "malformed_json"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("surface", ["chat", "responses", "anthropic", "gemini"])
def test_a_failing_primary_falls_back(gw: Gateway, mock_url: str, surface: str, fault: str) -> None:
    queue_faults(mock_url, OPENAI_PATHS[surface], fault)
    r = ask(gw, surface, "fb")
    assert r.status == 200, r.body
    assert b"MOCK-UPSTREAM-OK" in r.body
    row = usage_row(gw, r.headers["x-request-id"])
    got = outcomes(row)
    assert got[0][0] == "openai-main" and got[0][1] != "ok", got
    assert got[1] == ("claude", "ok"), got
    assert row["status_code"] == 200 and row["destination_provider"] == "claude"


@pytest.mark.parametrize("surface", ["chat", "anthropic"])
def test_a_failing_primary_falls_back_for_streams(gw: Gateway, mock_url: str, surface: str) -> None:
    queue_faults(mock_url, OPENAI_PATHS[surface], "status=503")
    r = ask(gw, surface, "fb", stream=True)
    assert r.status == 200 and b"MOCK-UPSTREAM-OK" in r.body.replace(b'"', b"")  # text deltas
    assert [o[1] == "ok" for o in outcomes(usage_row(gw, r.headers["x-request-id"]))] == [False, True]


def test_client_errors_are_never_retried(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "status=400")
    before = call("GET", f"{mock_url}/_mock/stats").json()["by_path"].get("/v1/messages", 0)
    r = ask(gw, "chat", "fb")
    assert r.status == 400
    assert "error" in r.json()
    after = call("GET", f"{mock_url}/_mock/stats").json()["by_path"].get("/v1/messages", 0)
    assert after == before, "a 400 went on to the fallback"
    assert len(outcomes(usage_row(gw, r.headers["x-request-id"]))) == 1


def test_when_every_destination_fails_a_429_keeps_the_longest_retry_after(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "status=429,retry_after=7")
    queue_faults(mock_url, "/v1/messages", "status=429,retry_after=3")
    queue_faults(mock_url, ":generateContent", "status=503")
    r = ask(gw, "chat", "fb")
    assert r.status == 429, r.body
    assert r.headers["retry-after"] == "7"
    got = outcomes(usage_row(gw, r.headers["x-request-id"]))
    assert [p for p, _ in got] == ["openai-main", "claude", "gem"] and all(o != "ok" for _, o in got)


def test_the_attempt_budget_bounds_fallbacks(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "status=503")
    queue_faults(mock_url, "/v1/messages", "status=503")
    r = ask(gw, "chat", "fb-budget")
    assert r.status == 503
    assert len(outcomes(usage_row(gw, r.headers["x-request-id"]))) == 2


def test_an_error_after_the_first_byte_ends_the_stream_without_fallback(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "cut_stream=3")
    r = ask(gw, "chat", "fb", text="one two three four five six seven", stream=True)
    assert r.status == 200
    assert b'"error"' in r.body and b"[DONE]" not in r.body
    got = outcomes(usage_row(gw, r.headers["x-request-id"]))
    assert len(got) == 1 and got[0][1] != "ok"


def test_first_token_timeout_falls_back(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "hang_after_headers=3")
    r = ask(gw, "chat", "first-token", stream=True)
    assert r.status == 200 and b"[DONE]" in r.body, r.body[:300]
    got = outcomes(usage_row(gw, r.headers["x-request-id"]))
    assert got[0] == ("openai-main", "upstream_timeout") and got[1] == ("claude", "ok"), got


def test_unreachable_destination_cools_down(mock_url: str) -> None:
    gw = start_gateway(routing_config(mock_url, free_port(), health_failures=3), workers=1)
    try:
        _cools_down(gw)
    finally:
        gw.stop()


def _cools_down(gw: Gateway) -> None:
    first = [outcomes(usage_row(gw, ask(gw, "chat", "dead-first").headers["x-request-id"])) for _ in range(3)]
    assert all(o[0][0] == "dead" and o[0][1] == "upstream_unreachable" for o in first), first
    later = outcomes(usage_row(gw, ask(gw, "chat", "dead-first").headers["x-request-id"]))
    assert later[0] == ("openai-main", "ok"), later  # the dead one is skipped while it cools down


def test_traffic_split_follows_the_weights(gw: Gateway) -> None:
    counts: Counter[str] = Counter()
    ids = [ask(gw, "chat", "split", text=f"n{i}").headers["x-request-id"] for i in range(400)]
    usage_row(gw, ids[-1])  # the writer has flushed up to the last one
    rows = call("GET", f"{gw.url}/api/v1/usage?endpoint=split&limit=1000", headers=bearer(gw.token)).json()["rows"]
    mine = {r["request_id"]: r for r in rows}
    for i in ids:
        counts[mine[i]["destination_provider"]] += 1
    share = counts["openai-main"] / sum(counts.values())
    assert 0.62 <= share <= 0.78, counts  # 70 % +- 8 points at n=400 (about 3.5 standard deviations)


def test_session_affinity_keeps_one_destination(gw: Gateway) -> None:
    sent: dict[str, list[str]] = {}
    for session in ("conversation-a", "conversation-b", "conversation-c", "conversation-d"):
        sent[session] = [ask(gw, "chat", "split", headers={"x-session-id": session})
                         .headers["x-request-id"] for _ in range(8)]
    sent["cc-1"] = [ask(gw, "anthropic", "split", headers={"X-Claude-Code-Session-Id": "cc-1"})
                    .headers["x-request-id"] for _ in range(6)]
    usage_row(gw, sent["cc-1"][-1])
    rows = call("GET", f"{gw.url}/api/v1/usage?endpoint=split&limit=2000", headers=bearer(gw.token)).json()["rows"]
    where = {r["request_id"]: r["destination_provider"] for r in rows}
    for session, ids in sent.items():
        assert len({where[i] for i in ids}) == 1, (session, [where[i] for i in ids])


def test_no_fallbacks_configured_returns_the_provider_error(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "status=503")
    r = ask(gw, "chat", "solo")
    assert r.status == 503
    assert json.loads(r.body)["error"]


def test_hang_before_headers_counts_against_the_first_token_timeout(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/chat/completions", "hang_before_headers=3")
    r = ask(gw, "chat", "first-token", stream=True)
    assert r.status == 200 and b"[DONE]" in r.body
    got = outcomes(usage_row(gw, r.headers["x-request-id"]))
    assert got[0] == ("openai-main", "upstream_timeout") and got[1] == ("claude", "ok"), got


@pytest.mark.parametrize("surface", ["chat", "responses", "anthropic", "gemini"])
def test_anthropic_overloaded_529_falls_back(gw: Gateway, mock_url: str, surface: str) -> None:
    queue_faults(mock_url, "/v1/messages", "status=529")
    r = ask(gw, surface, "fb-claude")
    assert r.status == 200, r.body
    assert outcomes(usage_row(gw, r.headers["x-request-id"])) == [
        ("claude", "upstream_error"), ("openai-main", "ok")]


@pytest.mark.parametrize("surface", ["chat", "responses", "gemini"])
def test_malformed_sse_before_the_first_client_byte_falls_back(gw: Gateway, mock_url: str,
                                                               surface: str) -> None:
    """Translated: the second upstream event is broken. The client's first bytes wait for the
    first content (the role chunk of a chat stream included), so nothing has been sent yet and
    the fallback answers."""
    queue_faults(mock_url, "/v1/messages", "malformed_sse")
    r = ask(gw, surface, "fb-claude", stream=True)
    assert r.status == 200 and b"MOCK-UPSTREAM-OK" in r.body.replace(b'"', b""), r.body[:300]
    got = outcomes(usage_row(gw, r.headers["x-request-id"]))
    assert got[0][0] == "claude" and got[0][1] != "ok" and got[-1] == ("openai-main", "ok"), got


def test_the_fast_path_relays_a_stream_as_the_provider_sent_it(gw: Gateway, mock_url: str) -> None:
    """Same format: once the first event is sound the stream is committed and relayed byte for
    byte, a later broken event included (the client sees what the provider sent)."""
    queue_faults(mock_url, "/v1/messages", "malformed_sse")
    r = ask(gw, "anthropic", "fb-claude", stream=True)
    assert r.status == 200 and r.body.startswith(b"event: message_start")
    assert outcomes(usage_row(gw, r.headers["x-request-id"])) == [("claude", "ok")]


@pytest.mark.parametrize("surface", ["chat", "anthropic"])
def test_a_slow_stream_is_relayed_whole(gw: Gateway, mock_url: str, surface: str) -> None:
    r = ask(gw, surface, "fb", text="a b c d e MOCK_FAULT:slow_stream=0.1", stream=True)
    assert r.status == 200
    assert (b"[DONE]" in r.body) if surface == "chat" else (b"message_stop" in r.body)


def test_embeddings_fall_back_too(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/embeddings", "status=503")
    r = call("POST", f"{gw.base}/mlflow/v1/embeddings", {"model": "emb-fb", "input": ["a", "b"]},
             bearer(gw.token))
    assert r.status == 200 and len(r.json()["data"]) == 2, r.body[:300]
    assert outcomes(usage_row(gw, r.headers["x-request-id"])) == [
        ("openai-main", "upstream_error"), ("gem", "ok")]


def test_token_counting_falls_back_too(gw: Gateway, mock_url: str) -> None:
    queue_faults(mock_url, "/v1/messages/count_tokens", "status=529")
    r = call("POST", f"{gw.base}/anthropic/v1/messages/count_tokens",
             {"model": "count-fb", "messages": [{"role": "user", "content": "count me please"}]},
             bearer(gw.token))
    assert r.status == 200 and r.json()["input_tokens"] > 0, r.body


def test_nothing_leaks_after_the_faults(gw: Gateway) -> None:
    """Runs after the fault tests above (file order): no upstream connection is still held and
    no request task lingers."""
    time.sleep(0.5)
    rt = call("GET", f"{gw.url}/api/v1/runtime", headers=bearer(gw.token)).json()
    assert rt["upstream_connections_in_use"] == 0, rt
    # this request's, the metrics poster's, the budgets' refresher, and with Redis its subscribers'
    assert rt["tasks"] <= 6, rt
