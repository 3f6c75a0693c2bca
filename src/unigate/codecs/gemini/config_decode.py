"""A Gemini client's tools, toolConfig and generationConfig → IR fields."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import array, boolean, number, obj, string
from unigate.codecs.gemini._util import FORMAT, get, integer, known_keys
from unigate.codecs.gemini.schema import openapi_to_json_schema
from unigate.errors import InvalidRequest
from unigate.ir.request import (
    IRRequest,
    ReasoningConfig,
    ResponseFormat,
    ToolChoice,
    ToolSpec,
)

_FUNCTION_KEYS = known_keys("functionDeclarations")
_TOOL_CONFIG_KEYS = known_keys("functionCallingConfig")


def decode_tools(tools: list[Any]) -> list[ToolSpec]:
    """Function declarations → ToolSpecs; built-in tools (googleSearch, codeExecution,
    urlContext, ...) → ToolSpec(parameters=None, meta={"gemini": {<key>: <config>}}), which
    only the Gemini encoder can send."""
    specs: list[ToolSpec] = []
    for i, raw in enumerate(tools):
        tool = obj(raw, f"tools[{i}]")
        decls = get(tool, "functionDeclarations")
        if decls is not None:
            path = f"tools[{i}].functionDeclarations"
            specs.extend(_declaration(d, f"{path}[{j}]")
                         for j, d in enumerate(array(decls, path)))
        for key, value in tool.items():
            if key not in _FUNCTION_KEYS:
                specs.append(ToolSpec(name=key, meta={FORMAT: {key: value}}))
    return specs


def _declaration(raw: Any, path: str) -> ToolSpec:
    decl = obj(raw, path)
    name = string(decl.get("name"), f"{path}.name")
    description = decl.get("description")
    if description is not None:
        description = string(description, f"{path}.description")
    params: dict[str, Any] | None = None
    if (js := get(decl, "parametersJsonSchema")) is not None:
        params = obj(js, f"{path}.parametersJsonSchema")
    elif (oa := decl.get("parameters")) is not None:
        params = openapi_to_json_schema(oa, f"{path}.parameters")
    # `response`/`responseJsonSchema` describe what the function returns: documentation
    # only, with no counterpart elsewhere; `behavior` is a Live API setting.
    return ToolSpec(name=name, description=description, parameters=params)


def decode_tool_config(cfg: dict[str, Any], extra: dict[str, Any]) -> ToolChoice | None:
    fcc = get(cfg, "functionCallingConfig")
    if any(k not in _TOOL_CONFIG_KEYS for k in cfg):
        extra["toolConfig"] = cfg  # retrievalConfig etc.: no counterpart
    if fcc is None:
        return None
    fcc = obj(fcc, "toolConfig.functionCallingConfig")
    path = "toolConfig.functionCallingConfig"
    mode = string(fcc.get("mode") or "AUTO", f"{path}.mode").upper()
    names = get(fcc, "allowedFunctionNames")
    if names is not None:
        names = [string(n, f"{path}.allowedFunctionNames[{i}]")
                 for i, n in enumerate(array(names, f"{path}.allowedFunctionNames"))]
    if mode in ("AUTO", "MODE_UNSPECIFIED") and not names:
        return ToolChoice("auto")
    if mode == "NONE":
        return ToolChoice("none")
    if mode == "ANY" and not names:
        return ToolChoice("required")
    if mode == "ANY" and len(names) == 1:
        return ToolChoice("tool", names[0])
    if mode not in ("AUTO", "ANY", "VALIDATED", "MODE_UNSPECIFIED"):
        raise InvalidRequest(f"{path}.mode: unknown mode {mode!r}", param=f"{path}.mode")
    # ANY among several names, VALIDATED, or a name list with AUTO: no IR counterpart
    extra["toolConfig"] = cfg
    return None


_GEN_SIMPLE = known_keys("temperature", "topP", "topK", "candidateCount", "maxOutputTokens",
                         "stopSequences", "presencePenalty", "frequencyPenalty", "seed",
                         "responseMimeType", "responseSchema", "responseJsonSchema",
                         "thinkingConfig", "responseLogprobs", "logprobs",
                         "responseModalities")


def decode_generation_config(gen: dict[str, Any], ir: IRRequest) -> None:
    p = "generationConfig"
    if (v := gen.get("temperature")) is not None:
        ir.temperature = number(v, f"{p}.temperature")
    if (v := get(gen, "topP")) is not None:
        ir.top_p = number(v, f"{p}.topP")
    if (v := get(gen, "topK")) is not None:
        ir.top_k = int(number(v, f"{p}.topK"))
    if (v := get(gen, "candidateCount")) is not None:
        ir.n = integer(v, f"{p}.candidateCount")
    if (v := get(gen, "maxOutputTokens")) is not None:
        ir.max_tokens = integer(v, f"{p}.maxOutputTokens")
    if (v := get(gen, "stopSequences")) is not None:
        ir.stop = [string(s, f"{p}.stopSequences[{i}]")
                   for i, s in enumerate(array(v, f"{p}.stopSequences"))]
    if (v := get(gen, "presencePenalty")) is not None:
        ir.presence_penalty = number(v, f"{p}.presencePenalty")
    if (v := get(gen, "frequencyPenalty")) is not None:
        ir.frequency_penalty = number(v, f"{p}.frequencyPenalty")
    if (v := gen.get("seed")) is not None:
        ir.seed = integer(v, f"{p}.seed")
    if (v := get(gen, "responseLogprobs")) is not None:
        ir.logprobs = boolean(v, f"{p}.responseLogprobs")
    if (v := gen.get("logprobs")) is not None:
        ir.top_logprobs = integer(v, f"{p}.logprobs")
    ir.response_format = _response_format(gen, ir.extra)
    if (v := get(gen, "thinkingConfig")) is not None:
        ir.reasoning = _thinking(obj(v, f"{p}.thinkingConfig"))
    modalities = get(gen, "responseModalities")
    if modalities is not None and [str(m).upper() for m in array(modalities, p)] != ["TEXT"]:
        ir.extra[f"{p}.responseModalities"] = modalities  # audio/image output
    for key, value in gen.items():
        if key not in _GEN_SIMPLE:  # speechConfig, mediaResolution, imageConfig, ...
            ir.extra[f"{p}.{key}"] = value


def _response_format(gen: dict[str, Any], extra: dict[str, Any]) -> ResponseFormat | None:
    p = "generationConfig"
    mime = get(gen, "responseMimeType")
    js = get(gen, "responseJsonSchema")
    oa = get(gen, "responseSchema")
    if mime is None and js is None and oa is None:
        return None
    mime = string(mime or "application/json", f"{p}.responseMimeType")
    if mime == "text/plain" and js is None and oa is None:
        return ResponseFormat("text")
    if mime != "application/json":
        extra[f"{p}.responseMimeType"] = mime  # text/x.enum etc.
        return None
    if js is not None:
        return ResponseFormat("json_schema", schema=obj(js, f"{p}.responseJsonSchema"))
    if oa is not None:
        return ResponseFormat("json_schema",
                              schema=openapi_to_json_schema(oa, f"{p}.responseSchema"))
    return ResponseFormat("json_object")


_LEVELS = {"MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"}


def _thinking(cfg: dict[str, Any]) -> ReasoningConfig:
    p = "generationConfig.thinkingConfig"
    rc = ReasoningConfig()
    if (v := get(cfg, "includeThoughts")) is not None:
        rc.include_thoughts = boolean(v, f"{p}.includeThoughts")
    if (v := get(cfg, "thinkingBudget")) is not None:
        budget = integer(v, f"{p}.thinkingBudget")
        if budget == 0:
            rc.enabled = False
        elif budget == -1:  # dynamic: the model decides
            rc.enabled = True
        else:
            rc.enabled, rc.budget_tokens = True, budget
    if (v := get(cfg, "thinkingLevel")) is not None:
        level = string(v, f"{p}.thinkingLevel").upper()
        if level not in _LEVELS:
            raise InvalidRequest(f"{p}.thinkingLevel: unknown level {v!r}",
                                 param=f"{p}.thinkingLevel")
        rc.effort = level.lower()
    if rc.include_thoughts and rc.enabled is None:
        # Thinking models think by default (the budget is dynamic); a client asking to see
        # the thoughts counts on that, so a provider whose thinking is off by default must
        # switch it on.
        rc.enabled = True
    return rc
