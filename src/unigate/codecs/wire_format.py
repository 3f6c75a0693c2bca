"""The record each codec package fills in for its wire format (`<package>/format.py`), and the
shapes generic code reads it through. Everything the request pipeline must know about a
dialect is a field here, so `server/`, `governance/`, `routing/` and `accounting/` never test
a format's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from unigate.codecs.base import StreamDecoder, StreamEncoder
from unigate.errors import GatewayError
from unigate.ir import EmbedRequest, EmbedResponse, IRRequest, IRResponse, Usage
from unigate.ir.parameters import DialectParameters
from unigate.sse import SSEEvent

if TYPE_CHECKING:
    from unigate.providers.base import Provider

JSON = dict[str, Any]


@dataclass(slots=True)
class ClientOptions:
    """What the client asked for beyond the body the codec reads."""

    model: str | None = None  # from the URL (Gemini)
    stream: bool | None = None  # from the URL (Gemini)
    include_usage: bool = False  # the client asked for stream usage (OpenAI chat stream_options)
    sse: bool = True  # Gemini: alt=sse, or a streamed JSON array


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """An endpoint as a `GET .../models` answer describes it."""

    name: str
    embedding: bool  # an embeddings endpoint (its name or models say so)


@dataclass(frozen=True, slots=True)
class ModelListing:
    """A surface's `GET .../models` shapes: one model, and the list around them."""

    describe: Callable[[ModelEntry], JSON]
    wrap: Callable[[list[JSON]], JSON]


@dataclass(frozen=True, slots=True)
class TokenCounting:
    """A format's token-counting API, from both sides: a client's counting request (body and
    the model from the URL, if any) and the answer to it; the request sent to a provider, and
    where the provider's answer says the count."""

    decode_request: Callable[[JSON, str], IRRequest]
    response: Callable[[int], JSON]
    encode_request: Callable[[IRRequest, str], JSON]
    count_key: str


def _never(_: Any) -> bool:
    return False


def _no_retry_delay(_: bytes) -> str | None:
    return None


def _no_output_limit(_: JSON) -> int:
    return 0


def stream_error_reader(markers: tuple[str, ...], rule: Callable[[str | None, Any], GatewayError | None]
                        ) -> Callable[[SSEEvent], GatewayError | None]:
    """A `WireFormat.stream_error` from the codec's own rule (the one its stream decoder raises
    by): only events whose data mention one of `markers` are parsed, so the fast path pays a
    substring test per event."""
    def stream_error(event: SSEEvent) -> GatewayError | None:
        if not any(m in event.data for m in markers):
            return None
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
        return rule(event.event, data)
    return stream_error


class UpstreamErrors(Protocol):
    """What reading a provider's error response needs (WireFormat and EmbedFormat both have it)."""

    @property
    def upstream_error(self) -> Callable[[int, bytes], tuple[str, str | None]]: ...

    @property
    def retry_delay(self) -> Callable[[bytes], str | None]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WireFormat:
    """One wire format: a client dialect and a provider's API at once."""

    name: str
    decode_request: Callable[[JSON, ClientOptions], IRRequest]
    encode_request: Callable[[IRRequest, str, Provider], JSON]
    decode_response: Callable[[JSON], IRResponse]
    # (response, endpoint name, the client's decoded request: some formats echo it back)
    encode_response: Callable[[IRResponse, str, IRRequest], JSON]
    stream_decoder: Callable[[], StreamDecoder]
    stream_encoder: Callable[[str, ClientOptions, IRRequest | None], StreamEncoder]
    error_body: Callable[[GatewayError], JSON]
    # (status, body) → (message, error kind) of a provider's error response
    upstream_error: Callable[[int, bytes], tuple[str, str | None]]
    usage: Callable[[JSON], Usage | None]
    stream_usage: Callable[[SSEEvent], Usage | None]
    # The response field naming the model ("model", Gemini "modelVersion"): the fast path
    # rewrites it to the endpoint name the client asked for.
    model_key: str
    # How the dialect's request parameters fare toward another format (`ir.parameters`).
    parameters: DialectParameters
    # The most output a request allows (what a token limit reserves before the call).
    max_output_tokens: Callable[[JSON], int] = _no_output_limit
    # Streams that carry usage only when asked (OpenAI chat): whether the client asked, and
    # the body asking for it, for the fast path's own accounting; the chunk it adds is then
    # hidden from a client that did not ask (`is_usage_only`).
    wants_stream_usage: Callable[[JSON], bool] = _never
    with_stream_usage: Callable[[JSON], JSON] | None = None
    is_usage_only: Callable[[SSEEvent], bool] = _never
    # The provider's own error event inside a stream that began with 200 (the fast path relays
    # it as it is, and records the failure: usage row, passive health).
    stream_error: Callable[[SSEEvent], GatewayError | None] = lambda _: None
    # A retry delay the provider gives in an error body rather than a Retry-After header.
    retry_delay: Callable[[bytes], str | None] = _no_retry_delay
    # Streams may also come as one JSON array (Gemini without alt=sse): payload folding reads it.
    json_array_streams: bool = False
    count_tokens: TokenCounting | None = None
    models: ModelListing | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedFormat:
    name: str
    encode_request: Callable[[EmbedRequest, str, Provider], JSON]
    decode_response: Callable[[JSON], EmbedResponse]
    upstream_error: Callable[[int, bytes], tuple[str, str | None]]
    retry_delay: Callable[[bytes], str | None] = _no_retry_delay


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedDialect:
    """An embeddings request as a client sends it: its body (and the model from the URL, if
    any) → the IR, the IR answer → its response body. `relay_as` names the EmbedFormat that
    takes the client's body as it is (the same API upstream), if there is one."""

    name: str
    decode_request: Callable[[JSON, str], EmbedRequest]
    encode_response: Callable[[EmbedResponse, EmbedRequest], JSON]
    error_body: Callable[[GatewayError], JSON]
    relay_as: str | None = None
