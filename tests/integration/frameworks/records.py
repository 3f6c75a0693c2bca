"""What reached the mock providers: the recorded requests of one test, found by its nonce.

Every test puts a fresh nonce in its prompt, so it can pick its own requests out of the mock's
shared log without clearing it (other tests may run against the same mock)."""

from __future__ import annotations

import json
import secrets
import urllib.parse
import urllib.request
from typing import Any

# where a request of each provider type lands at the mock
PROVIDER_PATHS = {
    "chat-openai": ("/v1/chat/completions", "/v1/responses"),
    "chat-compat": ("/compat/v1/chat/completions",),
    "chat-anthropic": ("/v1/messages",),
    "chat-gemini": (":generateContent", ":streamGenerateContent"),
}


def nonce() -> str:
    return "n" + secrets.token_hex(5)


def provider_requests(mock_url: str, marker: str) -> list[dict[str, Any]]:
    """Every recorded provider request whose body mentions `marker`, oldest first."""
    query = urllib.parse.urlencode({"path_contains": ""})
    with urllib.request.urlopen(f"{mock_url}/_mock/requests?{query}", timeout=10) as r:
        records: list[dict[str, Any]] = json.load(r)
    return [rec for rec in records if marker in json.dumps(rec.get("body"))]


def landed_on(records: list[dict[str, Any]], endpoint: str) -> bool:
    """All the requests went to the provider type that backs `endpoint`."""
    wanted = PROVIDER_PATHS[endpoint]
    return bool(records) and all(any(p in rec["path"] for p in wanted) for rec in records)


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_texts(c.get("text") if isinstance(c, dict) and "text" in c else c) for c in content)
    if isinstance(content, dict):
        return json.dumps(content)
    return "" if content is None else str(content)


def tool_results(body: dict[str, Any]) -> dict[str, str]:
    """The tool results a provider request carries, call id (Gemini: function name) -> text."""
    found: dict[str, str] = {}
    for msg in body.get("messages") or []:  # OpenAI chat, Anthropic
        if msg.get("role") == "tool":
            found[str(msg.get("tool_call_id"))] = _texts(msg.get("content"))
        if isinstance(msg.get("content"), list):
            for block in msg["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    found[str(block.get("tool_use_id"))] = _texts(block.get("content"))
    items = body.get("input")
    for item in items if isinstance(items, list) else []:  # OpenAI Responses
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            found[str(item.get("call_id"))] = _texts(item.get("output"))
    for content in body.get("contents") or []:  # Gemini
        for part in content.get("parts") or []:
            response = part.get("functionResponse") if isinstance(part, dict) else None
            if isinstance(response, dict):
                value = response.get("response")
                if isinstance(value, dict) and len(value) == 1:  # {"output": text}, Gemini's convention
                    value = next(iter(value.values()))
                found[str(response.get("name"))] = _texts(value)
    return found


def offered_tools(body: dict[str, Any]) -> list[str]:
    """Names of the function tools a provider request offers, whatever its format."""
    names: list[str] = []
    for tool in body.get("tools") or []:
        if "function" in tool and isinstance(tool["function"], dict):  # OpenAI chat
            names.append(tool["function"].get("name"))
        elif "functionDeclarations" in tool or "function_declarations" in tool:  # Gemini
            decls = tool.get("functionDeclarations") or tool.get("function_declarations") or []
            names += [d.get("name") for d in decls]
        elif tool.get("name"):  # Anthropic, OpenAI Responses
            names.append(tool["name"])
    return [str(n) for n in names]
