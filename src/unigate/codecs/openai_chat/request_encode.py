"""IR → the chat completions request body sent upstream (OpenAI or an OpenAI-compatible server)."""

from __future__ import annotations

from typing import Any

from unigate.codecs.openai_chat.content import FORMAT, has_cache_meta, only_text, part_to_openai
from unigate.errors import UnsupportedParameter
from unigate.ir.parameters import offerable_tools
from unigate.ir.parts import (
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
    parts_text,
)
from unigate.ir.request import IRRequest, Message, ReasoningConfig, ResponseFormat, ToolSpec

# reasoning.budget_tokens (Anthropic / Gemini) → reasoning_effort, when no effort was given:
#   0 → "none";  1..4095 → "low";  4096..16383 → "medium";  16384 and more → "high";
#   negative (Gemini's -1, "dynamic") → no reasoning_effort: the model's default.
_BUDGET_LOW, _BUDGET_MEDIUM = 4096, 16384


def ir_to_openai_chat_request(
    ir: IRRequest, model: str, *, compat: bool = False, reasoning_field: str = "reasoning_content",
) -> dict[str, Any]:
    """`compat` targets OpenAI-compatible servers (vLLM, llama.cpp, Ollama): plain-string text
    content, `max_tokens`, `top_k` passed on, and reasoning history sent back under
    `reasoning_field` ("reasoning_content" for DeepSeek-style servers, "reasoning" for
    recent vLLM)."""
    target = "an OpenAI-compatible server" if compat else "OpenAI"
    body: dict[str, Any] = {
        "model": model,
        "messages": _messages(ir.messages, target, compat, reasoning_field),
    }
    if ir.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # the gateway accounts usage
    if ir.max_tokens is not None:
        body["max_tokens" if compat else "max_completion_tokens"] = ir.max_tokens
    report = ir.report
    if ir.top_k is not None:
        if compat:
            body["top_k"] = ir.top_k
        else:
            report.unsupported("top_k", target)
    for key in ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty",
                "user"):
        value = getattr(ir, key)
        if value is not None and value != []:  # OpenAI refuses an empty stop list
            body[key] = value
    if ir.n is not None and ir.n > 1:
        report.unsupported("n", target, "a translated response carries one choice")
    # The IR response has no place for log probabilities: asking for them would get nothing.
    if ir.logprobs:
        report.unsupported("logprobs", target, "log probabilities are not translated")
    if ir.top_logprobs:
        report.unsupported("top_logprobs", target, "log probabilities are not translated")
    if ir.tools:
        ir.tools = offerable_tools(ir, FORMAT, target) or None
    if ir.tools:
        body["tools"] = [_tool(t, target, compat) for t in ir.tools]
        # OpenAI refuses parallel_tool_calls without tools, and it means nothing there.
        if ir.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = ir.parallel_tool_calls
    if ir.tool_choice is not None:
        choice = ir.tool_choice
        if choice.mode != "tool":
            body["tool_choice"] = choice.mode
        elif _is_custom(ir.tools or [], choice.name):
            body["tool_choice"] = {"type": "custom", "custom": {"name": choice.name}}
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    if ir.response_format is not None:
        body["response_format"] = _response_format(ir.response_format)
    if ir.reasoning is not None:
        effort = reasoning_effort(ir.reasoning)
        if effort is not None:
            body["reasoning_effort"] = effort
        if not compat and (ir.reasoning.summary not in (None, "none") or ir.reasoning.include_thoughts):
            # a request for reasoning text back, which chat completions never returns
            report.drop("reasoning.summary" if ir.reasoning.summary else "reasoning.include_thoughts")
    if ir.metadata:
        # OpenAI refuses `metadata` unless `store` is on (the gateway never stores), and
        # metadata does not change the answer.
        report.drop("metadata")
    return body


def reasoning_effort(r: ReasoningConfig) -> str | None:
    if r.enabled is False:
        return "none"
    if r.effort is not None:
        return r.effort
    if r.budget_tokens is not None:
        b = r.budget_tokens
        if b < 0:
            return None
        if b == 0:
            return "none"
        return "low" if b < _BUDGET_LOW else "medium" if b < _BUDGET_MEDIUM else "high"
    return None


