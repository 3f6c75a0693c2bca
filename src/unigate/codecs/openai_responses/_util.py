"""Small helpers shared by the Responses codec: its names, meta, item ids, upstream checks.
(Typed reads that name the field are `unigate.codecs.fields`.)"""

from __future__ import annotations

from typing import Any

FORMAT = "openai_responses"  # the key of this format in `meta` dicts and `signature_format`
TARGET = "OpenAI Responses"  # how UnsupportedParameter names this format


def ns(meta: dict[str, Any] | None) -> dict[str, Any]:
    """This format's slice of a part's `meta` (empty when there is none)."""
    if meta:
        value = meta.get(FORMAT)
        if isinstance(value, dict):
            return value
    return {}


def item_suffix(response_id: str) -> str:
    """The stem for ids of output items we make up: derived from the response id, so that the
    same response always gets the same ids (golden tests, logs)."""
    return response_id.removeprefix("resp_")
