"""A client's chat completions request body → IR."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import bad, opt_dict, opt_flag, opt_int, opt_list, opt_num, opt_str, req_dict, req_str
from unigate.codecs.openai_chat.content import (
    FORMAT,
    text_parts_to_ir,
    user_parts_to_ir,
)
from unigate.errors import InvalidRequest
from unigate.ir.parameters import DialectParameters, Kind, classify, soft_fields
from unigate.ir.parts import (
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    UnknownPart,
)
from unigate.ir.request import (
    IRRequest,
    Message,
    ReasoningConfig,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)

# Read into IR fields below (or handled by the gateway: stream_options).
_KNOWN = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "stop", "seed", "n", "presence_penalty",
    "frequency_penalty", "logprobs", "top_logprobs", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "reasoning_effort", "user", "metadata",
})
# The parameter policy (see `ir.parameters`); anything not listed is semantic.
PARAMETERS: dict[str, Kind] = {
    # storage, billing tier, cache routing and caller ids: never the answer
    "store": Kind.ADVISORY, "service_tier": Kind.ADVISORY, "prompt_cache_key": Kind.ADVISORY,
    "prompt_cache_retention": Kind.ADVISORY, "prompt_cache_options": Kind.ADVISORY,
    "safety_identifier": Kind.ADVISORY, "user": Kind.ADVISORY, "metadata": Kind.ADVISORY,
    # permission to call several tools in one turn; targets that cannot forbid it still answer
    "parallel_tool_calls": Kind.ADVISORY,
}
DIALECT = DialectParameters(
    soft=soft_fields(PARAMETERS, {"user": "user", "metadata": "metadata",
                                  "parallel_tool_calls": "parallel_tool_calls"}),
    names={"reasoning": "reasoning_effort", "max_tokens": "max_completion_tokens"},
)
EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})


def openai_chat_to_ir_request(body: dict[str, Any]) -> IRRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    messages = opt_list(body, "messages")
    if not messages:
        raise bad("messages", "is required and must not be empty")
    max_tokens = opt_int(body, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = opt_int(body, "max_tokens", minimum=1)
    ir = IRRequest(
        model=req_str(body, "model"),
        messages=_messages_to_ir(messages),
        stream=bool(opt_flag(body, "stream")),
        max_tokens=max_tokens,
        temperature=opt_num(body, "temperature"),
        top_p=opt_num(body, "top_p"),
        top_k=opt_int(body, "top_k"),  # not OpenAI's, but vLLM-style clients send it
        stop=_stop_to_ir(body.get("stop")),
        seed=opt_int(body, "seed"),
        presence_penalty=opt_num(body, "presence_penalty"),
        frequency_penalty=opt_num(body, "frequency_penalty"),
        n=opt_int(body, "n", minimum=1),
        logprobs=opt_flag(body, "logprobs"),
        top_logprobs=opt_int(body, "top_logprobs", minimum=0),
        parallel_tool_calls=opt_flag(body, "parallel_tool_calls"),
        user=opt_str(body, "user"),
        metadata=opt_dict(body, "metadata"),
    )
    tools = opt_list(body, "tools")
    if tools is not None:
        ir.tools = [_tool_to_ir(t, f"tools[{i}]") for i, t in enumerate(tools)]
    if body.get("tool_choice") is not None:
        ir.tool_choice = _tool_choice_to_ir(body["tool_choice"], ir)
    fmt = opt_dict(body, "response_format")
    if fmt is not None:
        ir.response_format = _response_format_to_ir(fmt)
    effort = opt_str(body, "reasoning_effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise bad("reasoning_effort", f"unknown value {effort!r}")
        ir.reasoning = ReasoningConfig(effort=effort)
    for key, value in body.items():
        if key in _KNOWN or value is None:
            continue
        # Anything unlisted (logit_bias, prediction, audio, modalities, web_search_options,
        # verbosity, functions, ...) would change the answer: the gateway refuses it by name.
        if classify(PARAMETERS, key) is Kind.ADVISORY:
            ir.advisory[key] = value
        else:
            ir.extra[key] = value
    return ir


def _stop_to_ir(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return stop
    raise bad("stop", "must be a string or an array of strings")


def _messages_to_ir(messages: list[Any]) -> list[Message]:
    out: list[Message] = []
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad(path, "must be an object")
        role = msg.get("role")
        dot = path + "."
        if role == "tool":
            result = _tool_result_to_ir(msg, dot)
            # Consecutive tool messages answer one assistant turn: one IR message holds them
            # all, which is what formats with a single tool-result turn need.
            if out and out[-1].role == "tool":
                out[-1].parts.append(result)
            else:
                out.append(Message("tool", [result]))
            continue
        if role in ("system", "developer"):
            message = Message("system", text_parts_to_ir(msg.get("content"), dot + "content"))
            if role == "developer":
                message.meta = {FORMAT: {"role": "developer"}}
        elif role == "user":
            message = Message("user", user_parts_to_ir(msg.get("content"), dot + "content"))
        elif role == "assistant":
            message = Message("assistant", _assistant_parts_to_ir(msg, dot))
        elif role == "function":
            raise bad(dot + "role", "the legacy 'function' role is not supported; use 'tool'")
        else:
            raise bad(dot + "role", f"unknown role {role!r}")
        message.name = opt_str(msg, "name", dot)
        out.append(message)
    return out


def _tool_result_to_ir(msg: dict[str, Any], dot: str) -> ToolResultPart:
    call_id = req_str(msg, "tool_call_id", dot)
    return ToolResultPart(call_id, text_parts_to_ir(msg.get("content"), dot + "content"))


def _assistant_parts_to_ir(msg: dict[str, Any], dot: str) -> list[Part]:
    parts: list[Part] = []
    # DeepSeek writes `reasoning_content`, recent vLLM `reasoning`; reasoning comes first.
    reasoning = opt_str(msg, "reasoning_content", dot) or opt_str(msg, "reasoning", dot)
    if reasoning:
        parts.append(ReasoningPart(reasoning))
    content = msg.get("content")
    # Clients echo `"content": ""` beside tool calls; an empty text part means nothing and
    # formats such as Anthropic refuse empty text blocks.
    if content is not None and content != "":
        parts.extend(text_parts_to_ir(content, dot + "content", allow_refusal=True))
    refusal = opt_str(msg, "refusal", dot)
    if refusal is not None:
        parts.append(TextPart(refusal, {FORMAT: {"refusal": True}}))
    if msg.get("function_call") is not None:
        raise bad(dot + "function_call", "the legacy function_call is not supported; use tool_calls")
    if msg.get("audio") is not None:
        parts.append(UnknownPart(FORMAT, {"audio": msg["audio"]}))
    calls = opt_list(msg, "tool_calls", dot)
    for j, call in enumerate(calls or ()):
        parts.append(_tool_call_to_ir(call, f"{dot}tool_calls[{j}]"))
    return parts


def _tool_call_to_ir(call: Any, path: str) -> Part:
    if not isinstance(call, dict):
        raise bad(path, "must be an object")
    dot = path + "."
    kind = call.get("type", "function")
    if kind == "custom":
        return UnknownPart(FORMAT, call)  # a custom (grammar) tool call: OpenAI-only
    if kind != "function":
        raise bad(dot + "type", f"unknown tool call type {kind!r}")
    fn = req_dict(call, "function", dot)
    return ToolCallPart(
        req_str(call, "id", dot),
        req_str(fn, "name", dot + "function."),
        opt_str(fn, "arguments", dot + "function.") or "",
    )


def _tool_to_ir(tool: Any, path: str) -> ToolSpec:
    if not isinstance(tool, dict):
        raise bad(path, "must be an object")
    dot = path + "."
    kind = tool.get("type")
    if kind != "function":
        # e.g. "custom" (grammar) tools. Kept whole with parameters None: the OpenAI encoder
        # sends it back as it came, every other encoder refuses it.
        inner = tool.get(kind) if isinstance(kind, str) else None
        name = inner.get("name") if isinstance(inner, dict) else None
        return ToolSpec(name if isinstance(name, str) else str(kind), meta={FORMAT: {"tool": tool}})
    fn = req_dict(tool, "function", dot)
    fdot = dot + "function."
    params = opt_dict(fn, "parameters", fdot)
    return ToolSpec(
        name=req_str(fn, "name", fdot),
        description=opt_str(fn, "description", fdot),
        # OpenAI: "omitting parameters defines a function with an empty parameter list".
        # Said explicitly, so that None keeps meaning "not a function tool".
        parameters=params if params is not None else {"type": "object", "properties": {}},
        strict=opt_flag(fn, "strict", fdot),
    )


def _tool_choice_to_ir(choice: Any, ir: IRRequest) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("function", "custom"):
            inner = req_dict(choice, kind, "tool_choice.")
            return ToolChoice("tool", req_str(inner, "name", f"tool_choice.{kind}."))
        if kind == "allowed_tools":
            # No IR field for a restricted tool set: the gateway refuses it by name
            ir.extra["tool_choice"] = choice
            return None
    raise bad("tool_choice", "must be 'auto', 'none', 'required' or a named tool")


def _response_format_to_ir(fmt: dict[str, Any]) -> ResponseFormat:
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind == "json_schema":
        spec = req_dict(fmt, "json_schema", "response_format.")
        dot = "response_format.json_schema."
        return ResponseFormat(
            "json_schema",
            schema=opt_dict(spec, "schema", dot),
            name=req_str(spec, "name", dot),
            description=opt_str(spec, "description", dot),
            strict=opt_flag(spec, "strict", dot),
        )
    raise bad("response_format.type", f"unknown response format {kind!r}")
