"""One try at one destination, and the generation request it serves: what the fast path and
the translated path need, as two objects instead of eight parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unigate.codecs.wire_format import ClientOptions, WireFormat
from unigate.config import Destination, EndpointConfig
from unigate.errors import GatewayError
from unigate.ir import IRRequest
from unigate.providers import Provider
from unigate.server.context import RequestContext

if TYPE_CHECKING:
    from unigate.server.guardrails import RequestGuard


@dataclass(slots=True)
class Attempt:
    ctx: RequestContext
    endpoint: EndpointConfig
    dest: Destination
    provider: Provider
    # A stream that failed after its first bytes (the client already has its 200, and the
    # error inside the stream): the attempt answered, but did not succeed.
    failure: GatewayError | None = None

    def timeout(self, stream: bool = False) -> float | None:
        """How long the provider may take to start answering (see RequestContext.attempt_timeout)."""
        e = self.endpoint
        return self.ctx.attempt_timeout(e.timeout, e.first_token_timeout if stream else None)

    def failed_midstream(self, err: GatewayError) -> None:
        self.failure = err
        self.ctx.record.status_code = err.status
        self.ctx.record.error_code = err.code


@dataclass(slots=True)
class Generation:
    """A generation request as the client sent it."""

    client: WireFormat  # the client's wire format
    body: dict[str, Any]
    opts: ClientOptions
    stream: bool
    guard: RequestGuard | None = None  # the endpoint's guardrails at work on this request
    # the request as the input guardrails left it (sanitized): sent from here, not from `body`
    ir: IRRequest | None = None

    def same_format(self, provider_formats: tuple[str, ...] | list[str]) -> bool:
        """Whether the fast path may relay the body as it came: the provider speaks the client's
        format and no guardrail changed the request or has to read the answer."""
        if self.client.name not in provider_formats or not self.opts.sse or self.ir is not None:
            return False
        return self.guard is None or not self.guard.reads_output
