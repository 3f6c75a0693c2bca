"""Anthropic Messages request checks, worded like the real API, and the request -> Conversation."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .replies import Conversation, ToolSpec, sign

JSON_ONLY = re.compile(r"respond with a single valid JSON object and nothing else", re.IGNORECASE)


class AnthropicInvalid(Exception):
    """A 400 invalid_request_error."""


def thinking_signature(thinking: str) -> str:
    return sign(thinking, "thinking")


def blocks_of(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def text_of(content: Any) -> str:
    return "\n".join(str(b.get("text", "")) for b in blocks_of(content) if b.get("type") == "text")


def tool_result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    return content if isinstance(content, str) else text_of(content)


def _check_required(body: dict[str, Any], count_only: bool) -> None:
    for name in ("model", "messages") if count_only else ("model", "max_tokens", "messages"):
        if name not in body:
            raise AnthropicInvalid(f"{name}: Field required")
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise AnthropicInvalid("messages: at least one message is required")


def _check_thinking_blocks(i: int, blocks: list[dict[str, Any]]) -> None:
    for j, block in enumerate(blocks):
        if block.get("type") != "thinking":
            continue
        if "signature" not in block:
            raise AnthropicInvalid(f"messages.{i}.content.{j}.thinking.signature: Field required")
        if block["signature"] != thinking_signature(str(block.get("thinking", ""))):
            raise AnthropicInvalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` "
                                   "block")


def _check_base64_sources(i: int, blocks: list[dict[str, Any]]) -> None:
    """Image and document data must be standard base64 (URL-safe is refused, as upstream)."""
    for j, block in enumerate(blocks):
        source = block.get("source")
        if block.get("type") in ("image", "document") and isinstance(source, dict) \
                and source.get("type") == "base64":
            try:
                base64.b64decode(str(source.get("data", "")), validate=True)
            except binascii.Error:
                raise AnthropicInvalid(f"messages.{i}.content.{j}.{block['type']}.source.base64: "
                                       "invalid base64 data") from None


def _check_system_message(i: int, blocks: list[dict[str, Any]]) -> None:
    for j, block in enumerate(blocks):
        if block.get("type") not in ("text", "tool_addition", "tool_removal"):
            raise AnthropicInvalid(f"messages.{i}.content.{j}.type: a system message holds only text, "
                                   "tool_addition and tool_removal blocks")


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    """tool_result answers only the previous message's tool_use; every tool_use is answered."""
    previous_uses: set[str] = set()
    for i, msg in enumerate(messages):
        if msg.get("role") == "system":
            continue  # between turns; the pairing is across it
        blocks = blocks_of(msg.get("content"))
        results = [(j, b) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        for j, block in results:
            if block.get("tool_use_id") not in previous_uses:
                raise AnthropicInvalid(
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message.")
        answered = {b.get("tool_use_id") for _, b in results}
        missing = [u for u in sorted(previous_uses) if u not in answered]
        if missing:
            raise AnthropicInvalid(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message.")
        previous_uses = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}


def _check_thinking_config(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    if kind not in ("enabled", "adaptive"):
        return False
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int):
            raise AnthropicInvalid("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise AnthropicInvalid("thinking.enabled.budget_tokens: Input should be greater than "
                                   "or equal to 1024")
        if "max_tokens" in body and budget >= body["max_tokens"]:
            raise AnthropicInvalid(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                "documentation at https://docs.claude.com/en/docs/build-with-claude/"
                "extended-thinking#max-tokens-and-context-window-size")
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        raise AnthropicInvalid("Thinking may not be enabled when tool_choice forces tool use.")
    if body.get("temperature") not in (None, 1, 1.0):
        raise AnthropicInvalid("`temperature` may only be set to 1 when thinking is enabled or "
                               "in adaptive mode. Please consult our documentation at "
                               "https://docs.claude.com/en/docs/build-with-claude/"
                               "extended-thinking#feature-compatibility")
    return True


def _check_final_thinking(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn that called tools must keep its thinking block."""
    last = messages[-1]
    if last.get("role") != "user" or not any(
            b.get("type") == "tool_result" for b in blocks_of(last.get("content"))):
        return
    i = len(messages) - 2
    blocks = blocks_of(messages[i].get("content")) if i >= 0 else []
    if blocks and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
        raise AnthropicInvalid(
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{blocks[0].get('type')}`. When `thinking` is enabled, a final `assistant` message "
            "must start with a thinking block (preceeding the lastmost set of `tool_use` and "
            "`tool_result` blocks). We recommend you include thinking blocks from previous "
            "turns. To avoid this requirement, disable `thinking`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") not in (None, "custom"):
            continue  # server tools (web_search_…, bash_…) are accepted and never called
        for name in ("name", "input_schema"):
            if name not in tool:
                raise AnthropicInvalid(f"tools.{i}.custom.{name}: Field required")
        specs.append(ToolSpec(tool["name"], tool["input_schema"] or {}))
    return specs


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    # Structured outputs: output_config.format (GA) or output_format (the beta spelling).
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("schema") or {"type": "object"}
    # A system prompt that asks for nothing but a JSON object (how the gateway emulates OpenAI's
    # JSON mode): the model answers one, as Claude does when told so ({} = any object).
    system = body.get("system")
    text = system if isinstance(system, str) else text_of(system)
    if JSON_ONLY.search(text):
        return {}
    return None


def _tool_choice(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    if kind == "tool":
        return str(choice.get("name"))
    return {"any": "required", "none": "none"}.get(str(kind))


def anthropic_to_conversation(body: dict[str, Any], count_only: bool = False) -> Conversation:
    _check_required(body, count_only)
    messages: list[dict[str, Any]] = body["messages"]
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ("user", "assistant", "system"):
            raise AnthropicInvalid(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'")
        if role == "system":  # a system message at its own place in the conversation
            _check_system_message(i, blocks_of(msg.get("content")))
            continue
        _check_thinking_blocks(i, blocks_of(msg.get("content")))
        _check_base64_sources(i, blocks_of(msg.get("content")))
    _check_tool_pairs(messages)
    thinking = _check_thinking_config(body)
    if thinking:
        _check_final_thinking(messages)
    system = body.get("system")
    texts = [system if isinstance(system, str) else text_of(system)]
    users: list[str] = []
    for msg in messages:
        blocks = blocks_of(msg.get("content"))
        texts.append(text_of(blocks))
        texts.extend(tool_result_text(b) for b in blocks if b.get("type") == "tool_result")
        if msg["role"] == "user" and any(b.get("type") == "text" for b in blocks):
            users.append(text_of(blocks))
    last = blocks_of(messages[-1].get("content"))
    results = [tool_result_text(b) for b in last if b.get("type") == "tool_result"]
    return Conversation(
        texts=texts,
        last_user_text=users[-1] if users else "",
        tool_result="\n".join(results) if messages[-1]["role"] == "user" and results else None,
        tools=_tools(body),
        tool_choice=_tool_choice(body),
        json_schema=_json_schema(body),
        stop=list(body.get("stop_sequences") or []),
        max_tokens=body.get("max_tokens"),
        thinking=thinking,
    )
