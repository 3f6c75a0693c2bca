"""Rate limits (issue 3, section 3): per-endpoint request and token limits in fixed minute/hour
windows, exact across the worker processes of one host.

    backend = SharedMemoryBackend()          # in the supervisor, BEFORE forking the workers
    limiter = RateLimiter(backend)           # anywhere (per worker is fine)
    limits = parse_rate_limits(endpoint.rate_limits, "endpoints[0].rate_limits")
    reservation = limiter.check(name, limits, "user", "a@b.c", groups, tags, estimated_tokens)
    ...                                      # the upstream call
    limiter.settle(reservation, actual_total_tokens)

Which limits apply is described in `policy`; the counter seam (for a Redis backend) in `backend`."""

from unigate.governance.ratelimit.backend import CounterBackend, CounterItem, LocalBackend
from unigate.governance.ratelimit.limiter import RateLimiter, Reservation
from unigate.governance.ratelimit.policy import applicable_limits, denial_message
from unigate.governance.ratelimit.shared_memory import SharedMemoryBackend
from unigate.governance.ratelimit.spec import RateLimit, RateLimitSpecError, parse_rate_limits

__all__ = [
    "CounterBackend", "CounterItem", "LocalBackend", "RateLimit", "RateLimitSpecError", "RateLimiter",
    "Reservation", "SharedMemoryBackend", "applicable_limits", "denial_message", "parse_rate_limits",
]
