"""The Gemini API wire format (generativelanguage.googleapis.com v1beta), both directions:
generateContent / streamGenerateContent, countTokens, embedContent / batchEmbedContents."""

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
from unigate.codecs.gemini.errors import gemini_error_body, gemini_upstream_error
from unigate.codecs.gemini.request_decode import DIALECT, gemini_to_ir_request
from unigate.codecs.gemini.request_encode import ir_to_gemini_request
from unigate.codecs.gemini.response import gemini_to_ir_response, ir_to_gemini_response
from unigate.codecs.gemini.stream_decode import GeminiStreamDecoder
from unigate.codecs.gemini.stream_encode import GeminiStreamEncoder
from unigate.codecs.gemini.usage import gemini_stream_usage, gemini_usage

__all__ = [
    "DIALECT",
    "GeminiStreamDecoder", "GeminiStreamEncoder", "gemini_batch_embed_to_ir",
    "gemini_count_tokens_response", "gemini_count_tokens_to_ir", "gemini_embed_to_ir",
    "gemini_embed_to_ir_response", "gemini_error_body", "gemini_stream_usage",
    "gemini_to_ir_request", "gemini_to_ir_response", "gemini_upstream_error", "gemini_usage",
    "ir_to_gemini_count_tokens_request", "ir_to_gemini_embed_request",
    "ir_to_gemini_embed_response", "ir_to_gemini_request", "ir_to_gemini_response",
]
