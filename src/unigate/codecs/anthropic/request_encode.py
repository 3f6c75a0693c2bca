"""IRRequest → the Anthropic Messages body sent upstream."""

from __future__ import annotations

from typing import Any

from unigate.codecs.anthropic.blocks import FORMAT, TARGET, part_to_block
from unigate.codecs.anthropic.fields import JSON, own_meta
from unigate.codecs.anthropic.thinking import plan_thinking, thinking_fits_history
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.ir.parameters import offerable_tools
from unigate.ir.parts import TextPart
from unigate.ir.request import IRRequest, Message, ToolChoice, ToolSpec

_TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}
# JSON mode without a schema: Anthropic's structured outputs need a schema with named
# properties, so the gateway asks for a JSON object in the system prompt (and says so in
# x-unigate-emulated-parameters). Clients that use JSON mode (LangChain's json_mode,
# instructor's JSON mode) parse the text themselves, as they must with OpenAI too.
JSON_MODE_INSTRUCTION = ("Respond with a single valid JSON object and nothing else: no text before or "
                         "after it, no code fences.")


def ir_to_anthropic_request(ir: IRRequest, model: str, *, default_max_tokens: int = 4096,
                            adaptive_thinking: bool = False) -> dict[str, Any]:
    """`default_max_tokens` fills the max_tokens Anthropic requires when the client gave
    none; `adaptive_thinking` asks for `{"type": "adaptive"}` + effort instead of a token
    budget (for models that take it; see thinking.py)."""
    _unsupported(ir)
    report = ir.report
    body: JSON = {"model": model}
    system, messages = encode_messages(ir.messages)
    if ir.response_format is not None and ir.response_format.type == "json_object":
        system = _with_instruction(system, JSON_MODE_INSTRUCTION)
        report.emulate("response_format")
    plan = plan_thinking(ir.reasoning, ir.max_tokens, default_max_tokens,
                         adaptive=adaptive_thinking)
    body["max_tokens"] = plan.max_tokens
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    if ir.stream:
        body["stream"] = True
    thinking = plan.thinking is not None and plan.thinking["type"] != "disabled"
    if thinking and not thinking_fits_history(messages):
        thinking = False
        report.drop("reasoning")  # see thinking_fits_history: the answer comes without thoughts
    elif plan.thinking is not None:
        body["thinking"] = plan.thinking
    _sampling(ir, body, thinking)
    encode_tools(ir, body)
    output_config = output_config_for(ir, plan.effort)
    if output_config:
        body["output_config"] = output_config
    if ir.user is not None:
        body["metadata"] = {"user_id": ir.user}
    if ir.metadata:
        report.drop("metadata")  # OpenAI's stored-completion tags: no Anthropic field
    return body


def _sampling(ir: IRRequest, body: JSON, thinking: bool) -> None:
    """Anthropic forbids top_k beside thinking, and takes temperature only between 0 and 1."""
    if ir.temperature is not None:
        if not 0 <= ir.temperature <= 1:
            ir.report.unsupported("temperature", TARGET, "it must be between 0 and 1")
        else:
            body["temperature"] = ir.temperature
    if ir.top_p is not None:
        body["top_p"] = ir.top_p
    if ir.top_k is not None:
        if thinking:
            ir.report.drop("top_k")  # the pair is refused; thinking is what the client asked for
        else:
            body["top_k"] = ir.top_k
    if ir.stop:
        body["stop_sequences"] = ir.stop


def _unsupported(ir: IRRequest) -> None:
    """What Anthropic cannot honour: refused, or dropped by the policy (`ir.parameters`)."""
    report = ir.report
    if ir.n is not None and ir.n > 1:
        report.unsupported("n", TARGET)
    if ir.seed is not None:
        report.unsupported("seed", TARGET)
    # A zero penalty or logprobs=false is the default many SDKs send: nothing to honour.
    for name, num in (("presence_penalty", ir.presence_penalty),
                      ("frequency_penalty", ir.frequency_penalty)):
        if num:
            report.unsupported(name, TARGET)
    if ir.logprobs:
        report.unsupported("logprobs", TARGET)
    if ir.top_logprobs is not None:
        report.unsupported("top_logprobs", TARGET)


def _with_instruction(system: str | list[JSON] | None, text: str) -> str | list[JSON]:
    """The client's system prompt with the gateway's instruction after it."""
    if system is None:
        return text
    if isinstance(system, str):
        return f"{system}\n\n{text}"
    return [*system, {"type": "text", "text": text}]


