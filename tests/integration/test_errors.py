"""Bad input and provider faults get the right status, in the client dialect's own error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import Reply, bearer, call


def openai_shape(r: Reply) -> dict[str, Any]:
    err = r.json()["error"]
    assert isinstance(err["message"], str) and "type" in err
    return err


def anthropic_shape(r: Reply) -> dict[str, Any]:
    body = r.json()
    assert body["type"] == "error" and isinstance(body["error"]["message"], str)
    return body["error"]


def gemini_shape(r: Reply) -> dict[str, Any]:
    err = r.json()["error"]
    assert err["code"] == r.status and isinstance(err["status"], str)
    return err


# (path, valid body for endpoint chat-X, error shape checker)
SURFACES: dict[str, tuple[str, Callable[[str], dict[str, Any]], Callable[[Reply], dict[str, Any]]]] = {
    "chat": ("/mlflow/v1/chat/completions",
             lambda ep: {"model": ep, "messages": [{"role": "user", "content": "hi"}]}, openai_shape),
    "responses": ("/openai/v1/responses", lambda ep: {"model": ep, "input": "hi"}, openai_shape),
    "anthropic": ("/anthropic/v1/messages", lambda ep: {
        "model": ep, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}, anthropic_shape),
    "gemini": ("/gemini/v1beta/models/{ep}:generateContent",
               lambda ep: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, gemini_shape),
}


def url_for(gw: Gateway, surface: str, endpoint: str) -> str:
    return gw.base + SURFACES[surface][0].format(ep=endpoint)


@pytest.mark.parametrize("surface", SURFACES)
def test_malformed_json_is_400(gateway: Gateway, surface: str) -> None:
    r = call("POST", url_for(gateway, surface, "chat-openai"), b"{not json", bearer(gateway.token))
    assert r.status == 400
    assert "JSON" in SURFACES[surface][2](r)["message"]
    assert r.headers.get("x-request-id")


@pytest.mark.parametrize("surface", SURFACES)
def test_missing_and_bad_credentials_are_401(gateway: Gateway, surface: str) -> None:
    body = SURFACES[surface][1]("chat-openai")
    for headers in ({}, bearer("not-a-token"), {"x-api-key": "nope"}):
        r = call("POST", url_for(gateway, surface, "chat-openai"), body, headers)
        assert r.status == 401, (headers, r.body)
        SURFACES[surface][2](r)


@pytest.mark.parametrize("surface", SURFACES)
def test_unknown_endpoint_is_404(gateway: Gateway, surface: str) -> None:
    r = call("POST", url_for(gateway, surface, "no-such-endpoint"), SURFACES[surface][1]("no-such-endpoint"),
             bearer(gateway.token))
    assert r.status == 404
    assert "no-such-endpoint" in SURFACES[surface][2](r)["message"]


@pytest.mark.parametrize("surface", ["chat", "responses", "anthropic"])
def test_missing_model_is_400_naming_it(gateway: Gateway, surface: str) -> None:
    body = SURFACES[surface][1]("x")
    del body["model"]
    r = call("POST", url_for(gateway, surface, "x"), body, bearer(gateway.token))
    assert r.status == 400
    assert "model" in SURFACES[surface][2](r)["message"]


@pytest.mark.parametrize("surface", SURFACES)
def test_body_over_the_limit_is_413(gateway: Gateway, surface: str) -> None:
    body = SURFACES[surface][1]("chat-openai")
    body["padding"] = "x" * (1024 * 1024 + 10)
    r = call("POST", url_for(gateway, surface, "chat-openai"), body, bearer(gateway.token))
    assert r.status == 413
    SURFACES[surface][2](r)


def test_anthropic_missing_max_tokens_is_400_naming_it(gateway: Gateway) -> None:
    for ep in ("chat-openai", "chat-anthropic"):
        r = call("POST", url_for(gateway, "anthropic", ep),
                 {"model": ep, "messages": [{"role": "user", "content": "hi"}]}, bearer(gateway.token))
        assert r.status == 400, r.body
        assert "max_tokens" in anthropic_shape(r)["message"]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_upstream_429_keeps_status_and_retry_after(gateway: Gateway, surface: str, provider: str) -> None:
    body = SURFACES[surface][1](f"chat-{provider}")
    text = "MOCK_FAULT:status=429,retry_after=7"
    if surface == "chat":
        body["messages"][0]["content"] = text
    elif surface == "responses":
        body["input"] = text
    elif surface == "anthropic":
        body["messages"][0]["content"] = text
    else:
        body["contents"][0]["parts"][0]["text"] = text
    r = call("POST", url_for(gateway, surface, f"chat-{provider}"), body, bearer(gateway.token))
    assert r.status == 429, r.body
    assert r.headers.get("retry-after") == "7"
    SURFACES[surface][2](r)


@pytest.mark.parametrize("surface", SURFACES)
def test_unreachable_upstream_is_502(gateway: Gateway, surface: str) -> None:
    r = call("POST", url_for(gateway, surface, "chat-dead"), SURFACES[surface][1]("chat-dead"),
             bearer(gateway.token))
    assert r.status == 502, r.body
    SURFACES[surface][2](r)


def test_upstream_timeout_is_504(gateway: Gateway) -> None:
    body = {"model": "chat-slow", "messages": [{"role": "user", "content": "MOCK_FAULT:hang_before_headers=4"}]}
    r = call("POST", url_for(gateway, "chat", "chat-slow"), body, bearer(gateway.token))
    assert r.status == 504, r.body
    openai_shape(r)


@pytest.mark.parametrize("surface", SURFACES)
def test_provider_key_refused_never_leaks(gateway: Gateway, surface: str) -> None:
    r = call("POST", url_for(gateway, surface, "chat-badkey"), SURFACES[surface][1]("chat-badkey"),
             bearer(gateway.token))
    assert r.status == 502, r.body
    assert b"sk-wrong-key-123456" not in r.body and b"3456" not in r.body
    assert "credentials" in SURFACES[surface][2](r)["message"]


def test_untranslatable_parameter_is_refused_by_name(gateway: Gateway) -> None:
    body = {"model": "chat-anthropic", "messages": [{"role": "user", "content": "hi"}],
            "logit_bias": {"50256": -100}}
    r = call("POST", url_for(gateway, "chat", "chat-anthropic"), body, bearer(gateway.token))
    assert r.status == 400, r.body
    assert "logit_bias" in openai_shape(r)["message"]


def test_embeddings_on_a_provider_without_them_is_400(gateway: Gateway) -> None:
    r = call("POST", f"{gateway.base}/mlflow/v1/embeddings", {"model": "emb-anthropic", "input": "x"},
             bearer(gateway.token))
    assert r.status == 400
    assert "embeddings" in openai_shape(r)["message"]


def test_invalid_field_types_are_400_not_500(gateway: Gateway) -> None:
    cases = [
        ("chat", {"model": "chat-anthropic", "messages": "hello"}),
        ("chat", {"model": "chat-gemini", "messages": [{"role": "user", "content": 5}]}),
        ("anthropic", {"model": "chat-openai", "max_tokens": 10, "messages": [{"role": "robot", "content": "x"}]}),
        ("responses", {"model": "chat-anthropic", "input": 42}),
        ("gemini", {"contents": "nope"}),
    ]
    for surface, body in cases:
        r = call("POST", url_for(gateway, surface, body.get("model", "chat-openai")), body,
                 bearer(gateway.token))
        assert r.status == 400, (surface, body, r.body)
        SURFACES[surface][2](r)


def test_every_response_has_a_request_id(gateway: Gateway) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/ai-gateway/mlflow/v1/models"),
                         ("POST", "/ai-gateway/mlflow/v1/chat/completions")):
        r = call(method, gateway.url + path, b"{}" if method == "POST" else None)
        assert r.headers.get("x-request-id"), (method, path, r.status)


@pytest.mark.parametrize("surface", SURFACES)
def test_invalid_request_tags_are_400(gateway: Gateway, surface: str) -> None:
    for header in ("Unigate-Request-Tags", "Databricks-Ai-Gateway-Request-Tags"):
        r = call("POST", url_for(gateway, surface, "chat-openai"), SURFACES[surface][1]("chat-openai"),
                 {**bearer(gateway.token), header: "{not json"})
        assert r.status == 400, r.body
        assert header in SURFACES[surface][2](r)["message"]
    ok = call("POST", url_for(gateway, surface, "chat-openai"), SURFACES[surface][1]("chat-openai"),
              {**bearer(gateway.token), "Unigate-Request-Tags": '{"team": "search"}'})
    assert ok.status == 200, ok.body


@pytest.mark.parametrize("surface", SURFACES)
def test_large_bodies_under_the_limit_are_read_whole(gateway: Gateway, surface: str) -> None:
    """Bodies arrive in many TCP segments; all of them are read (the test limit is 1 MiB)."""
    body = SURFACES[surface][1]("chat-openai")
    text = "word " * 180_000  # ~900 KB
    if surface in ("chat", "anthropic"):
        body["messages"][0]["content"] = text
    elif surface == "responses":
        body["input"] = text
    else:
        body["contents"][0]["parts"][0]["text"] = text
    r = call("POST", url_for(gateway, surface, "chat-openai"), body, bearer(gateway.token))
    assert r.status == 200, r.body[:300]
