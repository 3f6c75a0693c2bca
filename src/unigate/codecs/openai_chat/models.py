"""`GET .../models` in OpenAI's shape (every OpenAI-shaped surface: mlflow, openai, codex, cursor)."""

from __future__ import annotations

from typing import Any

from unigate.codecs.wire_format import ModelEntry, ModelListing

CREATED = 1735689600  # 2025-01-01: endpoints have no creation time yet; a fixed, honest-looking value


def _describe(entry: ModelEntry) -> dict[str, Any]:
    return {"id": entry.name, "object": "model", "created": CREATED, "owned_by": "unigate"}


def _wrap(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items}


OPENAI_MODELS = ModelListing(_describe, _wrap)
