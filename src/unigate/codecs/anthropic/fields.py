"""Typed reads from a client's JSON body that fail with `InvalidRequest` naming the field.

Anthropic clients are checked as strictly as the real API checks them, so a malformed body
is refused here with the field's path instead of surfacing later as a KeyError."""

from __future__ import annotations

from typing import Any

import orjson

from unigate.errors import InvalidRequest

JSON = dict[str, Any]


def obj(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path}: expected an object", param=path)
    return value


def array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{path}: expected an array", param=path)
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{path}: expected a string", param=path)
    return value


def opt_string(value: Any, path: str) -> str | None:
    return None if value is None else string(value, path)


def integer(value: Any, path: str) -> int:
    # bool is an int subclass in Python but not a JSON integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{path}: expected an integer", param=path)
    return value


def opt_integer(value: Any, path: str) -> int | None:
    return None if value is None else integer(value, path)


def opt_number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{path}: expected a number", param=path)
    return value


def opt_bool(value: Any, path: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest(f"{path}: expected a boolean", param=path)
    return value


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