def _messages(messages: list[Message], target: str, compat: bool, reasoning_field: str,
              ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        rest: list[Part] = []
        for part in m.parts:
            if isinstance(part, ToolResultPart):
                out.append(_tool_message(part, where, target, compat))  # one per result
            else:
                rest.append(part)
        if m.role == "tool" and not rest:
            continue
        if m.role == "assistant":
            msg = _assistant(rest, where, target, compat, reasoning_field)
        elif m.role == "system":
            if not only_text(rest):
                raise UnsupportedParameter("messages", target, f"{where}: system content must be text")
            developer = not compat and (m.meta or {}).get(FORMAT, {}).get("role") == "developer"
            msg = {"role": "developer" if developer else "system",
                   "content": _text_content(rest, compat)}
        else:  # user, or what a tool turn holds beside its results
            msg = {"role": "user", "content": _user_content(rest, where, target, compat)}
        if m.name is not None:
            msg["name"] = m.name
        out.append(msg)
    return out


def _text_content(parts: list[Part], compat: bool) -> str | list[dict[str, Any]]:
    if compat:
        # vLLM itself joins text parts with "\n" when it renders the chat template
        return "\n".join(p.text for p in parts if isinstance(p, TextPart))
    if len(parts) == 1 and not has_cache_meta(parts):
        return parts_text(parts)
    return [part_to_openai(p, "", "OpenAI", False) for p in parts]


def _user_content(parts: list[Part], where: str, target: str, compat: bool,
                  ) -> str | list[dict[str, Any]]:
    if only_text(parts) and parts:
        return _text_content(parts, compat)
    return [part_to_openai(p, f"{where}.content[{j}]", target, compat) for j, p in enumerate(parts)]


def _assistant(parts: list[Part], where: str, target: str, compat: bool, reasoning_field: str,
               ) -> dict[str, Any]:
    texts: list[Part] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    msg: dict[str, Any] = {"role": "assistant"}
    for j, p in enumerate(parts):
        if isinstance(p, TextPart):
            if not compat and p.meta and p.meta.get(FORMAT, {}).get("refusal"):
                refusals.append(p.text)
            else:
                texts.append(p)
        elif isinstance(p, ToolCallPart):
            calls.append({"id": p.id, "type": "function",
                          # an empty argument string means "no arguments"; OpenAI wants JSON
                          "function": {"name": p.name, "arguments": p.arguments or "{}"}})
        elif isinstance(p, ReasoningPart):
            # Chat completions has no input field for reasoning: OpenAI drops it (its own
            # reasoning is never returned by chat). Compatible servers read it back from
            # `reasoning_field` (interleaved thinking). Signatures only mean something to
            # the format that made them.
            if compat and p.text:
                reasoning.append(p.text)
        elif isinstance(p, UnknownPart) and p.format == FORMAT and isinstance(p.raw, dict) \
                and not compat:
            if p.raw.get("type") == "custom":
                calls.append(p.raw)
            else:
                msg.update(p.raw)  # {"audio": {"id": ...}}
        else:
            raise UnsupportedParameter(
                "messages", target, f"{where}.content[{j}]: assistant turns hold text and tool calls")
    if reasoning:
        msg[reasoning_field] = "".join(reasoning)
    # content may be null only beside tool calls or a refusal
    msg["content"] = _text_content(texts, compat) if texts else (None if calls or refusals else "")
    if refusals:
        msg["refusal"] = "".join(refusals)
    if calls:
        msg["tool_calls"] = calls
    return msg


def _tool_message(part: ToolResultPart, where: str, target: str, compat: bool) -> dict[str, Any]:
    if not only_text(part.content):
        raise UnsupportedParameter(
            "messages", target, f"{where}: tool results can only hold text in chat completions")
    # is_error has no field here; the result text itself tells the model what went wrong.
    content = _text_content(part.content, compat) if part.content else ""
    return {"role": "tool", "tool_call_id": part.tool_call_id, "content": content}


def _tool(spec: ToolSpec, target: str, compat: bool) -> dict[str, Any]:
    raw = (spec.meta or {}).get(FORMAT, {}).get("tool")
    if raw is not None:
        if compat:
            raise UnsupportedParameter("tools", target, f"tool {spec.name!r} is not a function")
        return dict(raw)
    if spec.parameters is None and spec.meta:
        raise UnsupportedParameter("tools", target, f"{spec.name!r} is another provider's built-in tool")
    fn: dict[str, Any] = {"name": spec.name}
    if spec.description is not None:
        fn["description"] = spec.description
    if spec.parameters is not None:
        fn["parameters"] = spec.parameters
    if spec.strict is not None:
        fn["strict"] = spec.strict
    return {"type": "function", "function": fn}


def _is_custom(tools: list[ToolSpec], name: str | None) -> bool:
    return any(t.name == name and (t.meta or {}).get(FORMAT, {}).get("tool") for t in tools)


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"name": fmt.name or "response"}  # OpenAI requires a name
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}
