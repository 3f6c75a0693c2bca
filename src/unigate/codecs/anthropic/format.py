"""The Anthropic Messages wire format, as the request pipeline sees it."""

from __future__ import annotations

from typing import Any

from unigate.codecs.anthropic.count_tokens import (
    anthropic_count_tokens_response,
    anthropic_count_tokens_to_ir,
    ir_to_anthropic_count_tokens_request,
)
from unigate.codecs.anthropic.errors import anthropic_error_body, anthropic_upstream_error
from unigate.codecs.anthropic.models import ANTHROPIC_MODELS
from unigate.codecs.anthropic.request_decode import DIALECT, anthropic_to_ir_request
from unigate.codecs.anthropic.request_encode import ir_to_anthropic_request
from unigate.codecs.anthropic.response import anthropic_to_ir_response, ir_to_anthropic_response
from unigate.codecs.anthropic.stream_decode import AnthropicStreamDecoder, event_error
from unigate.codecs.anthropic.stream_encode import AnthropicStreamEncoder
from unigate.codecs.anthropic.usage import anthropic_stream_usage, anthropic_usage
from unigate.codecs.wire_format import TokenCounting, WireFormat, stream_error_reader


def max_output_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_tokens")
    return value if isinstance(value, int) else 0


FORMAT = WireFormat(
    name="anthropic",
    decode_request=lambda body, o: anthropic_to_ir_request(body),
    encode_request=lambda ir, model, p: ir_to_anthropic_request(ir, model),
    decode_response=anthropic_to_ir_response,
    encode_response=lambda resp, model, req: ir_to_anthropic_response(resp, model),
    stream_decoder=AnthropicStreamDecoder,
    stream_encoder=lambda model, o, req: AnthropicStreamEncoder(model),
    error_body=anthropic_error_body,
    upstream_error=anthropic_upstream_error,
    usage=anthropic_usage,
    stream_usage=anthropic_stream_usage,
    model_key="model",
    parameters=DIALECT,
    stream_error=stream_error_reader(('"error"',), event_error),
    max_output_tokens=max_output_tokens,
    count_tokens=TokenCounting(
        decode_request=lambda body, model: anthropic_count_tokens_to_ir(body),
        response=anthropic_count_tokens_response,
        encode_request=ir_to_anthropic_count_tokens_request,
        count_key="input_tokens",
    ),
    models=ANTHROPIC_MODELS,
)
