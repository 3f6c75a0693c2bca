"""A client's Anthropic Messages request body → IRRequest."""

from __future__ import annotations

from typing import Any

from unigate.codecs.anthropic.blocks import block_to_part
from unigate.codecs.anthropic.fields import JSON, rest
from unigate.codecs.anthropic.thinking import anthropic_to_ir_reasoning
from unigate.codecs.fields import array, obj, opt_bool, opt_integer, opt_number, opt_string, string
from unigate.errors import InvalidRequest
from unigate.ir.context_edits import emulate_context_management, parse_context_management
from unigate.ir.parameters import DialectParameters, Kind, classify, soft_fields
from unigate.ir.parts import Part, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest, Message, ResponseFormat, ToolChoice, ToolSpec

_HANDLED = frozenset({
    "model", "messages", "system", "max_tokens", "stream", "temperature", "top_p", "top_k",
    "stop_sequences", "tools", "tool_choice", "thinking", "metadata", "output_config",
    "output_format",
})
# The parameter policy (see `ir.parameters`); anything not listed is semantic.
PARAMETERS: dict[str, Kind] = {
    "metadata": Kind.ADVISORY,  # user_id: who asks, not what
    "tool_choice.disable_parallel_tool_use": Kind.ADVISORY,
    "service_tier": Kind.ADVISORY,  # priority / standard capacity
    "speed": Kind.ADVISORY,  # the fast-output mode: latency, not content
    "diagnostics": Kind.ADVISORY,
    "cache_control": Kind.ADVISORY,  # automatic prompt caching: cost, never the output
    "context_management": Kind.EMULATED,  # applied by the gateway (ir.context_edits)
}
# Where the dialect's name for a parameter differs from the IR field's.
_NAMES = {
    "user": "metadata.user_id", "stop": "stop_sequences", "reasoning": "thinking",
    "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
    "response_format": "output_config.format",
}
DIALECT = DialectParameters(
    soft=soft_fields(PARAMETERS, {"metadata": "user",
                                  "tool_choice.disable_parallel_tool_use": "parallel_tool_calls"}),
    names=_NAMES,
    emulators={"context_management": emulate_context_management},
)
_TOOL_KEYS = frozenset({"name", "description", "input_schema", "strict", "type"})
# Parts an assistant turn may hold, and parts only a user turn may hold.
_ASSISTANT_ONLY = (ToolCallPart, ReasoningPart)


def anthropic_to_ir_request(body: dict[str, Any], *, require_max_tokens: bool = True,
                            ) -> IRRequest:
    """Raises InvalidRequest naming the field for a malformed body (max_tokens is required
    by Anthropic; token counting passes require_max_tokens=False)."""
    b = obj(body, "body")
    max_tokens = opt_integer(b.get("max_tokens"), "max_tokens")
    if max_tokens is None and require_max_tokens:
        raise InvalidRequest("max_tokens: field required", param="max_tokens")
    ir = IRRequest(
        model=string(b.get("model"), "model"),
        messages=_messages(b),
        stream=bool(opt_bool(b.get("stream"), "stream")),
        max_tokens=max_tokens,
        temperature=opt_number(b.get("temperature"), "temperature"),
        top_p=opt_number(b.get("top_p"), "top_p"),
        top_k=opt_integer(b.get("top_k"), "top_k"),
    )
    stops = b.get("stop_sequences")
    if stops is not None:
        ir.stop = [string(s, f"stop_sequences[{i}]")
                   for i, s in enumerate(array(stops, "stop_sequences"))]
    if b.get("tools") is not None:
        ir.tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(array(b["tools"], "tools"))]
    if b.get("tool_choice") is not None:
        _tool_choice(obj(b["tool_choice"], "tool_choice"), ir)
    _output_config(b, ir)
    metadata = b.get("metadata")
    if metadata is not None:
        m = obj(metadata, "metadata")
        ir.user = opt_string(m.get("user_id"), "metadata.user_id")
    for key, value in b.items():
        if key in _HANDLED:
            continue
        kind = classify(PARAMETERS, key)
        if kind is Kind.ADVISORY:
            ir.advisory[key] = value
        elif kind is Kind.EMULATED:
            parse_context_management(value, key)  # a malformed value is the client's 400
            ir.emulate[key] = value
        else:
            ir.extra[key] = value
    return ir


def _messages(b: JSON) -> list[Message]:
    out: list[Message] = []
    system = b.get("system")
    if isinstance(system, str):
        if system:
            out.append(Message("system", [TextPart(system)]))
    elif system is not None:
        parts = [_system_block(x, f"system[{i}]") for i, x in enumerate(array(system, "system"))]
        if parts:
            out.append(Message("system", parts))
    for i, m in enumerate(array(b.get("messages"), "messages")):
        _message(obj(m, f"messages[{i}]"), f"messages[{i}]", out)
    return out


