"""Usage estimates for requests whose provider reported none, computed in the usage writer's
thread (never on the request path) and marked as estimated in the row."""

from __future__ import annotations

import logging

import orjson

from unigate.ir.estimate import CHARS_PER_TOKEN, estimate_input_tokens
from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart
from unigate.ir.usage import Usage

log = logging.getLogger("unigate.usage")


def estimate_usage(fmt_name: str, model: str, request_body: bytes, response_body: bytes | None) -> Usage:
    """Input from the decoded request; output from the response body when it was kept (unary
    answers), else left unknown."""
    from unigate.codecs.registry import FORMATS, ClientOptions  # codecs load lazily in the writer

    usage = Usage(estimated=True)
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        usage.input_tokens = max(1, len(request_body) // CHARS_PER_TOKEN)
        return usage
    try:
        ir = fmt.decode_request(orjson.loads(request_body), ClientOptions(model=model, stream=False))
        usage.input_tokens = estimate_input_tokens(ir)
    except Exception as e:  # an estimate must never lose the row
        log.debug("input estimate failed: %s", e)
        usage.input_tokens = max(1, len(request_body) // CHARS_PER_TOKEN)
    if response_body:
        try:
            resp = fmt.decode_response(orjson.loads(response_body))
            chars = sum(len(p.text) for p in resp.parts if isinstance(p, (TextPart, ReasoningPart)))
            chars += sum(len(p.arguments) for p in resp.parts if isinstance(p, ToolCallPart))
            usage.output_tokens = max(1, -(-chars // CHARS_PER_TOKEN))
        except Exception as e:
            log.debug("output estimate failed: %s", e)
    return usage
