"""The order in which a request tries destinations: one chosen by weight (or kept by session
affinity), then the endpoint's fallbacks in order, each once, cooling ones moved last."""

from __future__ import annotations

import hashlib
import random

from unigate.config import Destination, EndpointConfig
from unigate.routing.health import Health


def _point(session: str | None) -> float:
    """A number in [0, 1): random per request, or fixed per session."""
    if session is None:
        return random.random()
    digest = hashlib.blake2b(session.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def weighted_pick(dests: list[Destination], point: float) -> int:
    total = sum(d.traffic_percentage for d in dests)
    edge = point * total
    for i, d in enumerate(dests):
        edge -= d.traffic_percentage
        if edge < 0:
            return i
    return len(dests) - 1


def plan_attempts(endpoint: EndpointConfig, health: Health, session: str | None = None) -> list[Destination]:
    dests = endpoint.destinations
    if len(dests) == 1:
        primary = dests[0]
    else:
        healthy = [d for d in dests if d.traffic_percentage > 0 and not health.is_cooling(d)]
        pool = healthy or dests
        primary = pool[weighted_pick(pool, _point(session))]
    order = [primary] + [f for f in endpoint.fallbacks if f != primary]
    budget = endpoint.max_attempts or len(order)
    ready = [d for d in order if not health.is_cooling(d)]
    cooling = [d for d in order if health.is_cooling(d)]
    return (ready + cooling)[:budget]
