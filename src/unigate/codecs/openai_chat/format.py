"""The OpenAI chat completions wire format, as the request pipeline sees it."""

from __future__ import annotations

from typing import Any

from unigate.codecs.openai_chat.errors import openai_chat_error_body, openai_chat_upstream_error
from unigate.codecs.openai_chat.models import OPENAI_MODELS
from unigate.codecs.openai_chat.request_decode import DIALECT, openai_chat_to_ir_request
from unigate.codecs.openai_chat.request_encode import ir_to_openai_chat_request
from unigate.codecs.openai_chat.response import ir_to_openai_chat_response, openai_chat_to_ir_response
from unigate.codecs.openai_chat.stream_decode import OpenAIChatStreamDecoder, chunk_error
from unigate.codecs.openai_chat.stream_encode import OpenAIChatStreamEncoder
from unigate.codecs.openai_chat.usage import openai_chat_stream_usage, openai_chat_usage
from unigate.codecs.openai_embeddings import (
    ir_to_openai_embeddings_request,
    ir_to_openai_embeddings_response,
    openai_embeddings_to_ir_request,
    openai_embeddings_to_ir_response,
)
from unigate.codecs.wire_format import EmbedDialect, EmbedFormat, WireFormat, stream_error_reader
from unigate.sse import SSEEvent


def max_output_tokens(body: dict[str, Any]) -> int:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int):
            return value
    return 0


def wants_stream_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def with_stream_usage(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body, stream_options=dict(body.get("stream_options") or {}, include_usage=True))


def is_usage_only(event: SSEEvent) -> bool:
    """The last chunk include_usage adds: usage, and no choices."""
    return '"choices":[]' in event.data.replace(" ", "")


FORMAT = WireFormat(
    name="openai_chat",
    decode_request=lambda body, o: openai_chat_to_ir_request(body),
    encode_request=lambda ir, model, p: ir_to_openai_chat_request(ir, model, compat=p.compat),
    decode_response=openai_chat_to_ir_response,
    encode_response=lambda resp, model, req: ir_to_openai_chat_response(resp, model),
    stream_decoder=OpenAIChatStreamDecoder,
    stream_encoder=lambda model, o, req: OpenAIChatStreamEncoder(model, include_usage=o.include_usage),
    error_body=openai_chat_error_body,
    upstream_error=openai_chat_upstream_error,
    usage=openai_chat_usage,
    stream_usage=openai_chat_stream_usage,
    model_key="model",
    parameters=DIALECT,
    stream_error=stream_error_reader(('"error"',), chunk_error),
    max_output_tokens=max_output_tokens,
    wants_stream_usage=wants_stream_usage,
    with_stream_usage=with_stream_usage,
    is_usage_only=is_usage_only,
    models=OPENAI_MODELS,
)

# OpenAI's embeddings API answers errors as chat completions does (and OpenAI-compatible
# servers with it), so its record lives beside this one.
EMBED_FORMAT = EmbedFormat(
    name="openai_embeddings",
    encode_request=lambda req, model, p: ir_to_openai_embeddings_request(req, model, compat=p.compat),
    decode_response=openai_embeddings_to_ir_response,
    upstream_error=openai_chat_upstream_error,
)

EMBED_DIALECT = EmbedDialect(
    name="openai_embeddings",
    decode_request=lambda body, model: openai_embeddings_to_ir_request(body),
    encode_response=lambda resp, req: ir_to_openai_embeddings_response(resp, resp.model,
                                                                        req.encoding_format or "float"),
    error_body=openai_chat_error_body,
    relay_as="openai_embeddings",
)
