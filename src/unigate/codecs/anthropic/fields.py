"""Small helpers of the Anthropic codec: tool input as JSON text, the block keys it keeps in
`meta`. (Typed reads that name the field are `unigate.codecs.fields`.)"""

from __future__ import annotations

from typing import Any

import orjson

JSON = dict[str, Any]


def compact_json(value: Any) -> str:
    """JSON text of a tool input, as the IR carries tool arguments."""
    return orjson.dumps(value).decode()


def rest(block: JSON, known: frozenset[str]) -> JSON | None:
    """The keys of `block` this codec does not map (cache_control, citations, title, ...),
    kept as `meta["anthropic"]` so they survive a round trip; None when there are none."""
    extra = {k: v for k, v in block.items() if k not in known}
    return {"anthropic": extra} if extra else None


def own_meta(meta: JSON | None) -> JSON | None:
    """This format's namespace of a part's meta (other formats' keys are not ours to send)."""
    if not meta:
        return None
    mine = meta.get("anthropic")
    return mine if isinstance(mine, dict) and mine else None
