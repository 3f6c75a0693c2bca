"""CAN_QUERY on the query path: refused in each dialect's own shape, and listings show only
what the caller may query. Grants made through the admin API apply within a second."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call, until_stable


@pytest.fixture(scope="module")
def carol(gateway: Gateway) -> str:
    admin = bearer(gateway.token)
    call("POST", f"{gateway.url}/api/v1/users", {"email": "carol@example.com"}, admin)
    r = call("POST", f"{gateway.url}/api/v1/tokens", {"principal": "carol@example.com"}, admin)
    assert r.status == 201, r.body
    acl = {"access_control_list": [{"user_name": "carol@example.com", "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", f"{gateway.url}/api/v1/endpoints/chat-anthropic/permissions", acl, admin).status == 200
    token = str(r.json()["token"])
    until_stable(lambda: call("GET", f"{gateway.base}/mlflow/v1/models", headers=bearer(token)).status == 200)
    return token


def test_listings_show_only_what_the_caller_may_query(gateway: Gateway, carol: str) -> None:
    until_stable(lambda: [m["id"] for m in call("GET", f"{gateway.base}/openai/v1/models",
                                             headers=bearer(carol)).json()["data"]] == ["chat-anthropic"])
    claude = anthropic.Anthropic(api_key=carol, base_url=f"{gateway.base}/anthropic")
    assert [m.id for m in claude.models.list().data] == ["chat-anthropic"]
    g = genai.Client(api_key=carol, http_options=types.HttpOptions(base_url=f"{gateway.base}/gemini"))
    assert [m.name for m in g.models.list()] == ["models/chat-anthropic"]


def test_query_without_permission_is_403_in_each_dialect(gateway: Gateway, carol: str) -> None:
    oa = openai.OpenAI(api_key=carol, base_url=f"{gateway.base}/mlflow/v1", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as e:
        oa.chat.completions.create(model="chat-openai", messages=[{"role": "user", "content": "hi"}])
    assert "CAN_QUERY" in str(e.value)
    claude = anthropic.Anthropic(api_key=carol, base_url=f"{gateway.base}/anthropic", max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        claude.messages.create(model="chat-openai", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    r = call("POST", f"{gateway.base}/gemini/v1beta/models/chat-openai:generateContent",
             {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, bearer(carol))
    assert r.status == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    ok = claude.messages.create(model="chat-anthropic", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert ok.content


def test_a_grant_applies_within_a_second(gateway: Gateway, carol: str) -> None:
    url = f"{gateway.base}/mlflow/v1/chat/completions"
    body = {"model": "chat-gemini", "messages": [{"role": "user", "content": "hi"}]}
    assert call("POST", url, body, bearer(carol)).status == 403
    acl = {"access_control_list": [{"user_name": "carol@example.com", "permission_level": "CAN_QUERY"}]}
    call("PATCH", f"{gateway.url}/api/v1/endpoints/chat-gemini/permissions", acl, bearer(gateway.token))
    t0 = time.monotonic()
    until_stable(lambda: call("POST", url, body, bearer(carol)).status == 200, timeout=1.5)
    assert time.monotonic() - t0 < 1.5
