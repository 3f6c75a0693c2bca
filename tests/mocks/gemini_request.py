"""Gemini generateContent request checks (worded like the real API) and request -> Conversation.

The REST API parses proto JSON, so camelCase and snake_case field names are both accepted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .replies import Conversation, ToolSpec


class GeminiInvalid(Exception):
    """A 400 INVALID_ARGUMENT."""


def get(obj: Any, camel: str, default: Any = None) -> Any:
    """obj[camel] or obj[snake_case(camel)]."""
    if not isinstance(obj, dict):
        return default
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower(), default)


def parts_text(content: Any) -> str:
    """Visible text of a content: text parts that are not thoughts."""
    return "\n".join(str(p["text"]) for p in get(content, "parts", []) or []
                     if isinstance(p, dict) and "text" in p and not p.get("thought"))


def function_response_text(response: Any) -> str:
    """A single string field ({"result": "sunny"}) is the result text; anything else is JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return json.dumps(response)


def _check_contents(contents: Any, where: str = "GenerateContentRequest") -> list[dict[str, Any]]:
    if not isinstance(contents, list) or not contents:
        raise GeminiInvalid(f"* {where}.contents: contents is not specified\n")
    for i, content in enumerate(contents):
        if get(content, "role") not in (None, "", "user", "model"):
            raise GeminiInvalid("Please use a valid role: user, model.")
        for j, part in enumerate(get(content, "parts", []) or []):
            response = get(part, "functionResponse")
            if response is not None and not get(response, "name"):
                raise GeminiInvalid(f"* {where}.contents[{i}].parts[{j}].function_response.name: "
                                    "Name cannot be empty.\n")
    return contents


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for i, tool in enumerate(get(body, "tools", []) or []):
        for j, decl in enumerate(get(tool, "functionDeclarations", []) or []):
            if not get(decl, "name"):
                raise GeminiInvalid(f"* GenerateContentRequest.tools[{i}].function_declarations"
                                    f"[{j}].name: Name cannot be empty.\n")
            schema = get(decl, "parametersJsonSchema") or get(decl, "parameters") or {}
            specs.append(ToolSpec(get(decl, "name"), schema))
    return specs


def _tool_choice(body: dict[str, Any]) -> str | None:
    config = get(get(body, "toolConfig", {}), "functionCallingConfig", {}) or {}
    mode = str(get(config, "mode", "AUTO")).upper()
    allowed = get(config, "allowedFunctionNames", []) or []
    if mode == "NONE":
        return "none"
    if mode == "ANY":
        return str(allowed[0]) if len(allowed) == 1 else "required"
    return None


def _json_schema(config: dict[str, Any]) -> dict[str, Any] | None:
    if get(config, "responseMimeType") != "application/json":
        return None
    schema = get(config, "responseJsonSchema") or get(config, "responseSchema")
    return schema or {}


def always_thinks(model: str) -> bool:
    return model.startswith("gemini-3")


def _check_thought_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3: in the current turn, each model step's first functionCall needs its signature."""
    starts = [i for i, c in enumerate(contents)
              if get(c, "role", "user") in ("", "user") and parts_text(c)]
    for i in range(starts[-1] + 1 if starts else 0, len(contents)):
        calls = [p for p in get(contents[i], "parts", []) or [] if get(p, "functionCall")]
        if get(contents[i], "role") == "model" and calls and not get(calls[0],
                                                                      "thoughtSignature"):
            name = get(get(calls[0], "functionCall"), "name")
            raise GeminiInvalid(
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call `default_api:"
                f"{name}` , position {i + 1}. Please refer to "
                "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")


def gemini_to_conversation(body: dict[str, Any], model: str = "") -> Conversation:
    contents = _check_contents(get(body, "contents"))
    if always_thinks(model):
        _check_thought_signatures(contents)
    config = get(body, "generationConfig", {}) or {}
    thinking = get(config, "thinkingConfig", {}) or {}
    texts = [parts_text(get(body, "systemInstruction"))]
    users: list[str] = []
    for content in contents:
        texts.append(parts_text(content))
        for part in get(content, "parts", []) or []:
            if (response := get(part, "functionResponse")) is not None:
                texts.append(function_response_text(get(response, "response")))
        if get(content, "role", "user") in ("", "user") and parts_text(content):
            users.append(parts_text(content))
    last = contents[-1]
    results = [function_response_text(get(get(p, "functionResponse"), "response"))
               for p in get(last, "parts", []) or [] if get(p, "functionResponse") is not None]
    budget = get(thinking, "thinkingBudget")
    return Conversation(
        texts=texts,
        last_user_text=users[-1] if users else "",
        tool_result="\n".join(results) if results else None,
        tools=_tools(body),
        tool_choice=_tool_choice(body),
        json_schema=_json_schema(config),
        stop=list(get(config, "stopSequences", []) or []),
        max_tokens=get(config, "maxOutputTokens"),
        thinking=bool(get(thinking, "includeThoughts")) or always_thinks(model)
        or (isinstance(budget, int) and budget > 0),
    )


def show_thoughts(body: dict[str, Any]) -> bool:
    config = get(body, "generationConfig", {}) or {}
    return bool(get(get(config, "thinkingConfig", {}), "includeThoughts"))


def count_request(body: dict[str, Any]) -> dict[str, Any]:
    """countTokens takes {contents} or {generateContentRequest: {...}}."""
    inner = get(body, "generateContentRequest")
    if isinstance(inner, dict):
        _check_contents(get(inner, "contents"), "CountTokensRequest.generate_content_request")
        return inner
    _check_contents(get(body, "contents"), "CountTokensRequest")
    return body
