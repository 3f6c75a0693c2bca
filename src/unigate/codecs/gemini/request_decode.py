"""A Gemini client's generateContent body → IR request."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import array, obj
from unigate.codecs.gemini._util import FORMAT, get, known_keys
from unigate.codecs.gemini.config_decode import (
    decode_generation_config,
    decode_tool_config,
    decode_tools,
)
from unigate.codecs.gemini.parts_decode import decode_part, merge_reasoning, reasoning_carried_by
from unigate.errors import InvalidRequest
from unigate.ir.parameters import DialectParameters, Kind, classify, soft_fields
from unigate.ir.parts import Part, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from unigate.ir.request import IRRequest, Message, Role

_HANDLED = known_keys("contents", "systemInstruction", "tools", "toolConfig", "generationConfig")
# The parameter policy (see `ir.parameters`); anything not listed (cachedContent, ...) is
# semantic. Both spellings (camelCase and snake_case) are listed where clients use both.
PARAMETERS: dict[str, Kind] = {
    # Google's own content filters: other providers apply their own policies and have no
    # such knob, and clients set them by default
    "safetySettings": Kind.ADVISORY, "safety_settings": Kind.ADVISORY,
    "model": Kind.ADVISORY,  # repeats the URL
    "labels": Kind.ADVISORY,  # Vertex billing tags
    # a sampling default clients send on every call (Gemini CLI: topK 64); a target without
    # top-k sampling answers without it
    "generationConfig.topK": Kind.EMULATED,
}
DIALECT = DialectParameters(
    soft=soft_fields(PARAMETERS, {"generationConfig.topK": "top_k"}),
    names={
        "top_k": "generationConfig.topK", "top_p": "generationConfig.topP",
        "temperature": "generationConfig.temperature", "n": "generationConfig.candidateCount",
        "max_tokens": "generationConfig.maxOutputTokens", "stop": "generationConfig.stopSequences",
        "seed": "generationConfig.seed", "presence_penalty": "generationConfig.presencePenalty",
        "frequency_penalty": "generationConfig.frequencyPenalty",
        "logprobs": "generationConfig.responseLogprobs", "top_logprobs": "generationConfig.logprobs",
        "response_format": "generationConfig.responseMimeType",
        "reasoning": "generationConfig.thinkingConfig",
        "reasoning.include_thoughts": "generationConfig.thinkingConfig.includeThoughts",
        "tool_choice": "toolConfig",
    },
)


def gemini_to_ir_request(body: dict[str, Any], model: str, stream: bool) -> IRRequest:
    """`model` and `stream` come from the URL (`models/{model}:generateContent` or
    `:streamGenerateContent`)."""
    body = obj(body, "request body")
    ir = IRRequest(model=model, stream=stream)
    system = get(body, "systemInstruction")
    if system is not None:
        ir.messages.append(Message("system", _system_parts(system)))
    contents = get(body, "contents")
    if contents is None:
        raise InvalidRequest("contents: required", param="contents")
    _contents_to_messages(array(contents, "contents"), ir.messages)
    tools = get(body, "tools")
    if tools is not None:
        ir.tools = decode_tools(array(tools, "tools"))
    tool_config = get(body, "toolConfig")
    if tool_config is not None:
        ir.tool_choice = decode_tool_config(obj(tool_config, "toolConfig"), ir.extra)
    gen = get(body, "generationConfig")
    if gen is not None:
        decode_generation_config(obj(gen, "generationConfig"), ir)
    for key, value in body.items():
        if key in _HANDLED:
            continue
        if classify(PARAMETERS, key) is Kind.ADVISORY:
            ir.advisory[key] = value
        else:  # cachedContent and anything unknown change the answer
            ir.extra[key] = value
    return ir


def _system_parts(system: Any) -> list[Part]:
    if isinstance(system, str):  # the SDKs' shorthand
        return [TextPart(system)]
    parts = array(obj(system, "systemInstruction").get("parts") or [], "systemInstruction.parts")
    return [decode_part(p, f"systemInstruction.parts[{i}]", InvalidRequest)
            for i, p in enumerate(parts)]


def _contents_to_messages(contents: list[Any], out: list[Message]) -> None:
    """Contents → messages. Calls without an id get one from their position; each result
    without an id takes the id of the earliest unanswered call of the same name, so
    providers that pair calls and results by id see a consistent history."""
    pending: list[tuple[str, str]] = []  # (id, name) of the calls not answered yet
    for ci, raw in enumerate(contents):
        path = f"contents[{ci}]"
        content = obj(raw, path)
        role = content.get("role") or "user"
        parts = array(content.get("parts") or [], f"{path}.parts")
        if role == "model":
            pending.clear()
            out.append(_model_message(parts, path, ci, pending))
        elif role in ("user", "function"):  # "function": the older role for results
            _user_messages(parts, path, ci, pending, out)
        else:
            raise InvalidRequest(f"{path}.role: unknown role {role!r} (expected 'user' or "
                                 "'model')", param=f"{path}.role")


def _model_message(parts: list[Any], path: str, ci: int,
                   pending: list[tuple[str, str]]) -> Message:
    msg = Message("assistant")
    for pj, raw in enumerate(parts):
        ppath = f"{path}.parts[{pj}]"
        part = decode_part(raw, ppath, InvalidRequest)
        if isinstance(part, ToolResultPart):
            raise InvalidRequest(f"{ppath}: functionResponse belongs in a 'user' turn",
                                 param=ppath)
        if isinstance(part, ToolCallPart):
            if part.id:
                _remember_id(part, part.id)
            else:
                part.id = f"call_{ci}_{pj}"
            pending.append((part.id, part.name))
            _restore_reasoning(msg, reasoning_carried_by(part))
        if not merge_reasoning(msg.parts, part):
            msg.parts.append(part)
    return msg


def _restore_reasoning(msg: Message, carried: list[ReasoningPart]) -> None:
    """Reasoning a call carried goes back where it was: at the start of the turn (where a
    provider puts its thinking), or before this call if the turn already holds reasoning
    (interleaved thinking); skipped when the client kept the thought parts too."""
    have = {p.signature or p.redacted for p in msg.parts if isinstance(p, ReasoningPart)}
    missing = [r for r in carried if (r.signature or r.redacted) not in have]
    if not missing:
        return
    if not have:
        msg.parts[0:0] = missing
    else:
        msg.parts.extend(missing)


def _user_messages(parts: list[Any], path: str, ci: int, pending: list[tuple[str, str]],
                   out: list[Message]) -> None:
    """A user turn may mix function results and content: results go to "tool" messages,
    the rest to "user" messages, in their order."""
    current: Message | None = None
    if not parts:
        out.append(Message("user"))
    for pj, raw in enumerate(parts):
        ppath = f"{path}.parts[{pj}]"
        part = decode_part(raw, ppath, InvalidRequest)
        if isinstance(part, ToolCallPart):
            raise InvalidRequest(f"{ppath}: functionCall belongs in a 'model' turn", param=ppath)
        role: Role = "user"
        if isinstance(part, ToolResultPart):
            role = "tool"
            _pair_result(part, pending, f"call_{ci}_{pj}")
        if current is None or current.role != role:
            current = Message(role)
            out.append(current)
        current.parts.append(part)


def _pair_result(result: ToolResultPart, pending: list[tuple[str, str]], fallback: str) -> None:
    if result.tool_call_id:
        _remember_id(result, result.tool_call_id)
        for k, (cid, _) in enumerate(pending):
            if cid == result.tool_call_id:
                del pending[k]
                break
        return
    for k, (cid, name) in enumerate(pending):
        if name == result.name:
            result.tool_call_id = cid
            del pending[k]
            return
    result.tool_call_id = fallback  # no such call: the provider will say so


def _remember_id(part: ToolCallPart | ToolResultPart, call_id: str) -> None:
    """The client sent this id itself: a Gemini upstream gets it back (synthesized ids are
    never sent, since some Gemini versions reject an `id` they did not issue)."""
    meta = part.meta if part.meta is not None else {}
    meta.setdefault(FORMAT, {})["id"] = call_id
    part.meta = meta
