"""The OpenAI Responses wire format, as the request pipeline sees it."""

from __future__ import annotations

from typing import Any

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
from unigate.codecs.openai_responses.stream_decode import OpenAIResponsesStreamDecoder, event_error
from unigate.codecs.openai_responses.stream_encode import OpenAIResponsesStreamEncoder
from unigate.codecs.openai_responses.usage import openai_responses_stream_usage, openai_responses_usage
from unigate.codecs.wire_format import WireFormat, stream_error_reader


def max_output_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_output_tokens")
    return value if isinstance(value, int) else 0


FORMAT = WireFormat(
    name="openai_responses",
    decode_request=lambda body, o: openai_responses_to_ir_request(body),
    encode_request=lambda ir, model, p: ir_to_openai_responses_request(ir, model),
    decode_response=openai_responses_to_ir_response,
    encode_response=lambda resp, model, req: ir_to_openai_responses_response(resp, model, request=req),
    stream_decoder=OpenAIResponsesStreamDecoder,
    stream_encoder=lambda model, o, req: OpenAIResponsesStreamEncoder(model, request=req),
    error_body=openai_responses_error_body,
    upstream_error=openai_responses_upstream_error,
    usage=openai_responses_usage,
    stream_usage=openai_responses_stream_usage,
    model_key="model",
    parameters=DIALECT,
    stream_error=stream_error_reader(("error", "failed"), event_error),
    max_output_tokens=max_output_tokens,
)
