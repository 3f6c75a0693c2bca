"""The Gemini wire format (generateContent), as the request pipeline sees it, and Gemini's
embeddings format."""

from __future__ import annotations

from typing import Any

from unigate.codecs.gemini._util import get
from unigate.codecs.gemini.count_tokens import (
    gemini_count_tokens_response,
    gemini_count_tokens_to_ir,
    ir_to_gemini_count_tokens_request,
)
from unigate.codecs.gemini.embed import (
    gemini_batch_embed_to_ir,
    gemini_embed_to_ir,
    gemini_embed_to_ir_response,
    ir_to_gemini_embed_request,
    ir_to_gemini_embed_response,
)
from unigate.codecs.gemini.errors import (
    gemini_error_body,
    gemini_retry_delay,
    gemini_upstream_error,
)
from unigate.codecs.gemini.models import GEMINI_MODELS
from unigate.codecs.gemini.request_decode import DIALECT, gemini_to_ir_request
from unigate.codecs.gemini.request_encode import ir_to_gemini_request
from unigate.codecs.gemini.response import gemini_to_ir_response, ir_to_gemini_response
from unigate.codecs.gemini.stream_decode import GeminiStreamDecoder, chunk_error
from unigate.codecs.gemini.stream_encode import GeminiStreamEncoder
from unigate.codecs.gemini.usage import gemini_stream_usage, gemini_usage
from unigate.codecs.wire_format import EmbedDialect, EmbedFormat, TokenCounting, WireFormat, stream_error_reader


def max_output_tokens(body: dict[str, Any]) -> int:
    config = get(body, "generationConfig")
    value = get(config, "maxOutputTokens") if isinstance(config, dict) else None
    return value if isinstance(value, int) else 0


FORMAT = WireFormat(
    name="gemini",
    # Gemini names the model and whether to stream in the URL, not the body.
    decode_request=lambda body, o: gemini_to_ir_request(body, o.model or "", bool(o.stream)),
    encode_request=lambda ir, model, p: ir_to_gemini_request(ir, model),
    decode_response=gemini_to_ir_response,
    encode_response=lambda resp, model, req: ir_to_gemini_response(resp, model),
    stream_decoder=GeminiStreamDecoder,
    stream_encoder=lambda model, o, req: GeminiStreamEncoder(model, sse=o.sse),
    error_body=gemini_error_body,
    upstream_error=gemini_upstream_error,
    usage=gemini_usage,
    stream_usage=gemini_stream_usage,
    model_key="modelVersion",
    parameters=DIALECT,
    stream_error=stream_error_reader(('"error"',), chunk_error),
    max_output_tokens=max_output_tokens,
    retry_delay=gemini_retry_delay,
    json_array_streams=True,
    count_tokens=TokenCounting(
        decode_request=gemini_count_tokens_to_ir,
        response=gemini_count_tokens_response,
        encode_request=ir_to_gemini_count_tokens_request,
        count_key="totalTokens",
    ),
    models=GEMINI_MODELS,
)

EMBED_FORMAT = EmbedFormat(
    name="gemini_embed",
    encode_request=lambda req, model, p: ir_to_gemini_embed_request(req, model),
    decode_response=gemini_embed_to_ir_response,
    upstream_error=gemini_upstream_error,
    retry_delay=gemini_retry_delay,
)

# A Gemini client's embedContent (one text) and batchEmbedContents: always translated, since
# the upstream call is always batchEmbedContents.
EMBED_CONTENT_DIALECT = EmbedDialect(
    name="gemini_embedContent",
    decode_request=gemini_embed_to_ir,
    encode_response=lambda resp, req: ir_to_gemini_embed_response(resp, False),
    error_body=gemini_error_body,
)
BATCH_EMBED_DIALECT = EmbedDialect(
    name="gemini_batchEmbedContents",
    decode_request=gemini_batch_embed_to_ir,
    encode_response=lambda resp, req: ir_to_gemini_embed_response(resp, True),
    error_body=gemini_error_body,
)
