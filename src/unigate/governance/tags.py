"""Request tags: a JSON object of string -> string a client attaches to a request
(`Unigate-Request-Tags: {"team": "search"}`, or Databricks' `Databricks-Ai-Gateway-Request-Tags`).
They land in the usage row and can be filtered, aggregated and rate-limited on.

Numbers and booleans are accepted and kept as their JSON text ("3", "1.5", "true"), since
clients often write `{"build": 42}` and meaning nothing else; null, arrays and objects are
refused, as is anything that would bloat every usage row (see the limits below)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from unigate.errors import InvalidRequest

TAG_HEADERS = ("Unigate-Request-Tags", "Databricks-Ai-Gateway-Request-Tags")
MAX_TAGS = 20
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
MAX_HEADER_BYTES = 8192


def parse_request_tags(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The request's tags, or None when no tag header was sent. Raises `InvalidRequest`
    naming the header when it is not a JSON object of strings (or numbers/booleans)."""
    name, raw = _tag_header(headers)
    if raw is None:
        return None
    if len(raw.encode()) > MAX_HEADER_BYTES:
        raise InvalidRequest(f"header {name} is longer than {MAX_HEADER_BYTES} bytes", param=name)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"header {name} is not valid JSON ({e}): expected an object such as "
                             '{"team": "search"}', param=name) from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"header {name} must be a JSON object of string values such as "
                             f'{{"team": "search"}}, got {type(data).__name__}', param=name)
    if len(data) > MAX_TAGS:
        raise InvalidRequest(f"header {name} has {len(data)} tags; at most {MAX_TAGS} are allowed",
                             param=name)
    tags: dict[str, str] = {}
    for key, value in data.items():
        if not key or len(key) > MAX_KEY_CHARS:
            raise InvalidRequest(f"header {name}: tag names must have 1 to {MAX_KEY_CHARS} characters",
                                 param=name)
        text = _tag_value(value)
        if text is None:
            raise InvalidRequest(f"header {name}: tag '{key}' must be a string (or a number or "
                                 f"boolean), got {_json_kind(value)}", param=name)
        if len(text) > MAX_VALUE_CHARS:
            raise InvalidRequest(f"header {name}: the value of tag '{key}' is longer than "
                                 f"{MAX_VALUE_CHARS} characters", param=name)
        tags[key] = text
    return tags


def _tag_header(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """The first tag header present (request headers are case-insensitive; a plain dict
    from a test may not be, so both spellings are tried)."""
    for name in TAG_HEADERS:
        value = headers.get(name)
        if value is None:
            value = headers.get(name.lower())
        if value is not None:
            return name, value
    return TAG_HEADERS[0], None


def _tag_value(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
