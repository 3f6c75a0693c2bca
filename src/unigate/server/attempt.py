"""One try at one destination, and the generation request it serves: what the fast path and
the translated path need, as two objects instead of eight parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unigate.codecs.wire_format import ClientOptions, WireFormat
from unigate.config import Destination, EndpointConfig
from unigate.errors import GatewayError
from unigate.providers import Provider
from unigate.server.context import RequestContext


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
