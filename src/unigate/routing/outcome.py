"""Which failures move on to the next destination, and which error the client gets when
every attempt failed."""

from __future__ import annotations

from unigate.errors import GatewayError, InvalidRequest


def is_retryable(err: GatewayError) -> bool:
    """Provider faults (429, 5xx, unreachable, timeout, broken answers) try the next
    destination; the client's own mistakes (4xx) never do."""
    return err.retryable


def cannot_serve(err: GatewayError) -> bool:
    """This destination cannot take the request at all (a parameter its provider cannot
    honour): a fallback that cannot serve is skipped, not an error of its own."""
    return isinstance(err, InvalidRequest)


def _retry_after(err: GatewayError) -> float:
    try:
        return float(err.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0


def most_meaningful(errors: list[GatewayError]) -> GatewayError:
    """A 429 stays a 429 (with the longest Retry-After, so the client waits long enough for
    every destination); otherwise the last provider failure."""
    limited = [e for e in errors if e.status == 429]
    if limited:
        return max(limited, key=_retry_after)
    return errors[-1]