def _system_block(block: Any, path: str) -> Part:
    x = obj(block, path)
    if x.get("type") != "text":
        raise InvalidRequest(f"{path}.type: system blocks must be of type 'text'",
                             param=f"{path}.type")
    return TextPart(string(x.get("text"), f"{path}.text"), rest(x, frozenset({"type", "text"})))


def _message(m: JSON, path: str, out: list[Message]) -> None:
    role = m.get("role")
    if role not in ("user", "assistant", "system"):
        raise InvalidRequest(f"{path}.role: must be 'user', 'assistant' or 'system'",
                             param=f"{path}.role")
    content = m.get("content")
    if isinstance(content, str):
        out.append(Message(role, [TextPart(content)]))
        return
    blocks = array(content, f"{path}.content")
    parts = [block_to_part(x, f"{path}.content[{j}]") for j, x in enumerate(blocks)]
    for j, p in enumerate(parts):
        where = f"{path}.content[{j}]"
        if isinstance(p, _ASSISTANT_ONLY) and role != "assistant":
            raise InvalidRequest(f"{where}: {blocks[j]['type']} blocks belong in assistant "
                                 "messages", param=where)
        if isinstance(p, ToolResultPart) and role != "user":
            raise InvalidRequest(f"{where}: tool_result blocks belong in user messages",
                                 param=where)
        if role == "system" and not isinstance(p, TextPart):
            raise InvalidRequest(f"{where}: system messages hold only text", param=where)
    if role != "user":
        out.append(Message(role, parts))
        return
    # The IR keeps tool results in "tool" messages: split a user turn into runs of tool
    # results and of other content, in their order.
    run: list[Part] = []
    run_is_tool = False
    for p in parts:
        is_tool = isinstance(p, ToolResultPart)
        if run and is_tool != run_is_tool:
            out.append(Message("tool" if run_is_tool else "user", run))
            run = []
        run.append(p)
        run_is_tool = is_tool
    if run or not parts:
        out.append(Message("tool" if run_is_tool else "user", run))


def _tool(tool: Any, path: str) -> ToolSpec:
    t = obj(tool, path)
    name = string(t.get("name"), f"{path}.name")
    kind = t.get("type")
    if kind not in (None, "custom"):
        # An Anthropic-defined tool (web_search_20250305, bash_20250124, ...): no
        # parameters here, so other encoders see it cannot be offered as a function.
        return ToolSpec(name, parameters=None, meta={"anthropic": t})
    schema = obj(t.get("input_schema"), f"{path}.input_schema")
    return ToolSpec(
        name=name,
        description=opt_string(t.get("description"), f"{path}.description"),
        parameters=schema,
        strict=opt_bool(t.get("strict"), f"{path}.strict"),
        meta=rest(t, _TOOL_KEYS),
    )


def _tool_choice(tc: JSON, ir: IRRequest) -> None:
    kind = tc.get("type")
    if kind == "auto":
        ir.tool_choice = ToolChoice("auto")
    elif kind == "any":
        ir.tool_choice = ToolChoice("required")
    elif kind == "none":
        ir.tool_choice = ToolChoice("none")
    elif kind == "tool":
        ir.tool_choice = ToolChoice("tool", string(tc.get("name"), "tool_choice.name"))
    else:
        raise InvalidRequest(f"tool_choice.type: unknown tool choice {kind!r}",
                             param="tool_choice.type")
    if opt_bool(tc.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use"):
        ir.parallel_tool_calls = False


def _output_config(b: JSON, ir: IRRequest) -> None:
    effort = None
    fmt = b.get("output_format")  # the structured-outputs beta's name for the field
    where = "output_format"
    oc = b.get("output_config")
    if oc is not None:
        c = obj(oc, "output_config")
        effort = opt_string(c.get("effort"), "output_config.effort")
        if c.get("format") is not None:
            fmt = c["format"]
            where = "output_config.format"
        unknown = set(c) - {"effort", "format"}
        if unknown:
            ir.extra["output_config"] = oc  # a setting the IR cannot carry
    if fmt is not None:
        f = obj(fmt, where)
        if f.get("type") != "json_schema":
            raise InvalidRequest(f"{where}.type: must be 'json_schema'", param=f"{where}.type")
        # Anthropic always holds the output to the schema: that is OpenAI's strict mode.
        ir.response_format = ResponseFormat("json_schema", obj(f.get("schema"), f"{where}.schema"),
                                            strict=True)
    ir.reasoning = anthropic_to_ir_reasoning(b.get("thinking"), effort)
