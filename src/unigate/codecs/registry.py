"""Every wire format's codec functions behind one uniform shape, looked up by format name.

Generic code (the request pipeline) only talks to `WireFormat`; the small adapters below
absorb the differences between formats (Gemini takes model and stream from the URL, OpenAI
chat encodes differently for `compat` servers, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from unigate.codecs import anthropic as an
from unigate.codecs import gemini as gm
from unigate.codecs import openai_chat as oc
from unigate.codecs import openai_embeddings as oe
from unigate.codecs import openai_responses as orr
from unigate.codecs.base import StreamDecoder, StreamEncoder
from unigate.errors import GatewayError
from unigate.ir import EmbedRequest, EmbedResponse, IRRequest, IRResponse, Usage
from unigate.ir.parameters import DialectParameters
from unigate.providers.base import Provider
from unigate.sse import SSEEvent


@dataclass(slots=True)
class ClientOptions:
    """What the client asked for beyond the body the codec reads."""

    model: str | None = None  # from the URL (Gemini)
    stream: bool | None = None  # from the URL (Gemini)
    include_usage: bool = False  # OpenAI chat stream_options.include_usage
    sse: bool = True  # Gemini: alt=sse, or a streamed JSON array


@dataclass(frozen=True, slots=True)
class WireFormat:
    name: str
    decode_request: Callable[[dict[str, Any], ClientOptions], IRRequest]
    encode_request: Callable[[IRRequest, str, Provider], dict[str, Any]]
    decode_response: Callable[[dict[str, Any]], IRResponse]
    # (response, endpoint name, the client's decoded request: some formats echo it back)
    encode_response: Callable[[IRResponse, str, IRRequest], dict[str, Any]]
    stream_decoder: Callable[[], StreamDecoder]
    stream_encoder: Callable[[str, ClientOptions, IRRequest | None], StreamEncoder]
    error_body: Callable[[GatewayError], dict[str, Any]]
    upstream_error: Callable[[int, bytes], tuple[str, str | None]]
    usage: Callable[[dict[str, Any]], Usage | None]
    stream_usage: Callable[[SSEEvent], Usage | None]
    # The response field naming the model ("model", Gemini "modelVersion"): the fast path
    # rewrites it to the endpoint name the client asked for.
    model_key: str
    # How the dialect's request parameters fare toward another format (`ir.parameters`).
    parameters: DialectParameters
    # OpenAI chat streams carry usage only when the client opts in; the fast path opts in
    # for its own accounting and hides the extra chunk from a client that did not ask.
    usage_opt_in: bool = False


FORMATS: dict[str, WireFormat] = {
    "openai_chat": WireFormat(
        "openai_chat",
        lambda body, o: oc.openai_chat_to_ir_request(body),
        lambda ir, model, p: oc.ir_to_openai_chat_request(ir, model, compat=p.compat),
        oc.openai_chat_to_ir_response,
        lambda resp, model, req: oc.ir_to_openai_chat_response(resp, model),
        oc.OpenAIChatStreamDecoder,
        lambda model, o, req: oc.OpenAIChatStreamEncoder(model, include_usage=o.include_usage),
        oc.openai_chat_error_body,
        oc.openai_chat_upstream_error,
        oc.openai_chat_usage,
        oc.openai_chat_stream_usage,
        "model",
        oc.DIALECT,
        usage_opt_in=True,
    ),
    "openai_responses": WireFormat(
        "openai_responses",
        lambda body, o: orr.openai_responses_to_ir_request(body),
        lambda ir, model, p: orr.ir_to_openai_responses_request(ir, model),
        orr.openai_responses_to_ir_response,
        lambda resp, model, req: orr.ir_to_openai_responses_response(resp, model, request=req),
        orr.OpenAIResponsesStreamDecoder,
        lambda model, o, req: orr.OpenAIResponsesStreamEncoder(model, request=req),
        orr.openai_responses_error_body,
        orr.openai_responses_upstream_error,
        orr.openai_responses_usage,
        orr.openai_responses_stream_usage,
        "model",
        orr.DIALECT,
    ),
    "anthropic": WireFormat(
        "anthropic",
        lambda body, o: an.anthropic_to_ir_request(body),
        lambda ir, model, p: an.ir_to_anthropic_request(ir, model),
        an.anthropic_to_ir_response,
        lambda resp, model, req: an.ir_to_anthropic_response(resp, model),
        an.AnthropicStreamDecoder,
        lambda model, o, req: an.AnthropicStreamEncoder(model),
        an.anthropic_error_body,
        an.anthropic_upstream_error,
        an.anthropic_usage,
        an.anthropic_stream_usage,
        "model",
        an.DIALECT,
    ),
    "gemini": WireFormat(
        "gemini",
        lambda body, o: gm.gemini_to_ir_request(body, o.model or "", bool(o.stream)),
        lambda ir, model, p: gm.ir_to_gemini_request(ir, model),
        gm.gemini_to_ir_response,
        lambda resp, model, req: gm.ir_to_gemini_response(resp, model),
        gm.GeminiStreamDecoder,
        lambda model, o, req: gm.GeminiStreamEncoder(model, sse=o.sse),
        gm.gemini_error_body,
        gm.gemini_upstream_error,
        gm.gemini_usage,
        gm.gemini_stream_usage,
        "modelVersion",
        gm.DIALECT,
    ),
}


@dataclass(frozen=True, slots=True)
class EmbedFormat:
    name: str
    encode_request: Callable[[EmbedRequest, str, Provider], dict[str, Any]]
    decode_response: Callable[[dict[str, Any]], EmbedResponse]
    upstream_error: Callable[[int, bytes], tuple[str, str | None]]


EMBED_FORMATS: dict[str, EmbedFormat] = {
    "openai_embeddings": EmbedFormat(
        "openai_embeddings",
        lambda req, model, p: oe.ir_to_openai_embeddings_request(req, model, compat=p.compat),
        oe.openai_embeddings_to_ir_response, oc.openai_chat_upstream_error),
    "gemini_embed": EmbedFormat(
        "gemini_embed", lambda req, model, p: gm.ir_to_gemini_embed_request(req, model),
        gm.gemini_embed_to_ir_response,
        gm.gemini_upstream_error),
}
