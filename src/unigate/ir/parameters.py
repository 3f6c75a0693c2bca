"""The parameter policy: what happens to a request parameter the target cannot take.

Each client codec classifies its dialect's parameters in a table (`PARAMETERS` in its
request decoder):

* ADVISORY: metadata, identifiers, client hints, caching and storage hints, service tiers,
  user ids. They never change the answer, so they are dropped where the target has no place
  for them, and never refused.
* EMULATED: what the gateway does itself (Anthropic `context_management`, applied to the IR
  before encoding), or a default a client sends on every call that the target cannot take
  (Gemini CLI's `topK`): emulated or dropped, never refused.
* SEMANTIC: everything else; it changes the answer. Refused with a 400 naming it, unless the
  endpoint says `unsupported_parameters: drop`.

Nothing changes silently: every drop and emulation lands in the request's `ParameterReport`,
which the gateway returns as `x-unigate-dropped-parameters` / `x-unigate-emulated-parameters`
and records in the usage row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from unigate.errors import UnsupportedParameter

if TYPE_CHECKING:
    from unigate.ir.request import IRRequest, ToolSpec


class Kind(Enum):
    ADVISORY = "advisory"
    EMULATED = "emulated"
    SEMANTIC = "semantic"


@dataclass(slots=True)
class ParameterReport:
    """Per request (per attempt): how the client's parameters fared in translation.

    `soft` holds IR field names the client's dialect classifies as advisory or emulated:
    an encoder that cannot send one drops it instead of refusing. `names` gives the client's
    own name for an IR field where it differs (Gemini's `generationConfig.topK` for
    `top_k`), so reports and errors speak the client's dialect."""

    soft: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)
    drop_semantic: bool = False  # the endpoint's `unsupported_parameters: drop`
    dropped: list[str] = field(default_factory=list)
    emulated: list[str] = field(default_factory=list)

    def name(self, ir_field: str) -> str:
        return self.names.get(ir_field, ir_field)

    def drop(self, ir_field: str) -> None:
        name = self.name(ir_field)
        if name not in self.dropped:
            self.dropped.append(name)

    def emulate(self, ir_field: str) -> None:
        name = self.name(ir_field)
        if name not in self.emulated:
            self.emulated.append(name)

    def unsupported(self, ir_field: str, target: str, detail: str = "") -> None:
        """The target cannot honour `ir_field`: drop it (advisory / emulated in the client's
        dialect, or the endpoint drops semantic ones too), or refuse the request. The caller
        then leaves the field out of what it encodes."""
        if ir_field in self.soft or self.drop_semantic:
            self.drop(ir_field)
            return
        raise UnsupportedParameter(self.name(ir_field), target, detail)

    def unknown(self, name: str, target: str) -> None:
        """A semantic parameter the IR has no field for (`IRRequest.extra`), toward another
        format: refused, or dropped when the endpoint says so."""
        if not self.drop_semantic:
            raise UnsupportedParameter(name, target)
        if name not in self.dropped:
            self.dropped.append(name)


def classify(table: dict[str, Kind], name: str) -> Kind:
    """A parameter the codec's table does not list changes the answer until shown otherwise."""
    return table.get(name, Kind.SEMANTIC)


def soft_fields(table: dict[str, Kind], fields: dict[str, str]) -> frozenset[str]:
    """IR fields (`fields`: client name → IR field) whose client parameter is not semantic."""
    return frozenset(ir for name, ir in fields.items() if classify(table, name) is not Kind.SEMANTIC)


def set_path(body: dict[str, Any], dotted: str, value: Any) -> None:
    """Put `value` back at a dotted client name (`generationConfig.speechConfig`) in a body."""
    *parents, last = dotted.split(".")
    node = body
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[last] = value


Emulator = Callable[["IRRequest", Any], None]


@dataclass(frozen=True, slots=True)
class DialectParameters:
    """A client dialect's policy as the generic path needs it (built from its codec's table):
    `soft` IR fields dropped rather than refused, `names` the dialect's own names for IR
    fields, `emulators` what the gateway applies itself, by the dialect's parameter name."""

    soft: frozenset[str] = frozenset()
    names: Mapping[str, str] = field(default_factory=dict)
    emulators: Mapping[str, Emulator] = field(default_factory=dict)

    def report(self, drop_semantic: bool) -> ParameterReport:
        return ParameterReport(self.soft, dict(self.names), drop_semantic)


def offerable_tools(ir: IRRequest, fmt: str, target: str) -> list[ToolSpec]:
    """The request's tools that `fmt` can offer. Another format's hosted tool (web search, a
    Responses tool namespace, code execution: a tool with no parameters whose meta belongs to
    other formats only) cannot run there; offered, it is only an option the model may take,
    so it is left out and reported as `tools.<name>`. A tool choice that forces it is
    semantic: refused."""
    tools = ir.tools or []
    out = []
    for spec in tools:
        if spec.parameters is None and spec.meta and fmt not in spec.meta:
            choice = ir.tool_choice
            if choice is not None and choice.mode == "tool" and choice.name == spec.name:
                ir.report.unknown(f"tools.{spec.name}", target)
                ir.tool_choice = None
            elif f"tools.{spec.name}" not in ir.report.dropped:
                ir.report.dropped.append(f"tools.{spec.name}")
            continue
        out.append(spec)
    return out
