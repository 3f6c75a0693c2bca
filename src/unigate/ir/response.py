"""A complete (non-streamed, or folded) generation response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from unigate.ir.parts import Meta, Part
from unigate.ir.usage import Usage

# Why generation stopped, in one vocabulary:
#   stop            natural end of turn        length          max tokens reached
#   stop_sequence   a stop sequence matched    tool_calls      the model called tools
#   content_filter  blocked by a safety filter refusal         the model refused (Anthropic)
#   pause_turn      long turn paused (Anthropic server tools)  error / other
FinishReason = Literal[
    "stop", "length", "stop_sequence", "tool_calls", "content_filter", "refusal", "pause_turn",
    "error", "other",
]


@dataclass(slots=True)
class IRResponse:
    id: str
    model: str
    parts: list[Part] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    stop_sequence: str | None = None  # the sequence that matched, when the provider says
    usage: Usage | None = None
    created: int | None = None  # unix seconds
    meta: Meta | None = None
