"""The contract every wire-format codec package (`unigate.codecs.<format>`) fulfils.

Each package exports, with <fmt> its format name (openai_chat, openai_responses, anthropic,
gemini):

Requests
  <fmt>_to_ir_request(body: dict) -> IRRequest
      A client's request body → IR. Raises `errors.InvalidRequest` naming the field for a
      malformed body. Parameters the IR has no field for, and that would change the answer,
      go to `IRRequest.extra` under their own name. (Gemini takes model and stream from the
      URL: gemini_to_ir_request(body, model, stream).)
  ir_to_<fmt>_request(ir: IRRequest, model: str) -> dict
      IR → the body sent upstream, for provider model `model`. Raises
      `errors.UnsupportedParameter` for what the format cannot honour. Never drops
      anything silently.

Responses
  <fmt>_to_ir_response(body: dict) -> IRResponse          an upstream's response → IR
  ir_to_<fmt>_response(resp: IRResponse, model: str) -> dict
      IR → the body returned to the client; `model` is the endpoint name the client asked for.

Streams
  <Fmt>StreamDecoder()   -> StreamDecoder: upstream SSE events → IR stream events
  <Fmt>StreamEncoder(model: str) -> StreamEncoder: IR stream events → the client's SSE bytes

Errors
  <fmt>_error_body(err: GatewayError) -> dict     the client-facing error body
  <fmt>_upstream_error(status: int, body: bytes) -> tuple[str, str | None]
      (message, provider error type) read from an upstream error response; never raises.

Fast path (client and provider speak this format; the body is relayed as bytes)
  <fmt>_usage(body: dict) -> Usage | None          usage of a complete response body
  <fmt>_stream_usage(event: SSEEvent) -> Usage | None
      usage carried by one stream event, if any; must be cheap for events with none
      (check for b"usage"/"usage" in the data before parsing).
"""

from __future__ import annotations

from typing import Protocol

from unigate.errors import GatewayError
from unigate.ir.stream import StreamEvent
from unigate.sse import SSEEvent


class StreamDecoder(Protocol):
    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """One upstream SSE event → zero or more IR events. Raises
        `errors.UpstreamBadResponse` for an event that breaks the format, and
        `errors.UpstreamError` for an in-stream error event from the provider."""
        ...

    def close(self) -> list[StreamEvent]:
        """The upstream stream ended; emit anything still held back."""
        ...


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes:
        """One IR event → the client's SSE bytes (may be b"" when nothing is due yet)."""
        ...

    def close(self) -> bytes:
        """After the last event: the closing events (e.g. `[DONE]`, `message_stop`)."""
        ...

    def error(self, err: GatewayError) -> bytes:
        """The dialect's own in-stream error event, for a failure after bytes were sent."""
        ...
