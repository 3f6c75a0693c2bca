"""Token estimates for when a provider reports none (about four characters per token)."""

from __future__ import annotations

import orjson

from unigate.ir.parts import ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest

CHARS_PER_TOKEN = 4
PER_MESSAGE_OVERHEAD = 4  # role markers and separators every chat template adds


def estimate_input_tokens(ir: IRRequest) -> int:
    chars = 0
    for message in ir.messages:
        chars += PER_MESSAGE_OVERHEAD * CHARS_PER_TOKEN
        for part in message.parts:
            if isinstance(part, (TextPart, ReasoningPart)):
                chars += len(part.text)
            elif isinstance(part, ToolCallPart):
                chars += len(part.name) + len(part.arguments)
            elif isinstance(part, ToolResultPart):
                chars += sum(len(p.text) for p in part.content if isinstance(p, TextPart))
            else:  # images and files: providers charge a few hundred tokens; a rough floor
                chars += 256 * CHARS_PER_TOKEN
    for tool in ir.tools or []:
        chars += len(tool.name) + len(tool.description or "")
        chars += len(orjson.dumps(tool.parameters or {}))
    return max(1, -(-chars // CHARS_PER_TOKEN))
