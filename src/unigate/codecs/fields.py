"""Typed reads of a JSON body that fail naming the field, for every codec.

A malformed client body is refused here, with the field's path (`messages[2].content`), as a
400 (`InvalidRequest`); a codec reading a provider's answer passes `exc=UpstreamBadResponse`
(a 502: the provider's fault). Two ways in:
  value checks   string(body.get("model"), "model")        the value and its path
  keyed reads    req_str(body, "model", "messages[2].")    an object, a key, the object's path
Messages read "<path>: is required" or "<path>: expected a string, got int"."""

from __future__ import annotations

from typing import Any, NoReturn

from unigate.errors import GatewayError, InvalidRequest

Exc = type[GatewayError]


def fail(path: str, what: str, exc: Exc = InvalidRequest) -> NoReturn:
    raise exc(f"{path}: {what}", param=path)


def bad(path: str, what: str) -> InvalidRequest:
    """The error `fail` raises, for a caller that raises it itself."""
    return InvalidRequest(f"{path}: {what}", param=path)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


def _wrong(value: Any, path: str, expected: str, exc: Exc) -> NoReturn:
    fail(path, "is required" if value is None else f"expected {expected}, got {type_name(value)}", exc)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # bool is an int in Python, not in JSON


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- value checks ----------------------------------------------------------------------------

def obj(value: Any, path: str, exc: Exc = InvalidRequest) -> dict[str, Any]:
    if not isinstance(value, dict):
        _wrong(value, path, "an object", exc)
    return value


def array(value: Any, path: str, exc: Exc = InvalidRequest) -> list[Any]:
    if not isinstance(value, list):
        _wrong(value, path, "an array", exc)
    return value


def string(value: Any, path: str, exc: Exc = InvalidRequest) -> str:
    if not isinstance(value, str):
        _wrong(value, path, "a string", exc)
    return value


def integer(value: Any, path: str, exc: Exc = InvalidRequest) -> int:
    if not _is_int(value):
        _wrong(value, path, "an integer", exc)
    return int(value)


def number(value: Any, path: str, exc: Exc = InvalidRequest) -> float:
    if not _is_number(value):
        _wrong(value, path, "a number", exc)
    return value  # type: ignore[no-any-return]


def boolean(value: Any, path: str, exc: Exc = InvalidRequest) -> bool:
    if not isinstance(value, bool):
        _wrong(value, path, "a boolean", exc)
    return value


def opt_string(value: Any, path: str, exc: Exc = InvalidRequest) -> str | None:
    return None if value is None else string(value, path, exc)


def opt_integer(value: Any, path: str, exc: Exc = InvalidRequest) -> int | None:
    return None if value is None else integer(value, path, exc)


def opt_number(value: Any, path: str, exc: Exc = InvalidRequest) -> float | None:
    return None if value is None else number(value, path, exc)


def opt_bool(value: Any, path: str, exc: Exc = InvalidRequest) -> bool | None:
    return None if value is None else boolean(value, path, exc)


# --- keyed reads: `path` is where the object sits ("" at the top, "messages[2]." inside) ------

def req_str(container: dict[str, Any], key: str, path: str = "") -> str:
    return string(container.get(key), path + key)


def opt_str(container: dict[str, Any], key: str, path: str = "") -> str | None:
    return opt_string(container.get(key), path + key)


def opt_int(container: dict[str, Any], key: str, path: str = "", minimum: int | None = None) -> int | None:
    value = opt_integer(container.get(key), path + key)
    if value is not None and minimum is not None and value < minimum:
        fail(path + key, f"must be at least {minimum}")
    return value


def opt_num(container: dict[str, Any], key: str, path: str = "") -> float | None:
    return opt_number(container.get(key), path + key)


def opt_flag(container: dict[str, Any], key: str, path: str = "") -> bool | None:
    return opt_bool(container.get(key), path + key)


def req_dict(container: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
    return obj(container.get(key), path + key)


def opt_dict(container: dict[str, Any], key: str, path: str = "") -> dict[str, Any] | None:
    value = container.get(key)
    return None if value is None else obj(value, path + key)


def opt_list(container: dict[str, Any], key: str, path: str = "") -> list[Any] | None:
    value = container.get(key)
    return None if value is None else array(value, path + key)
