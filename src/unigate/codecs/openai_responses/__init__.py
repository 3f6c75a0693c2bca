"""The OpenAI Responses wire format (also the "Open Responses" spec), in both directions:
as a client dialect (`/v1/responses`) and as the format of upstreams that speak it."""

from unigate.codecs.openai_responses.errors import (
    openai_responses_error_body,
    openai_responses_upstream_error,
)
from unigate.codecs.openai_responses.request_decode import DIALECT, openai_responses_to_ir_request
from unigate.codecs.openai_responses.request_encode import ir_to_openai_responses_request
from unigate.codecs.openai_responses.response import (
    ir_to_openai_responses_response,
    openai_responses_to_ir_response,
)
from unigate.codecs.openai_responses.stream_decode import OpenAIResponsesStreamDecoder
from unigate.codecs.openai_responses.stream_encode import OpenAIResponsesStreamEncoder
from unigate.codecs.openai_responses.usage import (
    openai_responses_stream_usage,
    openai_responses_usage,
)

__all__ = [
    "DIALECT",
    "OpenAIResponsesStreamDecoder",
    "OpenAIResponsesStreamEncoder",
    "ir_to_openai_responses_request",
    "ir_to_openai_responses_response",
    "openai_responses_error_body",
    "openai_responses_stream_usage",
    "openai_responses_to_ir_request",
    "openai_responses_to_ir_response",
    "openai_responses_upstream_error",
    "openai_responses_usage",
]
