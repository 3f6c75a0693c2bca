"""Tool definitions, `tool_choice` and `text.format`, in both directions.

Built-in tools (web_search, file_search, code_interpreter, mcp, ...) run on OpenAI's side and
have no equivalent elsewhere: they become a `ToolSpec` without `parameters` that keeps the raw
definition under meta["openai_responses"], so only this codec can send them again.

`custom` tools with free-text input (what coding agents such as Codex CLI send) map to a
function with one string argument, `input`: every provider can call that, and the call's
`{"input": "..."}` arguments are unwrapped into a `custom_tool_call` on the way back (the
response encoders need the request for that: see `custom_tool_names`). A custom tool that
constrains its input with a grammar (lark / regex) cannot be enforced elsewhere, so it is kept
as a built-in tool and refused by the other formats.

`namespace` tools group functions under one name (Codex CLI sends each MCP server's tools as
a namespace `mcp__<server>`); the model's call names the function and its `namespace`. Other
providers know no groups: each function becomes one tool named `<namespace>__<function>`, and
calls of it go back to the client as the namespaced call it expects (`namespace_names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unigate.codecs.fields import array, fail, obj, opt_bool, opt_string, string
from unigate.codecs.openai_responses._util import FORMAT, TARGET, ns
from unigate.errors import UnsupportedParameter
from unigate.ir.request import ResponseFormat, ToolChoice, ToolSpec

CUSTOM_ARG = "input"


def _custom_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {CUSTOM_ARG: {"type": "string", "description": "The tool input, as free text."}},
        "required": [CUSTOM_ARG],
        "additionalProperties": False,
    }


def flat_name(namespace: str, name: str) -> str:
    """The one name a namespaced function has for providers without namespaces."""
    return f"{namespace}{name}" if namespace.endswith("__") else f"{namespace}__{name}"


def tools_to_ir(value: Any) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for i, raw in enumerate(array(value, "tools")):
        path = f"tools[{i}]"
        tool = obj(raw, path)
        if tool.get("type") == "namespace":
            specs.extend(_namespace_to_ir(tool, path))
        else:
            specs.append(_tool_to_ir(tool, path))
    return specs


def _namespace_to_ir(tool: dict[str, Any], path: str) -> list[ToolSpec]:
    namespace = string(tool.get("name"), f"{path}.name")
    specs: list[ToolSpec] = []
    for j, raw in enumerate(array(tool.get("tools"), f"{path}.tools")):
        inner = obj(raw, f"{path}.tools[{j}]")
        spec = _tool_to_ir(inner, f"{path}.tools[{j}]")
        if spec.parameters is None:
            fail(f"{path}.tools[{j}].type", f"a namespace may hold functions and custom tools, "
                 f"not '{inner.get('type')}'")
        own = dict((spec.meta or {}).get(FORMAT) or {})
        own["namespace"] = {"namespace": namespace, "name": spec.name}
        spec.name = flat_name(namespace, spec.name)
        spec.meta = {FORMAT: own}
        specs.append(spec)
    return specs


def _tool_to_ir(tool: dict[str, Any], path: str) -> ToolSpec:
    kind = string(tool.get("type"), f"{path}.type")
    if kind == "function":
        params = tool.get("parameters")
        return ToolSpec(
            name=string(tool.get("name"), f"{path}.name"),
            description=opt_string(tool.get("description"), f"{path}.description"),
            # A function without parameters takes none; keep the schema explicit so no
            # encoder mistakes it for a built-in tool.
            parameters={"type": "object", "properties": {}} if params is None
            else obj(params, f"{path}.parameters"),
            strict=opt_bool(tool.get("strict"), f"{path}.strict"),
        )
    if kind == "custom" and _free_text(tool.get("format"), f"{path}.format"):
        return ToolSpec(
            name=string(tool.get("name"), f"{path}.name"),
            description=opt_string(tool.get("description"), f"{path}.description"),
            parameters=_custom_schema(),
            meta={FORMAT: {"custom": tool}},
        )
    name = tool.get("name")
    return ToolSpec(name=name if isinstance(name, str) else kind, parameters=None, meta={FORMAT: tool})


def _free_text(fmt: Any, path: str) -> bool:
    return fmt is None or obj(fmt, path).get("type") == "text"


def tool_choice_to_ir(value: Any) -> ToolChoice | None:
    """None when the choice cannot be said in the IR (allowed_tools, mcp): the caller puts
    it in `extra` so it is refused rather than widened to "auto"."""
    if isinstance(value, str):
        if value in ("auto", "none", "required"):
            return ToolChoice(mode=value)  # type: ignore[arg-type]
        fail("tool_choice", f"unknown value '{value}'")
    choice = obj(value, "tool_choice")
    kind = string(choice.get("type"), "tool_choice.type")
    if kind in ("function", "custom"):
        return ToolChoice(mode="tool", name=string(choice.get("name"), "tool_choice.name"))
    if kind in ("allowed_tools", "mcp"):
        return None
    return ToolChoice(mode="tool", name=kind)  # a built-in tool, named by its type


def text_format_to_ir(fmt: Any) -> ResponseFormat | None:
    if fmt is None:
        return None
    fmt = obj(fmt, "text.format")
    kind = string(fmt.get("type"), "text.format.type")
    if kind in ("text", "json_object"):
        return ResponseFormat(type=kind)  # type: ignore[arg-type]
    if kind == "json_schema":
        return ResponseFormat(
            type="json_schema",
            schema=obj(fmt.get("schema"), "text.format.schema"),
            name=string(fmt.get("name"), "text.format.name"),
            description=opt_string(fmt.get("description"), "text.format.description"),
            strict=opt_bool(fmt.get("strict"), "text.format.strict"),
        )
    fail("text.format.type", f"unknown format type '{kind}'")


# --- IR → wire -------------------------------------------------------------------------------


def is_custom(spec: ToolSpec) -> bool:
    return "custom" in ns(spec.meta)


def custom_tool_names(tools: list[ToolSpec] | None) -> frozenset[str]:
    """Names of the request's tools that the client declared as `custom` (free-text input)."""
    return frozenset(t.name for t in tools or () if is_custom(t))


