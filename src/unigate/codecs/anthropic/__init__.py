"""The Anthropic Messages wire format, both directions (see `unigate.codecs.base`)."""

from unigate.codecs.anthropic.count_tokens import (
    anthropic_count_tokens_response,
    anthropic_count_tokens_to_ir,
    ir_to_anthropic_count_tokens_request,
)
from unigate.codecs.anthropic.errors import anthropic_error_body, anthropic_upstream_error
from unigate.codecs.anthropic.request_decode import DIALECT, anthropic_to_ir_request
from unigate.codecs.anthropic.request_encode import ir_to_anthropic_request
from unigate.codecs.anthropic.response import anthropic_to_ir_response, ir_to_anthropic_response
from unigate.codecs.anthropic.stream_decode import AnthropicStreamDecoder
from unigate.codecs.anthropic.stream_encode import AnthropicStreamEncoder
from unigate.codecs.anthropic.usage import anthropic_stream_usage, anthropic_usage

__all__ = [
    "DIALECT",
    "AnthropicStreamDecoder",
    "AnthropicStreamEncoder",
    "anthropic_count_tokens_response",
    "anthropic_count_tokens_to_ir",
    "anthropic_error_body",
    "anthropic_stream_usage",
    "anthropic_to_ir_request",
    "anthropic_to_ir_response",
    "anthropic_upstream_error",
    "anthropic_usage",
    "ir_to_anthropic_count_tokens_request",
    "ir_to_anthropic_request",
    "ir_to_anthropic_response",
]
