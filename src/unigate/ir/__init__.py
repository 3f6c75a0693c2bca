"""The intermediate representation that every dialect and provider codec translates to and from."""

from unigate.ir.parts import (
    DocumentPart,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from unigate.ir.request import (
    EmbedRequest,
    EmbedResponse,
    IRRequest,
    Message,
    ReasoningConfig,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)
from unigate.ir.response import IRResponse
from unigate.ir.stream import (
    Finish,
    ReasoningDelta,
    Start,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from unigate.ir.usage import Usage

__all__ = [
    "DocumentPart", "EmbedRequest", "EmbedResponse", "Finish", "IRRequest", "IRResponse",
    "ImagePart", "Message", "Part", "ReasoningConfig", "ReasoningDelta", "ReasoningPart",
    "ResponseFormat", "Start", "StreamEvent", "TextDelta", "TextPart", "ToolCallDelta",
    "ToolCallPart", "ToolChoice", "ToolResultPart", "ToolSpec", "UnknownPart", "Usage",
    "UsageEvent",
]