def output_config_for(ir: IRRequest, effort: str | None) -> JSON:
    out: JSON = {}
    if effort is not None:
        out["effort"] = effort
    rf = ir.response_format
    if rf is not None and rf.type == "json_schema":
        if rf.schema is None:
            raise UnsupportedParameter("response_format", TARGET, "json_schema needs a schema")
        # name/description only label the schema for OpenAI; Anthropic has no place for them.
        out["format"] = {"type": "json_schema", "schema": rf.schema}
    return out


# ---- messages -------------------------------------------------------------------------------


def encode_messages(messages: list[Message]) -> tuple[str | list[JSON] | None, list[JSON]]:
    """(system, messages): system messages hoisted; tool messages become user turns with
    their tool_result blocks first; consecutive turns of one role merged, as Anthropic wants
    strictly alternating turns with the results right after the assistant's tool_use."""
    system: list[JSON] = []
    turns: list[JSON] = []
    results_in_turn = 0  # leading tool_result blocks of the last user turn
    for i, m in enumerate(messages):
        path = f"messages[{i}]"
        if m.role == "system":
            system.extend(_system_blocks(m, path))
            continue
        # Message.name (OpenAI's participant name) has no Anthropic field; it only labels turns.
        role = "assistant" if m.role == "assistant" else "user"
        blocks = []
        for j, part in enumerate(m.parts):
            block = part_to_block(part, f"{path}.content[{j}]")
            if block is not None:
                blocks.append(block)
        if not blocks:
            continue  # e.g. an assistant turn that held only another provider's reasoning
        last = turns[-1] if turns else None
        if last is None or last["role"] != role:
            turns.append({"role": role, "content": blocks})
            results_in_turn = len(blocks) if m.role == "tool" else 0
        elif m.role == "tool":
            last["content"][results_in_turn:results_in_turn] = blocks
            results_in_turn += len(blocks)
        else:
            last["content"].extend(blocks)
    for turn in turns:
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    if not system:
        return None, turns
    if len(system) == 1 and system[0].keys() == {"type", "text"}:
        return system[0]["text"], turns
    return system, turns


def _system_blocks(m: Message, path: str) -> list[JSON]:
    out = []
    for j, part in enumerate(m.parts):
        if not isinstance(part, TextPart):
            raise UnsupportedParameter(f"{path}.content[{j}]", TARGET,
                                       "system instructions can only be text")
        if part.text:
            block: JSON = {"type": "text", "text": part.text}
            block.update(own_meta(part.meta) or {})
            out.append(block)
    return out


# ---- tools ----------------------------------------------------------------------------------


def encode_tools(ir: IRRequest, body: JSON) -> None:
    if ir.tools:
        ir.tools = offerable_tools(ir, FORMAT, TARGET) or None
    if ir.tools:
        body["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(ir.tools)]
    choice = _tool_choice(ir.tool_choice, bool(ir.tools))
    if ir.parallel_tool_calls is False and ir.tools:
        if choice is None:
            choice = {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        body["tool_choice"] = choice


def _tool(t: ToolSpec, path: str) -> JSON:
    mine = own_meta(t.meta)
    if t.parameters is None:
        if mine and mine.get("type"):
            return dict(mine)  # an Anthropic-defined tool, as the client sent it
        if t.meta and not mine:
            # By IR convention a tool without parameters but with another format's meta is
            # that provider's built-in tool (web search, code interpreter, ...).
            raise UnsupportedParameter(path, TARGET, f"built-in tool '{t.name}' of another "
                                       "provider")
        out: JSON = {"name": t.name, "input_schema": {"type": "object", "properties": {}}}
    else:
        out = {"name": t.name, "input_schema": t.parameters}
    if t.description is not None:
        out["description"] = t.description
    if t.strict is not None:
        out["strict"] = t.strict
    if mine:
        for key, value in mine.items():
            out.setdefault(key, value)
    return out


def _tool_choice(tc: ToolChoice | None, has_tools: bool) -> JSON | None:
    if tc is None:
        return None
    if not has_tools and tc.mode in ("auto", "none"):
        return None  # without tools nothing can be called anyway
    out: JSON = {"type": _TOOL_CHOICE[tc.mode]}
    if tc.mode == "tool":
        if not tc.name:
            raise InvalidRequest("tool_choice: a named tool choice needs the tool's name",
                                 param="tool_choice")
        out["name"] = tc.name
    return out
