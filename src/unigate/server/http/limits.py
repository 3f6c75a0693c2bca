"""Limits on a request's head: the URL's length, all header lines together, how many there are.
A request over one is answered 414 (URL) or 431 (headers) while it is parsed, before any
handler sees it, and the connection is closed.

Settings (`settings:` in the configuration file), each also taken from the environment when
the file does not give it:

    max_url_bytes      UNIGATE_MAX_URL_BYTES      8 KiB   (the request target: path and query)
    max_header_bytes   UNIGATE_MAX_HEADER_BYTES   32 KiB  (names and values, with ": " and CRLF)
    max_headers        UNIGATE_MAX_HEADERS        100

The defaults sit near the common servers' own (nginx 8 KiB a line, Node 16 KiB in all, Go
1 MiB, Apache 100 fields) and far above what the SDKs send (a few hundred bytes, ~15 fields)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100


SETTINGS = ("max_url_bytes", "max_header_bytes", "max_headers")
ENV = {name: f"UNIGATE_{name.upper()}" for name in SETTINGS}
_MOST = 1 << 30  # a bound that still catches a typo of a few digits too many


def _fail(where: str, message: str) -> None:
    from unigate.config import ConfigError  # here: the config parser imports this module

    raise ConfigError(f"{where}: {message}")


def parse_request_limits(settings: Mapping[str, Any], fail: Callable[[str, str], None] = _fail,
                         environ: Mapping[str, str] = os.environ) -> RequestLimits:
    """The limits from `settings` (the file's section), else the environment, else the defaults.
    `fail(where, message)` reports a bad value (it raises: ConfigError from the config parser)."""
    values: dict[str, int] = {}
    for name in SETTINGS:
        raw: Any = settings.get(name)
        where = f"settings.{name}"
        if raw is None and ENV[name] in environ:
            raw, where = environ[ENV[name]], ENV[name]
            raw = int(raw) if raw.strip().isdigit() else raw
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= _MOST:
            fail(where, f"must be a whole number from 1 to {_MOST}, got {raw!r}")
        values[name] = raw
    return RequestLimits(**values)


def request_limits(config: object) -> RequestLimits:
    """The gateway configuration's limits (`request_limits`, parsed with the file), or the
    environment's and the defaults for a configuration that does not carry them."""
    limits = getattr(config, "request_limits", None)
    return limits if isinstance(limits, RequestLimits) else parse_request_limits({})
