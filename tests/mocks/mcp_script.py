"""Scripted MCP tool calls for the agent-loop tests, in every provider mock.

When the latest user prompt holds `MOCK_MCP_CALL:<tool>{json arguments}` and the request offers
a function of that name (or one ending in `_<tool>`: the gateway's `<label>__<tool>` for a tool
two servers share, the coding agents' prefixed names of MCP tools),
the mock calls it. When the prompt ends with a tool result, the result itself may hold the next
`MOCK_MCP_CALL:` (a chain); otherwise the mock answers `TOOL_SAID:<first line of the result>`.
With `tool_choice` "none" the mock never calls a tool."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from .replies import Conversation, Reply, ToolCall, count_words, reply_to

MARKER = "MOCK_MCP_CALL:"
CALL = re.compile(r"MOCK_MCP_CALL:([A-Za-z0-9_-]+)(\{[^\n]*?\})(?=\s|$)")
SAID = "TOOL_SAID:"


def mcp_reply(conv: Conversation) -> Reply | None:
    if MARKER not in (conv.last_user_text or ""):
        return None
    base = reply_to(dataclasses.replace(conv, tools=[], json_schema=None, stop=[], max_tokens=None))
    source = conv.tool_result if conv.tool_result is not None else conv.last_user_text
    found = CALL.search(source or "")
    if found and conv.tool_choice != "none":
        name, arguments = found.group(1), json.loads(found.group(2))
        # agents prefix MCP tools: mcp__calc__add (Claude Code), mcp_calc_add (Gemini CLI)
        tool = next((t for t in conv.tools if t.name == name or t.name.endswith(f"_{name}")), None)
        if tool is not None:
            key = hashlib.sha256(f"mcp|{name}|{found.group(2)}|{conv.tool_result}".encode()).hexdigest()[:24]
            call = ToolCall(key, tool.name, arguments)
            return dataclasses.replace(base, text="", tool_calls=[call], finish="tool_calls",
                                       stop_sequence=None, text_tokens=count_words(call.arguments_json))
    lines = (conv.tool_result or "").strip().splitlines()
    text = f"{SAID}{lines[0] if lines else ''}" if conv.tool_result is not None else "NO_TOOL_CALLED"
    return dataclasses.replace(base, text=text, tool_calls=[], finish="stop", stop_sequence=None,
                               text_tokens=count_words(text))
