"""IR request → the generateContent body sent to Gemini (the model goes in the URL)."""

from __future__ import annotations

from typing import Any

from unigate.codecs.gemini._util import FORMAT
from unigate.codecs.gemini.parts_encode import add_foreign_signatures, encode_request_parts
from unigate.errors import UnsupportedParameter
from unigate.ir.parameters import offerable_tools
from unigate.ir.request import IRRequest, ReasoningConfig, ToolChoice, ToolSpec

_TARGET = "gemini"
# OpenAI effort → Gemini 2.x thinking budget (2.x models take no thinkingLevel)
_EFFORT_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576,
                  "xhigh": 32768}


def ir_to_gemini_request(ir: IRRequest, model: str) -> dict[str, Any]:
    body = encode_prompt(ir)
    gen = _generation_config(ir, model)
    if gen:
        body["generationConfig"] = gen
    return body


def encode_prompt(ir: IRRequest) -> dict[str, Any]:
    """Everything but generationConfig (what countTokens needs)."""
    ir.fill_tool_result_names()
    body: dict[str, Any] = {}
    contents, system = _contents(ir)
    body["contents"] = contents
    if system:
        body["systemInstruction"] = {"parts": system}
    if ir.tools:
        ir.tools = offerable_tools(ir, FORMAT, _TARGET) or None
    if ir.tools:
        body["tools"] = _tools(ir.tools)
    if ir.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _tool_choice(ir.tool_choice)}
    return body


def _contents(ir: IRRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Messages → contents: system messages (wherever they are) → systemInstruction, tool
    results → user turns, consecutive turns of one role merged (Gemini wants alternation)."""
    contents: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    with_ids: set[str] = set()
    for i, msg in enumerate(ir.messages):
        parts = encode_request_parts(msg.parts, f"messages[{i}]", with_ids)
        if msg.role == "system":
            system.extend(parts)
            continue
        if not parts:
            continue
        role = "model" if msg.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    add_foreign_signatures(contents)
    return contents, system


def _tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    decls: list[dict[str, Any]] = []
    builtins: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if tool.parameters is None and tool.meta:
            raw = tool.meta.get(FORMAT)
            if not isinstance(raw, dict):  # another provider's built-in tool
                raise UnsupportedParameter(f"tools[{i}]", _TARGET,
                                           f"built-in tool '{tool.name}' of another provider")
            builtins.append(raw)
            continue
        decl: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            decl["description"] = tool.description
        if tool.parameters is not None:
            # full JSON schema, so nothing is lost converting to Gemini's OpenAPI subset
            decl["parametersJsonSchema"] = tool.parameters
        decls.append(decl)
    out: list[dict[str, Any]] = [{"functionDeclarations": decls}] if decls else []
    return out + builtins


def _tool_choice(tc: ToolChoice) -> dict[str, Any]:
    if tc.mode == "none":
        return {"mode": "NONE"}
    if tc.mode == "required":
        return {"mode": "ANY"}
    if tc.mode == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [tc.name]}
    return {"mode": "AUTO"}


def _generation_config(ir: IRRequest, model: str) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    if ir.temperature is not None:
        gen["temperature"] = ir.temperature
    if ir.top_p is not None:
        gen["topP"] = ir.top_p
    if ir.top_k is not None:
        gen["topK"] = ir.top_k
    report = ir.report
    if ir.n is not None and ir.n != 1:
        # the IR response holds one candidate: the others would be lost
        report.unsupported("n", _TARGET, "only one candidate per request")
    if ir.max_tokens is not None:
        gen["maxOutputTokens"] = ir.max_tokens
    if ir.stop:
        gen["stopSequences"] = ir.stop
    if ir.presence_penalty is not None:
        gen["presencePenalty"] = ir.presence_penalty
    if ir.frequency_penalty is not None:
        gen["frequencyPenalty"] = ir.frequency_penalty
    if ir.seed is not None:
        gen["seed"] = ir.seed
    if ir.logprobs or ir.top_logprobs:
        # Gemini returns them (logprobsResult), but the IR response has nowhere to put them
        report.unsupported("logprobs" if ir.logprobs else "top_logprobs", _TARGET,
                           "log probabilities are not relayed")
    if ir.parallel_tool_calls is False and ir.tools:
        report.unsupported("parallel_tool_calls", _TARGET,
                           "Gemini cannot be kept from calling several tools at once")
    rf = ir.response_format
    if rf is not None and rf.type != "text":
        gen["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema is not None:
            gen["responseJsonSchema"] = rf.schema
    if ir.reasoning is not None:
        thinking = _thinking(ir.reasoning, model)
        if thinking:
            gen["thinkingConfig"] = thinking
    # user / metadata identify the caller and do not change the answer; Gemini has no field
    if ir.user is not None:
        report.drop("user")
    if ir.metadata:
        report.drop("metadata")
    return gen


def _thinking(rc: ReasoningConfig, model: str) -> dict[str, Any]:
    """budget_tokens → thinkingBudget; effort → thinkingLevel on Gemini 3 and later, or a
    thinkingBudget on 2.x (which has no levels; the table above is the mapping). Gemini
    refuses both together, and a budget the client gave wins. "none" → budget 0."""
    cfg: dict[str, Any] = {}
    legacy = model.removeprefix("models/").startswith(("gemini-1", "gemini-2"))
    if rc.budget_tokens is not None:
        cfg["thinkingBudget"] = rc.budget_tokens
    elif rc.effort is not None:
        if rc.effort not in _EFFORT_BUDGET:
            raise UnsupportedParameter("reasoning.effort", _TARGET, f"unknown effort {rc.effort!r}")
        if legacy or rc.effort == "none":
            cfg["thinkingBudget"] = _EFFORT_BUDGET[rc.effort]
        else:
            cfg["thinkingLevel"] = rc.effort
    elif rc.enabled is False:
        cfg["thinkingBudget"] = 0
    elif rc.enabled is True:
        cfg["thinkingBudget"] = -1  # dynamic
    include = rc.include_thoughts
    if include is None and rc.summary not in (None, "none"):
        include = True  # a Responses client asking for summaries: Gemini's thought summaries
    if include is not None:
        cfg["includeThoughts"] = include
    return cfg
