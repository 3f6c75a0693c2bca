"""The answer to a request refused while its head is parsed (URL or headers over the limits,
malformed HTTP), before any route ran: in the error shape of the API its path names, so an SDK
reads the message as it reads any other error. The path is known as far as it came, which for
a URL over the limit is its first `max_url_bytes`: enough for the prefix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from unigate.codecs.registry import FORMATS
from unigate.errors import GatewayError
from unigate.server.admin.common import PREFIX as ADMIN_PREFIX
from unigate.server.admin.common import error_body as admin_error_body
from unigate.server.databricks.errors import databricks_error_body

Render = Callable[[GatewayError], dict[str, Any]]
_OPENAI = FORMATS["openai_chat"].error_body
# (path prefix, error body); the first that matches; anything else gets OpenAI's shape, the
# one most clients of an unknown path (a typo under /ai-gateway) expect.
SHAPES: tuple[tuple[str, Render], ...] = (
    ("/ai-gateway/anthropic/", FORMATS["anthropic"].error_body),
    ("/ai-gateway/gemini/", FORMATS["gemini"].error_body),
    (ADMIN_PREFIX + "/", admin_error_body),
    ("/api/2.0/", databricks_error_body),  # the Databricks-compatible routes
)


def dialect_refusal(path: str, err: GatewayError) -> tuple[int, bytes]:
    for prefix, render in SHAPES:
        if path.startswith(prefix):
            return err.status, orjson.dumps(render(err))
    return err.status, orjson.dumps(_OPENAI(err))
