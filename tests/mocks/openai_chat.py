"""OpenAI chat completions wire format: request checks, reply bodies and stream chunks.

The three flavours differ in small, real ways: Azure adds content-filter results (and a first
stream chunk with empty choices), compat servers (vLLM, llama.cpp) omit the usage details.
"""

from __future__ import annotations

import json
from typing import Any

from .faults import sse_frame
from .replies import Conversation, Reply, ToolSpec, split_fixed, split_words

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool_calls": "tool_calls"}


class OpenAIInvalid(Exception):
    """A 400 invalid_request_error, with the field named in `param` as OpenAI does."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def text_of(content: Any) -> str:
    """Text of a string or a list of content parts (non-text parts are skipped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return str(content)


def _check_tool_messages(messages: list[dict[str, Any]]) -> None:
    pending: dict[str, int] = {}  # unanswered tool_call ids -> index of their assistant message
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "tool":
            if not pending and not any(m.get("role") == "assistant" for m in messages[:i]):
                raise OpenAIInvalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            call_id = msg.get("tool_call_id")
            if call_id not in pending:
                raise OpenAIInvalid(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in "
                    "'tool_calls' of previous message.",
                    f"messages.[{i}].tool_call_id",
                )
            del pending[call_id]
            continue
        if pending:
            first = min(pending.values())
            raise OpenAIInvalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}",
                f"messages.[{first}].role",
            )
        if role == "assistant":
            pending = {tc.get("id"): i for tc in msg.get("tool_calls") or []}
    if pending:
        first = min(pending.values())
        raise OpenAIInvalid(
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            f"to each 'tool_call_id'. The following tool_call_ids did not have response "
            f"messages: {', '.join(pending)}",
            f"messages.[{first}].role",
        )


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for i, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise OpenAIInvalid(
                f"Missing required parameter: 'tools[{i}].function.name'.",
                f"tools[{i}].function.name",
                "missing_required_parameter",
            )
        specs.append(ToolSpec(function["name"], function.get("parameters") or {}))
    return specs


def tool_choice_name(choice: Any) -> str | None:
    if isinstance(choice, dict):
        inner = choice.get("function") or choice
        return str(inner.get("name")) if inner.get("name") else "required"
    return choice


def json_schema_of(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {}
    if kind == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    return None


def chat_to_conversation(body: dict[str, Any], need_model: bool = True) -> Conversation:
    if need_model and not body.get("model"):
        raise OpenAIInvalid("you must provide a model parameter")
    messages = body.get("messages")
    if messages is None:
        raise OpenAIInvalid("Missing required parameter: 'messages'.", "messages",
                            "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise OpenAIInvalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.", "messages", "empty_array")
    for i, msg in enumerate(messages):
        if msg.get("role") not in ROLES:
            raise OpenAIInvalid(
                f"Invalid value: '{msg.get('role')}'. Supported values are: 'system', "
                "'assistant', 'user', 'function', 'tool', and 'developer'.",
                f"messages[{i}].role", "invalid_value")
    _check_tool_messages(messages)
    tools = _tools(body)
    texts = [text_of(m.get("content")) for m in messages]
    schema = json_schema_of(body.get("response_format"))
    if schema == {} and not any("json" in t.lower() for t in texts):
        raise OpenAIInvalid("'messages' must contain the word 'json' in some form, to use "
                            "'response_format' of type 'json_object'.", "messages")
    users = [text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    stop = body.get("stop") or []
    effort = body.get("reasoning_effort")
    return Conversation(
        texts=texts,
        last_user_text=users[-1] if users else "",
        tool_result=_trailing_tool_results(messages),
        tools=tools,
        tool_choice=tool_choice_name(body.get("tool_choice")),
        json_schema=schema,
        stop=[stop] if isinstance(stop, str) else list(stop),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        thinking=bool(effort) and effort != "none",
    )


def _trailing_tool_results(messages: list[dict[str, Any]]) -> str | None:
    """Texts of the tool messages that end the prompt (parallel calls answer in a row)."""
    texts: list[str] = []
    for msg in reversed(messages):
        if msg.get("role") != "tool":
            break
        texts.insert(0, text_of(msg.get("content")))
    return "\n".join(texts) if texts else None


def chat_usage(reply: Reply, flavour: str) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    if flavour == "compat":  # vLLM reports no details
        usage["prompt_tokens_details"] = None
        return usage
    usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
    usage["completion_tokens_details"] = {
        "reasoning_tokens": reply.reasoning_tokens,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    return usage


def _tool_call(reply: Reply, index: int) -> dict[str, Any]:
    call = reply.tool_calls[index]
    return {"id": "call_" + call.key, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json}}


_SAFE = {"filtered": False, "severity": "safe"}
AZURE_FILTERS = {k: _SAFE for k in ("hate", "self_harm", "sexual", "violence")}
AZURE_PROMPT_FILTERS = [{"prompt_index": 0, "content_filter_results": AZURE_FILTERS}]


def chat_completion_body(reply: Reply, ident: str, model: str, created: int,
                         flavour: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None,
                               "refusal": None, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(reply, i) for i in range(len(reply.tool_calls))]
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None,
                              "finish_reason": FINISH[reply.finish]}
    body: dict[str, Any] = {"id": ident, "object": "chat.completion", "created": created,
                            "model": model, "choices": [choice],
                            "usage": chat_usage(reply, flavour)}
    if flavour != "compat":
        body["service_tier"] = "default"
        body["system_fingerprint"] = "fp_mock0001"
    if flavour == "azure":
        choice["content_filter_results"] = AZURE_FILTERS
        body["prompt_filter_results"] = AZURE_PROMPT_FILTERS
    return body


def chat_stream_frames(reply: Reply, ident: str, model: str, created: int, flavour: str,
                       include_usage: bool) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk",
                                "created": created, "model": model}
        if flavour != "compat":
            data["service_tier"] = "default"
            data["system_fingerprint"] = "fp_mock0001"
        data["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                            "finish_reason": finish}]
        if flavour == "azure" and finish:
            data["choices"][0]["content_filter_results"] = {}
        if include_usage:  # every chunk carries "usage": null until the usage chunk
            data["usage"] = None
        return sse_frame(json.dumps(data))

    frames = []
    if flavour == "azure":  # Azure's first chunk: no choices, only the prompt filter results
        frames.append(sse_frame(json.dumps({"choices": [], "created": 0, "id": "", "model": "",
                                            "object": "",
                                            "prompt_filter_results": AZURE_PROMPT_FILTERS})))
    frames.append(chunk({"role": "assistant", "content": "", "refusal": None}))
    for piece in split_words(reply.text):
        frames.append(chunk({"content": piece}))
    for index, call in enumerate(reply.tool_calls):
        opening = _tool_call(reply, index)
        opening["function"]["arguments"] = ""
        frames.append(chunk({"tool_calls": [{"index": index, **opening}]}))
        for piece in split_fixed(call.arguments_json):
            frames.append(chunk({"tool_calls": [{"index": index,
                                                 "function": {"arguments": piece}}]}))
    frames.append(chunk({}, FINISH[reply.finish]))
    if include_usage:
        usage = {"id": ident, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [], "usage": chat_usage(reply, flavour)}
        frames.append(sse_frame(json.dumps(usage)))
    frames.append(sse_frame("[DONE]"))
    return frames
