"""Content parts: the pieces a message is made of.

Every part may carry `meta`: opaque, provider-specific data that a codec keeps so that a
round trip through another codec loses nothing it does not have to (Anthropic
`cache_control`, Gemini `thoughtSignature` on a function call, OpenAI item ids, ...).
Keys of `meta` are namespaced by wire format: {"anthropic": {...}, "gemini": {...}}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

Meta = dict[str, Any]


@dataclass(slots=True)
class TextPart:
    text: str
    meta: Meta | None = None


@dataclass(slots=True)
class ImagePart:
    """An image given either by URL (http(s) or data:) or by inline base64 `data`."""

    url: str | None = None
    data: str | None = None  # base64, without a data: prefix
    media_type: str | None = None  # e.g. "image/png"; required with `data`
    detail: str | None = None  # OpenAI "low" | "high" | "auto"
    meta: Meta | None = None


@dataclass(slots=True)
class DocumentPart:
    """A file such as a PDF, inline (base64 `data`) or by URL / provider file id."""

    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    media_type: str | None = None
    filename: str | None = None
    meta: Meta | None = None


@dataclass(slots=True)
class ToolCallPart:
    """A call the model makes; `arguments` is JSON text exactly as the model produced it."""

    id: str
    name: str
    arguments: str = ""
    meta: Meta | None = None


@dataclass(slots=True)
class ToolResultPart:
    """The result of a tool call, sent back by the client.

    `name` is the called function's name when the client dialect carries it (Gemini needs it;
    OpenAI and Anthropic do not send it: `IRRequest.fill_tool_result_names` recovers it)."""

    tool_call_id: str
    content: list[Part] = field(default_factory=list)
    is_error: bool = False
    name: str | None = None
    meta: Meta | None = None


@dataclass(slots=True)
class ReasoningPart:
    """Model reasoning ("thinking").

    `signature` is the opaque proof a provider asks to be sent back unchanged (Anthropic
    `signature`, Gemini `thoughtSignature`, OpenAI Responses `encrypted_content`);
    `signature_format` names the wire format that produced it ("anthropic", "gemini",
    "openai_responses"), so an encoder only sends a signature to the format that can check it.
    `redacted` holds Anthropic `redacted_thinking.data` (then `text` is empty)."""

    text: str = ""
    signature: str | None = None
    signature_format: str | None = None
    redacted: str | None = None
    meta: Meta | None = None


@dataclass(slots=True)
class UnknownPart:
    """A part a codec does not understand, kept verbatim with the format it came from."""

    format: str
    raw: Any
    meta: Meta | None = None


Part = Union[TextPart, ImagePart, DocumentPart, ToolCallPart, ToolResultPart, ReasoningPart, UnknownPart]


def parts_text(parts: list[Part]) -> str:
    """The concatenated text of the text parts (for token estimates and simple formats)."""
    return "".join(p.text for p in parts if isinstance(p, TextPart))