def namespace_names(tools: list[ToolSpec] | None) -> dict[str, tuple[str, str]]:
    """{flat name: (namespace, function name)} for the request's namespaced functions."""
    out: dict[str, tuple[str, str]] = {}
    for t in tools or ():
        where = ns(t.meta).get("namespace")
        if isinstance(where, Mapping):
            out[t.name] = (where["namespace"], where["name"])
    return out


def tool_spec_to_wire(spec: ToolSpec) -> dict[str, Any]:
    own = ns(spec.meta)
    if "custom" in own:
        custom: dict[str, Any] = own["custom"]
        return {**custom, "name": spec.name} if "namespace" in own else custom
    if spec.parameters is None and "type" in own:
        return own  # a built-in tool, exactly as the client defined it
    if spec.parameters is None and spec.meta:
        raise UnsupportedParameter("tools", TARGET, f"tool '{spec.name}' is specific to "
                                   f"another provider ({', '.join(spec.meta)})")
    out: dict[str, Any] = {"type": "function", "name": spec.name}
    if spec.description is not None:
        out["description"] = spec.description
    out["parameters"] = spec.parameters if spec.parameters is not None else {
        "type": "object", "properties": {}}
    # Responses makes functions strict unless told otherwise, which rejects schemas not written
    # for strict mode; an unset `strict` means the client did not ask for it.
    out["strict"] = bool(spec.strict)
    return out


def tool_choice_to_wire(choice: ToolChoice, tools: list[ToolSpec] | None) -> str | dict[str, Any]:
    if choice.mode != "tool":
        return choice.mode
    for spec in tools or ():
        if spec.name == choice.name:
            own = ns(spec.meta)
            if "custom" in own:
                return {"type": "custom", "name": spec.name}
            if spec.parameters is None and "type" in own:
                return {"type": own["type"]}
            break
    return {"type": "function", "name": choice.name}


def response_format_to_wire(rf: ResponseFormat) -> dict[str, Any]:
    if rf.type != "json_schema":
        return {"type": rf.type}
    out: dict[str, Any] = {"type": "json_schema", "name": rf.name or "response"}
    if rf.description is not None:
        out["description"] = rf.description
    out["schema"] = rf.schema if rf.schema is not None else {}
    if rf.strict is not None:
        out["strict"] = rf.strict
    return out
