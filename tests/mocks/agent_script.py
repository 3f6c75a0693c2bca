"""Scripted tool round trips for real coding agents (Claude Code, Codex, Gemini CLI).

When the latest user prompt holds `MOCK_AGENT_READ:<absolute path>` and the request offers a
tool that can read a file, the mock answers with one call of that tool on the path. When the
request then ends with that call's result, paired with the call (by id where the format has
ids, by function name for Gemini), the mock answers with the final text
`FILE_SAID:<first line of the result>`, so a test can check the result reached the provider.

Tools are recognised by schema, not by agent:
  * a file-reading tool: a name containing "read" and a required string parameter that names a
    path (`file_path`, `path`, `absolute_path`, `filePath`): Claude Code's `Read`, Gemini CLI's
    `read_file`;
  * else a shell tool: a required `cmd` or `command` parameter, a string (Codex's
    `exec_command`, Claude Code's `Bash`, Gemini CLI's `run_shell_command`) or an array of
    strings (Codex's older `shell` tool), given `cat <path>`.

Each provider mock calls `scripted_reply(conv, paired_with)` before its normal reply rule, with
`paired_with` the ids (or for Gemini the function names) that the trailing tool results answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shlex
from typing import Any

from .mcp_script import mcp_reply
from .replies import Conversation, Reply, ToolCall, ToolSpec, count_words, reply_to

MARKER = re.compile(r"MOCK_AGENT_READ:(\S+)")
PATH_PARAMS = ("file_path", "absolute_path", "path", "filePath")
SHELL_PARAMS = ("cmd", "command")
SAID = "FILE_SAID:"
UNPAIRED = "MOCK_AGENT_UNPAIRED:"
# How agents frame a file's text: Claude Code numbers lines ("     1→text" or "1\ttext"),
# Codex's exec output starts with a header that ends in "Output:".
_LINE_NUMBER = re.compile(r"^\s*\d+(?:→|\t)")


def marker_path(conv: Conversation) -> str | None:
    """The path named by the latest user text that holds the marker."""
    for text in [conv.last_user_text, *reversed(conv.texts)]:
        if found := MARKER.findall(text or ""):
            return str(found[-1])
    return None


def _required(schema: dict[str, Any]) -> list[str]:
    return [str(r) for r in schema.get("required") or []]


def _prop_type(schema: dict[str, Any], name: str) -> str:
    kind = ((schema.get("properties") or {}).get(name) or {}).get("type", "string")
    return str(kind[0] if isinstance(kind, list) else kind).lower()


def read_call(tools: list[ToolSpec], path: str) -> tuple[ToolSpec, dict[str, Any]] | None:
    """The tool and arguments that read `path`: a file-reading tool first, else a shell."""
    for tool in tools:
        if "read" not in tool.name.lower():
            continue
        for param in PATH_PARAMS:
            if param in _required(tool.schema) and _prop_type(tool.schema, param) == "string":
                return tool, {param: path}
    for tool in tools:
        for param in SHELL_PARAMS:
            if param not in _required(tool.schema):
                continue
            if _prop_type(tool.schema, param) == "array":
                return tool, {param: ["bash", "-lc", f"cat {shlex.quote(path)}"]}
            return tool, {param: f"cat {shlex.quote(path)}"}
    return None


def call_key(path: str, tool_name: str) -> str:
    return hashlib.sha256(f"agent-read|{path}|{tool_name}".encode()).hexdigest()[:24]


def result_digest(result: str) -> str:
    """The first line of the file inside a tool result, without the agent's framing."""
    try:  # a Gemini functionResponse translated to text: {"output": "<file text>"}
        wrapped = json.loads(result)
    except ValueError:
        wrapped = None
    if isinstance(wrapped, dict) and len(wrapped) == 1 and isinstance(next(iter(wrapped.values())), str):
        result = next(iter(wrapped.values()))
    if "\nOutput:\n" in result:
        result = result.split("\nOutput:\n", 1)[1]
    for line in result.splitlines():
        line = _LINE_NUMBER.sub("", line).strip()
        if line:
            return line
    return ""


def _paired(paired_with: list[str] | None, key: str, tool_name: str) -> bool:
    if paired_with is None:
        return True
    return any(key[:22] in p or p == tool_name for p in paired_with)


def scripted_reply(conv: Conversation, paired_with: list[str] | None) -> Reply | None:
    """The scripted answer for this request, or None for the mock's normal reply."""
    if (mcp := mcp_reply(conv)) is not None:
        return mcp
    path = marker_path(conv)
    if path is None:
        return None
    chosen = read_call(conv.tools, path)
    if chosen is None:
        return None
    tool, arguments = chosen
    key = call_key(path, tool.name)
    base = reply_to(dataclasses.replace(conv, tools=[], json_schema=None, stop=[], max_tokens=None))
    if conv.tool_result is None:
        call = ToolCall(key, tool.name, arguments)
        return dataclasses.replace(base, text="", tool_calls=[call], finish="tool_calls",
                                   stop_sequence=None, text_tokens=count_words(call.arguments_json))
    if _paired(paired_with, key, tool.name):
        text = f"{SAID}{result_digest(conv.tool_result)}"
    else:
        text = f"{UNPAIRED} the tool results answer {paired_with}, not the call {key}"
    return dataclasses.replace(base, text=text, tool_calls=[], finish="stop", stop_sequence=None,
                               text_tokens=count_words(text))


# --- what the trailing tool results of each format answer ---------------------------------------

def anthropic_result_ids(body: dict[str, Any]) -> list[str]:
    last = (body.get("messages") or [{}])[-1]
    content = last.get("content") if isinstance(last, dict) else None
    return [str(b.get("tool_use_id")) for b in content or []
            if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []


def chat_result_ids(body: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for msg in reversed(body.get("messages") or []):
        if not isinstance(msg, dict) or msg.get("role") != "tool":
            break
        ids.append(str(msg.get("tool_call_id")))
    return ids


def responses_result_ids(body: dict[str, Any]) -> list[str]:
    items = body.get("input")
    ids: list[str] = []
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or item.get("type") != "function_call_output":
            break
        ids.append(str(item.get("call_id")))
    return ids


def gemini_result_names(body: dict[str, Any]) -> list[str]:
    """Gemini pairs a functionResponse with its call by name (and by `id` when one was sent)."""
    contents = body.get("contents") or [{}]
    parts = contents[-1].get("parts") if isinstance(contents[-1], dict) else None
    names: list[str] = []
    for part in parts or []:
        response = part.get("functionResponse") or part.get("function_response") if isinstance(part, dict) else None
        if isinstance(response, dict):
            names += [str(response[k]) for k in ("name", "id") if response.get(k)]
    return names
