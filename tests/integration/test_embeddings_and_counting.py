"""Embeddings on every provider that has them (OpenAI and Gemini clients), token counting on
the Anthropic and Gemini surfaces, and the coding-agent alias surfaces."""

from __future__ import annotations

import anthropic
import pytest
from google import genai
from google.genai import types
from openai import OpenAI

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call

EMBEDDING_ENDPOINTS = ["emb-openai", "emb-compat", "emb-azure", "emb-google"]


@pytest.mark.parametrize("endpoint", EMBEDDING_ENDPOINTS)
def test_openai_sdk_embeddings(gateway: Gateway, endpoint: str) -> None:
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    # The SDK asks for base64 by default and decodes it; ask for floats too.
    for kwargs in ({}, {"encoding_format": "float"}):
        r = client.embeddings.create(input=["first text", "second text"], model=endpoint, **kwargs)
        assert [d.index for d in r.data] == [0, 1]
        assert len(r.data[0].embedding) >= 8 and all(isinstance(x, float) for x in r.data[0].embedding)
        assert r.data[0].embedding != r.data[1].embedding
        assert r.model == endpoint


@pytest.mark.parametrize("endpoint", EMBEDDING_ENDPOINTS)
def test_gemini_sdk_embeddings(gateway: Gateway, endpoint: str) -> None:
    client = genai.Client(api_key="databricks", http_options=types.HttpOptions(
        base_url=f"{gateway.base}/gemini", headers={"Authorization": f"Bearer {gateway.token}"}))
    r = client.models.embed_content(model=endpoint, contents=["first text", "second text"])
    assert r.embeddings is not None and len(r.embeddings) == 2
    assert r.embeddings[0].values and r.embeddings[0].values != r.embeddings[1].values
    single = call("POST", f"{gateway.base}/gemini/v1beta/models/{endpoint}:embedContent",
                  {"content": {"parts": [{"text": "one"}]}}, bearer(gateway.token))
    assert single.status == 200 and single.json()["embedding"]["values"], single.body


def test_same_text_same_vector_across_dialects(gateway: Gateway) -> None:
    oa = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    via_openai = oa.embeddings.create(input="same", model="emb-google", encoding_format="float")
    g = genai.Client(api_key=gateway.token, http_options=types.HttpOptions(base_url=f"{gateway.base}/gemini"))
    via_gemini = g.models.embed_content(model="emb-google", contents="same")
    assert via_gemini.embeddings is not None
    assert via_openai.data[0].embedding == pytest.approx(via_gemini.embeddings[0].values, rel=1e-6)


@pytest.mark.parametrize("endpoint", ["chat-anthropic", "chat-gemini", "chat-openai"])
def test_anthropic_count_tokens(gateway: Gateway, endpoint: str) -> None:
    client = anthropic.Anthropic(api_key=gateway.token, base_url=f"{gateway.base}/anthropic")
    r = client.messages.count_tokens(model=endpoint, system="Be brief.",
                                     messages=[{"role": "user", "content": "count these five words"}])
    assert r.input_tokens > 0


@pytest.mark.parametrize("endpoint", ["chat-gemini", "chat-anthropic", "chat-openai"])
def test_gemini_count_tokens(gateway: Gateway, endpoint: str) -> None:
    client = genai.Client(api_key=gateway.token, http_options=types.HttpOptions(base_url=f"{gateway.base}/gemini"))
    r = client.models.count_tokens(model=endpoint, contents="count these five words")
    assert r.total_tokens and r.total_tokens > 0


def test_coding_agent_aliases(gateway: Gateway) -> None:
    codex = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/codex/v1")
    r = codex.responses.create(model="chat-anthropic", input="hello codex", store=False)
    assert "hello codex" in r.output_text
    assert "chat-anthropic" in [m.id for m in codex.models.list().data]
    cursor = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/cursor/v1")
    c = cursor.chat.completions.create(model="chat-gemini", messages=[{"role": "user", "content": "hello cursor"}])
    assert "hello cursor" in (c.choices[0].message.content or "")


def test_usage_rows_are_written(gateway: Gateway) -> None:
    """Every request leaves a usage row with tokens, off the request path (checked in the store)."""
    import time
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    r = client.chat.completions.with_raw_response.create(
        model="chat-anthropic", messages=[{"role": "user", "content": "count me"}])
    request_id = r.headers["x-request-id"]
    deadline = time.monotonic() + 5
    row = None
    while time.monotonic() < deadline and row is None:
        found = gateway.query("SELECT endpoint_name, status_code, input_tokens, output_tokens, requester,"
                              " destination_provider FROM usage WHERE request_id = ?", (request_id,))
        row = found[0] if found else None
        time.sleep(0.1)
    assert row is not None, "no usage row"
    assert row[0] == "chat-anthropic" and row[1] == 200 and row[2] > 0 and row[3] > 0
    assert row[4] == "admin" and row[5] == "claude"
