"""`GET /gemini/{v1beta,v1}/models` in Gemini's shape: the methods each endpoint answers."""

from __future__ import annotations

from typing import Any

from unigate.codecs.wire_format import ModelEntry, ModelListing


def _describe(entry: ModelEntry) -> dict[str, Any]:
    methods = (["embedContent", "batchEmbedContents"] if entry.embedding
               else ["generateContent", "streamGenerateContent", "countTokens"])
    return {"name": f"models/{entry.name}", "baseModelId": entry.name, "version": "001",
            "displayName": entry.name, "description": f"Unigate endpoint {entry.name}",
            "supportedGenerationMethods": methods}


def _wrap(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"models": items}


GEMINI_MODELS = ModelListing(_describe, _wrap)
