"""Passive health: a destination that keeps failing is skipped for a cool-down, then tried
again. Kept per worker, in memory; with Redis configured, a worker that cools a destination
down (or sees it recover) tells the others (`routing.shared_health`), which apply it as theirs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from unigate.config import DEFAULT_COOL_DOWN_SECONDS, DEFAULT_HEALTH_FAILURES, Destination


@dataclass(slots=True)
class _State:
    failures: int = 0
    cooling_until: float = 0.0


class Health:
    def __init__(self, failures_to_cool: int = DEFAULT_HEALTH_FAILURES,
                 cool_down: float = DEFAULT_COOL_DOWN_SECONDS) -> None:
        self._states: dict[tuple[str, str], _State] = {}
        self.failures_to_cool = failures_to_cool
        self.cool_down = cool_down
        # told when this worker cools a destination down (seconds) or sees it answer again
        self.on_change: Callable[[str, str, float], None] | None = None

    def is_cooling(self, dest: Destination, now: float | None = None) -> bool:
        s = self._states.get((dest.provider, dest.model))
        return s is not None and s.cooling_until > (time.monotonic() if now is None else now)

    def cooling(self) -> list[tuple[str, str]]:
        """(provider, model) of every destination skipped now (the metrics' gauge)."""
        now = time.monotonic()
        return [key for key, s in self._states.items() if s.cooling_until > now]

    def known(self) -> list[tuple[str, str]]:
        """Every destination that has failed at least once since this worker started."""
        return list(self._states)

    def success(self, dest: Destination) -> None:
        s = self._states.get((dest.provider, dest.model))
        if s is not None and (s.failures or s.cooling_until):
            s.failures, s.cooling_until = 0, 0.0
            if self.on_change is not None:
                self.on_change(dest.provider, dest.model, 0.0)

    def failure(self, dest: Destination, now: float | None = None) -> None:
        s = self._states.setdefault((dest.provider, dest.model), _State())
        s.failures += 1
        if s.failures >= self.failures_to_cool:
            # After the cool-down one request tries it again; one more failure cools it again.
            s.cooling_until = (time.monotonic() if now is None else now) + self.cool_down
            s.failures = self.failures_to_cool - 1
            if self.on_change is not None:
                self.on_change(dest.provider, dest.model, self.cool_down)

    def apply(self, provider: str, model: str, seconds: float) -> None:
        """Another worker's news: cooling for `seconds` from now, or (0) answering again."""
        s = self._states.setdefault((provider, model), _State())
        if seconds > 0:
            s.cooling_until = max(s.cooling_until, time.monotonic() + seconds)
            s.failures = max(s.failures, self.failures_to_cool - 1)
        else:
            s.failures, s.cooling_until = 0, 0.0
