"""Helpers shared by the Gemini codec: field access in both spellings, proto-JSON integers, and
the ways a signature travels where the wire has no place for it."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

import orjson

from unigate.codecs import fields

FORMAT = "gemini"
_CAMEL_HUMP = re.compile(r"(?<!^)([A-Z])")


@functools.cache
def _snake(camel: str) -> str:
    return _CAMEL_HUMP.sub(r"_\1", camel).lower()


_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def standard_base64(data: str) -> str:
    """Inline data in standard, padded base64, as the IR holds it. Gemini also takes URL-safe
    base64 (google-genai encodes bytes that way), which Anthropic and OpenAI refuse."""
    if "-" in data or "_" in data:
        data = data.translate(_URL_SAFE_TO_STANDARD)
    if len(data) % 4:
        data += "=" * (-len(data) % 4)
    return data


def get(d: dict[str, Any], camel: str) -> Any:
    """`d[camel]`, or `d[snake_case(camel)]`: the REST API accepts both spellings."""
    value = d.get(camel)
    if value is None:
        value = d.get(_snake(camel))
    return value


def known_keys(*camel: str) -> frozenset[str]:
    """Both spellings of each name, for "everything else goes to extra" checks."""
    return frozenset(camel) | frozenset(_snake(c) for c in camel)


def integer(value: Any, path: str) -> int:
    """An integer, or one written as a string: proto JSON allows int64 as strings."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return fields.integer(value, path)


def compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- A thoughtSignature inside a tool call id -------------------------------------------
# Gemini 3 rejects a history function call without the signature it came with, and most
# client dialects (OpenAI chat, Anthropic) have no field for it, but they all send the tool
# call id back verbatim. So a call's signature rides in its id, in URL-safe base64 (ids must
# match [A-Za-z0-9_-]+ for Anthropic), and `ir_to_gemini_request` takes it out again.
_ID_MARK = "__ts_"


def id_with_signature(call_id: str, signature: str | None) -> str:
    if not signature:
        return call_id
    safe = signature.replace("+", "-").replace("/", "_").rstrip("=")
    return f"{call_id}{_ID_MARK}{safe}"


def split_id_signature(call_id: str) -> tuple[str, str | None]:
    """(the id without the signature, the signature in standard base64) of a tool call id."""
    base, mark, safe = call_id.partition(_ID_MARK)
    if not mark or not safe:
        return call_id, None
    sig = safe.replace("-", "+").replace("_", "/")
    return base, sig + "=" * (-len(sig) % 4)


# --- Another provider's reasoning signature inside a Gemini thoughtSignature ------------
# A Gemini client keeps thought parts (with thoughtSignature) in its history. When the answer
# came from Anthropic (thinking `signature`, `redacted_thinking`) or OpenAI Responses
# (`encrypted_content`), that proof must reach the same provider next turn, so it is wrapped
# in a thoughtSignature the gateway recognises: base64("unigate:" + JSON). Gemini never sees
# these: the request decoder unwraps them into ReasoningParts of their own format.
_PACK_HEAD = b"unigate:"
_PACK_PREFIX = base64.b64encode(_PACK_HEAD + b'{"').decode()[:12]


def pack_signature(fmt: str, signature: str | None, redacted: str | None) -> str:
    doc: dict[str, str] = {"f": fmt}
    if signature is not None:
        doc["s"] = signature
    if redacted is not None:
        doc["r"] = redacted
    return base64.b64encode(_PACK_HEAD + orjson.dumps(doc)).decode()


def unpack_signature(sig: str) -> tuple[str, str | None, str | None] | None:
    """(format, signature, redacted) of a packed signature; None for a real Gemini one."""
    doc = _unpack(sig)
    if doc is None or "b" in doc:
        return None
    return doc["f"], doc.get("s"), doc.get("r")


# Gemini clients (Gemini CLI) drop thought parts from their history but keep a function
# call's thoughtSignature, as Gemini itself signs the call. So another provider's signed
# reasoning that came before a call also rides in that call's signature, text included
# (Anthropic needs the thinking text back with its signature).
ReasoningBlock = tuple[str, str, str | None, str | None]  # (format, text, signature, redacted)


def pack_reasoning(blocks: list[ReasoningBlock]) -> str:
    items = [{k: v for k, v in (("t", text), ("s", sig), ("r", redacted)) if v is not None}
             for _, text, sig, redacted in blocks]
    doc = {"f": blocks[0][0], "b": items}
    return base64.b64encode(_PACK_HEAD + orjson.dumps(doc)).decode()


def unpack_reasoning(sig: str) -> list[ReasoningBlock] | None:
    """The reasoning blocks packed into a call's signature; None for any other signature."""
    doc = _unpack(sig)
    if doc is None or not isinstance(doc.get("b"), list):
        return None
    fmt = doc["f"]
    return [(fmt, str(b.get("t", "")), b.get("s"), b.get("r")) for b in doc["b"] if isinstance(b, dict)]


def _unpack(sig: str) -> dict[str, Any] | None:
    if not sig.startswith(_PACK_PREFIX):
        return None
    try:
        doc = orjson.loads(base64.b64decode(sig)[len(_PACK_HEAD):])
    except (binascii.Error, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("f"), str):
        return None
    return doc


def gemini_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """This format's namespace of a part's meta (empty when absent)."""
    if meta:
        g = meta.get(FORMAT)
        if isinstance(g, dict):
            return g
    return {}
