"""Typed reads of a client's JSON body: each raises `InvalidRequest` naming the field.

`path` is where the object sits in the body ("" for the top level, "messages[2]." for a
message), so a message reads "messages[2].content: must be a string or a list"."""

from __future__ import annotations

from typing import Any

from unigate.errors import InvalidRequest


def bad(field: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {problem}", param=field)


def opt_str(obj: dict[str, Any], key: str, path: str = "") -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise bad(path + key, "must be a string")


def req_str(obj: dict[str, Any], key: str, path: str = "") -> str:
    value = obj.get(key)
    if isinstance(value, str):
        return value
    raise bad(path + key, "is required" if value is None else "must be a string")


def opt_int(obj: dict[str, Any], key: str, path: str = "", minimum: int | None = None) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass in Python, not in JSON
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(path + key, "must be an integer")
    if minimum is not None and value < minimum:
        raise bad(path + key, f"must be at least {minimum}")
    return value


def opt_num(obj: dict[str, Any], key: str, path: str = "") -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise bad(path + key, "must be a number")
    return value


def opt_bool(obj: dict[str, Any], key: str, path: str = "") -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise bad(path + key, "must be a boolean")


def opt_dict(obj: dict[str, Any], key: str, path: str = "") -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise bad(path + key, "must be an object")


def req_dict(obj: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
    value = obj.get(key)
    if isinstance(value, dict):
        return value
    raise bad(path + key, "is required" if value is None else "must be an object")


def opt_list(obj: dict[str, Any], key: str, path: str = "") -> list[Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise bad(path + key, "must be an array")
