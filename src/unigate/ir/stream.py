"""Stream events: what a provider stream decoder yields and a dialect stream encoder consumes.

Order: one `Start`, then deltas, `UsageEvent`s and one `Finish`, in the order the provider
sent them (usage may come after `Finish`). The end of the stream is the end of the
iteration; encoders then write their closing events.

`index` numbers the parts of the response in order of first appearance, starting at 0:
a text part, a reasoning part and each tool call each get their own index. The first delta
for an index starts that part; a delta for a new index ends the previous one (decoders never
interleave parts, so encoders for block-structured formats can close blocks as they go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from unigate.ir.parts import Meta
from unigate.ir.response import FinishReason
from unigate.ir.usage import Usage


@dataclass(slots=True)
class Start:
    id: str
    model: str
    created: int | None = None


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str
    meta: Meta | None = None


@dataclass(slots=True)
class ReasoningDelta:
    index: int
    text: str = ""
    signature: str | None = None  # arrives once, usually last
    signature_format: str | None = None
    redacted: str | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """The first delta of a tool call carries `id` and `name`; later ones only `arguments`."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    meta: Meta | None = None


@dataclass(slots=True)
class UnknownPartDelta:
    """A whole part the IR has no stream shape for (Anthropic's server_tool_use and
    web_search_tool_result blocks, ...), kept verbatim for the format it came from, as unary
    responses keep them (`UnknownPart`): an encoder of that format writes it back, folding keeps
    it, any other encoder leaves it out. Emitted once the part is complete."""

    index: int
    format: str
    raw: dict[str, Any]


@dataclass(slots=True)
class UsageEvent:
    usage: Usage  # cumulative; merged field by field into what came before


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None


StreamEvent = Union[Start, TextDelta, ReasoningDelta, ToolCallDelta, UnknownPartDelta, UsageEvent, Finish]
