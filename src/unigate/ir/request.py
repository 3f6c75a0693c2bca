"""Requests: chat-style generation and embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from unigate.ir.parameters import ParameterReport
from unigate.ir.parts import Meta, Part, ToolCallPart, ToolResultPart

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True)
class Message:
    """One turn. System instructions are messages with role "system", in place (decoders of
    formats with a top-level system field put it first; encoders of such formats hoist them).
    Tool results are `ToolResultPart`s in a message of role "tool"."""

    role: Role
    parts: list[Part] = field(default_factory=list)
    name: str | None = None
    meta: Meta | None = None


@dataclass(slots=True)
class ToolSpec:
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # JSON schema of the arguments
    strict: bool | None = None
    meta: Meta | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None  # with mode "tool"


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None
    strict: bool | None = None


@dataclass(slots=True)
class ReasoningConfig:
    """Thinking controls. `effort` is OpenAI's scale ("none", "minimal", "low", "medium",
    "high", "xhigh"); `budget_tokens` is Anthropic's / Gemini's; a codec fills whichever its
    client sent and the target maps between them. `summary` is the Responses summary mode;
    `include_thoughts` is Gemini's switch for returning thought text."""

    enabled: bool | None = None
    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    include_thoughts: bool | None = None


@dataclass(slots=True)
class IRRequest:
    """A generation request, independent of any wire format.

    Parameters with no field here are kept by their (dotted) name in the client's dialect,
    sorted by the client codec's parameter table (see `ir.parameters`):
    `extra` the semantic ones (refused on the translated path unless the endpoint drops
    them), `advisory` the ones dropped toward another format, `emulate` the ones the gateway
    applies itself (`context_management`). A target of the client's own format gets all
    three back verbatim. `report` records what was dropped or emulated on the way."""

    model: str
    messages: list[Message] = field(default_factory=list)
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[ToolSpec] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning: ReasoningConfig | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    advisory: dict[str, Any] = field(default_factory=dict)
    emulate: dict[str, Any] = field(default_factory=dict)
    report: ParameterReport = field(default_factory=ParameterReport)

    def fill_tool_result_names(self) -> None:
        """Give each tool result the name of the call it answers (found earlier in history)."""
        names: dict[str, str] = {}
        for message in self.messages:
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
                elif isinstance(part, ToolResultPart) and part.name is None:
                    part.name = names.get(part.tool_call_id)


@dataclass(slots=True)
class EmbedRequest:
    model: str
    inputs: list[str | list[int]] = field(default_factory=list)
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    task_type: str | None = None  # Gemini's taskType
    title: str | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbedResponse:
    model: str
    vectors: list[list[float]] = field(default_factory=list)
    input_tokens: int | None = None
