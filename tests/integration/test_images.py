"""Images from the official SDKs reach every provider type intact: the bytes the provider
decodes are the bytes the client sent (google-genai encodes them as URL-safe base64, which
Anthropic and OpenAI refuse)."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request
from typing import Any

import pytest
from google import genai
from google.genai import types

from tests.integration.gateway import Gateway

# A PNG signature and bytes whose base64 holds '+' and '/' (URL-safe: '-' and '_')
IMAGE = b"\x89PNG\r\n\x1a\n\xfb\xff\xbf\xfe"


def _sent_image_data(mock_url: str, nonce: str) -> str:
    """The base64 image data of the one provider request that carries `nonce`."""
    with urllib.request.urlopen(f"{mock_url}/_mock/requests", timeout=10) as r:
        records = json.load(r)
    (body,) = [r["body"] for r in records if nonce in json.dumps(r.get("body"))]
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "base64" and "data" in node:  # Anthropic image source
                found.append(node["data"])
            url = node.get("url")
            if isinstance(url, str) and url.startswith("data:image/"):  # OpenAI image_url
                found.append(url.partition(",")[2])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(body)
    assert len(found) == 1, body
    return found[0]


@pytest.mark.parametrize("endpoint", ["chat-anthropic", "chat-openai", "chat-compat"])
def test_a_google_genai_image_reaches_the_provider_as_the_same_bytes(gateway: Gateway, mock_url: str,
                                                                      endpoint: str) -> None:
    nonce = secrets.token_hex(6)
    client = genai.Client(api_key="unused", http_options=types.HttpOptions(
        base_url=gateway.base + "/gemini", headers={"Authorization": f"Bearer {gateway.token}"}))
    reply = client.models.generate_content(model=endpoint, contents=[
        f"What is in this image? {nonce}", types.Part.from_bytes(data=IMAGE, mime_type="image/png")])
    assert reply.text and "MOCK-UPSTREAM-OK" in reply.text
    data = _sent_image_data(mock_url, nonce)
    assert base64.b64decode(data, validate=True) == IMAGE
