"""Small helpers shared by the Responses codec: type checks that name the field, data URLs, ids."""

from __future__ import annotations

from typing import Any, NoReturn

from unigate.errors import InvalidRequest, UpstreamBadResponse

FORMAT = "openai_responses"  # the key of this format in `meta` dicts and `signature_format`
TARGET = "OpenAI Responses"  # how UnsupportedParameter names this format


def fail(path: str, what: str) -> NoReturn:
    raise InvalidRequest(f"{path}: {what}", param=path)


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def req_dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, f"expected an object, got {type_name(value)}")
    return value


def req_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        fail(path, f"expected an array, got {type_name(value)}")
    return value


def req_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        fail(path, f"expected a string, got {type_name(value)}")
    return value


def opt_str(value: Any, path: str) -> str | None:
    return None if value is None else req_str(value, path)


def opt_bool(value: Any, path: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    fail(path, f"expected a boolean, got {type_name(value)}")


def opt_int(value: Any, path: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    fail(path, f"expected an integer, got {type_name(value)}")


def opt_num(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if isinstance(value, int) else value
    fail(path, f"expected a number, got {type_name(value)}")


def upstream_dict(value: Any, path: str) -> dict[str, Any]:
    """Like `req_dict`, for upstream bodies: a bad shape is the provider's fault (502)."""
    if not isinstance(value, dict):
        raise UpstreamBadResponse(f"OpenAI Responses: {path}: expected an object")
    return value


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
