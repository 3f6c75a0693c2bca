"""`GET /anthropic/v1/models` in Anthropic's shape."""

from __future__ import annotations

from typing import Any

from unigate.codecs.wire_format import ModelEntry, ModelListing

CREATED_ISO = "2025-01-01T00:00:00Z"  # endpoints have no creation time yet


def _describe(entry: ModelEntry) -> dict[str, Any]:
    return {"type": "model", "id": entry.name, "display_name": entry.name, "created_at": CREATED_ISO}


def _wrap(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "has_more": False,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None}


ANTHROPIC_MODELS = ModelListing(_describe, _wrap)
