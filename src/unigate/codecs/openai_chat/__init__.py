"""OpenAI Chat Completions: client dialect and upstream wire format (OpenAI and every
OpenAI-compatible server), in both directions. See `unigate.codecs.base` for the contract."""

from unigate.codecs.openai_chat.errors import openai_chat_error_body, openai_chat_upstream_error
from unigate.codecs.openai_chat.request_decode import DIALECT, openai_chat_to_ir_request
from unigate.codecs.openai_chat.request_encode import ir_to_openai_chat_request
from unigate.codecs.openai_chat.response import (
    ir_to_openai_chat_response,
    openai_chat_to_ir_response,
)
from unigate.codecs.openai_chat.stream_decode import OpenAIChatStreamDecoder
from unigate.codecs.openai_chat.stream_encode import OpenAIChatStreamEncoder
from unigate.codecs.openai_chat.usage import openai_chat_stream_usage, openai_chat_usage

__all__ = [
    "DIALECT",
    "OpenAIChatStreamDecoder", "OpenAIChatStreamEncoder", "ir_to_openai_chat_request",
    "ir_to_openai_chat_response", "openai_chat_error_body", "openai_chat_stream_usage",
    "openai_chat_to_ir_request", "openai_chat_to_ir_response", "openai_chat_upstream_error",
    "openai_chat_usage",
]
