"""Token usage. None means "not reported", which is not the same as 0."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Usage:
    """Counts follow OpenAI's conventions, whatever the provider:

    * `input_tokens` counts every prompt token, cached ones included (Anthropic reports
      cache reads and writes apart: its codec adds them in here and takes them out again);
    * `output_tokens` counts every generated token, reasoning included (Gemini reports
      thoughts apart: its codec adds them in);
    * `cache_read_tokens`, `cache_creation_tokens` and `reasoning_tokens` are subsets.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    estimated: bool = False

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def merge(self, newer: Usage) -> None:
        """Overlay the fields `newer` reports (stream usage arrives in cumulative pieces)."""
        for f in fields(self):
            value = getattr(newer, f.name)
            if value is not None and f.name != "estimated":
                setattr(self, f.name, value)
        self.estimated = self.estimated or newer.estimated
