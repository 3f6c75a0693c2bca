"""The Databricks AI Gateway snippets, as documented, with only the base URL changed."""

from __future__ import annotations

import base64
import json

import anthropic
from google import genai
from google.genai import types
from openai import OpenAI

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import call


def test_unified_chat_completions(gateway: Gateway) -> None:
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    chat_completion = client.chat.completions.create(
        messages=[
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hello! How can I assist you today?"},
            {"role": "user", "content": "What is Databricks?"},
        ],
        model="chat-openai",
        max_tokens=256,
    )
    assert "What is Databricks?" in chat_completion.choices[0].message.content
    assert chat_completion.model == "chat-openai"


def test_unified_embeddings(gateway: Gateway) -> None:
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1")
    embeddings = client.embeddings.create(input="Embed this text.", model="emb-openai")
    assert len(embeddings.data[0].embedding) > 8
    assert embeddings.model == "emb-openai"


def test_responses(gateway: Gateway) -> None:
    client = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/openai/v1")
    response = client.responses.create(
        model="chat-openai",
        input=[{"role": "user", "content": "What is Databricks?"}],
        max_output_tokens=256,
    )
    assert "What is Databricks?" in response.output_text


def test_anthropic_messages_with_placeholder_key_and_bearer(gateway: Gateway) -> None:
    client = anthropic.Anthropic(
        api_key="unused",
        base_url=f"{gateway.base}/anthropic",
        default_headers={"Authorization": f"Bearer {gateway.token}"},
    )
    message = client.messages.create(
        model="chat-anthropic",
        max_tokens=256,
        messages=[{"role": "user", "content": "What is Databricks?"}],
    )
    assert "What is Databricks?" in message.content[0].text
    assert message.model == "chat-anthropic"


def test_gemini_with_placeholder_key_and_bearer(gateway: Gateway) -> None:
    client = genai.Client(
        api_key="databricks",
        http_options=types.HttpOptions(
            base_url=f"{gateway.base}/gemini",
            headers={"Authorization": f"Bearer {gateway.token}"},
        ),
    )
    response = client.models.generate_content(
        model="chat-gemini",
        contents=[types.Content(role="user", parts=[types.Part(text="What is Databricks?")])],
        config=types.GenerateContentConfig(max_output_tokens=256),
    )
    assert "What is Databricks?" in response.text


def _basic(token: str) -> dict[str, str]:
    # What `curl -u token:$TOKEN` sends.
    return {"Authorization": "Basic " + base64.b64encode(f"token:{token}".encode()).decode()}


def test_curl_basic_auth_forms(gateway: Gateway) -> None:
    chat = call("POST", f"{gateway.base}/mlflow/v1/chat/completions", {
        "model": "chat-openai", "max_tokens": 256,
        "messages": [{"role": "user", "content": "What is Databricks?"}]}, _basic(gateway.token))
    assert chat.status == 200, chat.body
    assert chat.json()["model"] == "chat-openai"
    emb = call("POST", f"{gateway.base}/mlflow/v1/embeddings",
               {"model": "emb-openai", "input": "Embed this text."}, _basic(gateway.token))
    assert emb.status == 200 and emb.json()["data"][0]["embedding"], emb.body
    msg = call("POST", f"{gateway.base}/anthropic/v1/messages", {
        "model": "chat-anthropic", "max_tokens": 256,
        "messages": [{"role": "user", "content": "What is Databricks?"}]}, _basic(gateway.token))
    assert msg.status == 200 and msg.json()["type"] == "message", msg.body
    gem = call("POST", f"{gateway.base}/gemini/v1beta/models/chat-gemini:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "What is Databricks?"}]}]},
        _basic(gateway.token))
    assert gem.status == 200 and gem.json()["candidates"], gem.body
    resp = call("POST", f"{gateway.base}/mlflow/v1/responses",
                {"model": "chat-openai", "input": "What is Databricks?"}, _basic(gateway.token))
    assert resp.status == 200 and resp.json()["object"] == "response", resp.body


def test_token_in_other_places(gateway: Gateway) -> None:
    body = {"model": "chat-openai", "messages": [{"role": "user", "content": "hi"}]}
    url = f"{gateway.base}/openai/v1/chat/completions"
    for headers in ({"x-api-key": gateway.token}, {"x-goog-api-key": gateway.token},
                    {"Authorization": "Bearer unused", "x-api-key": gateway.token}):
        assert call("POST", url, body, headers).status == 200, headers
    assert call("POST", url + f"?key={gateway.token}", body).status == 200


def test_models_listings(gateway: Gateway) -> None:
    openai_models = OpenAI(api_key=gateway.token, base_url=f"{gateway.base}/mlflow/v1").models.list()
    assert "chat-openai" in [m.id for m in openai_models.data]
    claude = anthropic.Anthropic(api_key=gateway.token, base_url=f"{gateway.base}/anthropic")
    assert "chat-anthropic" in [m.id for m in claude.models.list().data]
    g = genai.Client(api_key=gateway.token, http_options=types.HttpOptions(base_url=f"{gateway.base}/gemini"))
    names = [m.name for m in g.models.list()]
    assert "models/chat-gemini" in names, names
    raw = call("GET", f"{gateway.base}/openai/v1/models", headers={"Authorization": f"Bearer {gateway.token}"})
    assert json.loads(raw.body)["object"] == "list"
