"""The hosted tools of a Responses request: `mcp` tool declarations (and Databricks'
`uc_connection` / `app` spellings of a registered service), checked against the endpoint's
agent policy, and the names under which their tools are shown to the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unigate.agent.mcp_client import McpSession
from unigate.codecs.fields import array, obj, opt_string, string
from unigate.config import AgentPolicy, McpServiceConfig
from unigate.errors import InvalidRequest, PermissionDenied

HOSTED_TYPES = frozenset({"mcp", "uc_connection", "app"})


def wants_agent_loop(body: dict[str, Any]) -> bool:
    """True when the request declares a tool the gateway itself runs."""
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and t.get("type") in HOSTED_TYPES for t in tools)


@dataclass(slots=True)
class ToolFilter:
    """`allowed_tools` or one side of `require_approval`: tool names and/or read-only tools."""

    names: frozenset[str] | None = None
    read_only: bool | None = None

    def matches(self, tool: dict[str, Any]) -> bool:
        if self.names is not None and tool.get("name") in self.names:
            return True
        if self.read_only is not None:
            hints = tool.get("annotations")
            read_only = isinstance(hints, dict) and bool(hints.get("readOnlyHint"))
            return read_only == self.read_only
        return False


@dataclass(slots=True)
class McpServer:
    label: str
    url: str
    headers: dict[str, str]
    allowed: ToolFilter | None  # None: every tool the server lists
    approval_always: ToolFilter | None
    approval_never: ToolFilter | None
    approval_default: bool  # whether a tool no filter names needs approval
    service: McpServiceConfig | None = None  # a registered service (governed calls)
    session: McpSession | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)  # as listed, after `allowed`

    def needs_approval(self, tool: dict[str, Any]) -> bool:
        if self.approval_never is not None and self.approval_never.matches(tool):
            return False
        if self.approval_always is not None and self.approval_always.matches(tool):
            return True
        return self.approval_default


Services = Mapping[str, McpServiceConfig]


def parse_hosted_tools(tools: list[Any], policy: AgentPolicy, services: Services | None = None,
                       may_use: Callable[[str], bool] | None = None) -> tuple[list[McpServer], list[Any]]:
    """The MCP servers the request declares, and the other tools (the client's own).
    `services` are the registered ones; `may_use(name)` says whether the caller has CAN_USE."""
    servers: list[McpServer] = []
    others: list[Any] = []
    for i, raw in enumerate(array(tools, "tools")):
        if not isinstance(raw, dict) or raw.get("type") not in HOSTED_TYPES:
            others.append(raw)
            continue
        server = _server(raw, f"tools[{i}]", policy, services or {}, may_use or (lambda _: False))
        if any(s.label == server.label for s in servers):
            raise InvalidRequest(f"tools[{i}].server_label: '{server.label}' is declared twice",
                                 param=f"tools[{i}].server_label")
        servers.append(server)
    return servers, others


def _server(tool: dict[str, Any], path: str, policy: AgentPolicy, services: Services,
            may_use: Callable[[str], bool]) -> McpServer:
    kind = tool["type"]
    if kind != "mcp":  # Databricks' spellings of a registered service
        inner = obj(tool.get(kind), f"{path}.{kind}")
        name = string(inner.get("name"), f"{path}.{kind}.name")
        return _registered(tool, path, name, f"{path}.{kind}.name", services, may_use)
    label = string(tool.get("server_label"), f"{path}.server_label")
    url = opt_string(tool.get("server_url"), f"{path}.server_url")
    if url is None:
        if tool.get("connector_id") is not None:
            raise InvalidRequest(f"{path}.connector_id: OpenAI's connectors are not available here; "
                                 "give a server_url", param=f"{path}.connector_id")
        return _registered(tool, path, label, f"{path}.server_label", services, may_use)
    if not policy.allow_remote_mcp:
        raise PermissionDenied(f"{path}.server_url: this endpoint does not allow remote MCP servers "
                               "(an administrator can set agent.allow_remote_mcp on it)")
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"{path}.server_url: expected an http:// or https:// URL",
                             param=f"{path}.server_url")
    headers = _headers(tool, path)
    always, never, default = _approval(tool.get("require_approval"), f"{path}.require_approval")
    return McpServer(label, url, headers, _allowed(tool.get("allowed_tools"), f"{path}.allowed_tools"),
                     always, never, default)


def _registered(tool: dict[str, Any], path: str, name: str, param: str, services: Services,
                may_use: Callable[[str], bool]) -> McpServer:
    service = services.get(name)
    if service is None:
        raise InvalidRequest(f"{path}: no MCP service named '{name}' is registered in this gateway "
                             "(give a server_url for a remote server)", param=param)
    if not may_use(name):
        raise PermissionDenied(f"you do not have CAN_USE permission on MCP service '{name}'")
    if tool.get("headers") is not None or tool.get("authorization") is not None:
        raise InvalidRequest(f"{path}.headers: MCP service '{name}' is registered with its own "
                             "credentials; send no headers for it", param=f"{path}.headers")
    approval = tool.get("require_approval")
    if approval is None and tool["type"] != "mcp":
        approval = "never"  # Databricks' connection and app tools run without an approval round
    always, never, default = _approval(approval, f"{path}.require_approval")
    return McpServer(name, service.url or "", {}, _allowed(tool.get("allowed_tools"), f"{path}.allowed_tools"),
                     always, never, default, service)


def _headers(tool: dict[str, Any], path: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    raw = tool.get("headers")
    if raw is not None:
        for key, value in obj(raw, f"{path}.headers").items():
            headers[key] = string(value, f"{path}.headers.{key}")
    token = opt_string(tool.get("authorization"), f"{path}.authorization")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for key, value in headers.items():
        if any(c in key + value for c in "\r\n\0"):
            raise InvalidRequest(f"{path}.headers.{key}: line breaks are not allowed", param=f"{path}.headers")
    return headers


def _filter(value: Any, path: str) -> ToolFilter:
    if isinstance(value, list):
        return ToolFilter(names=frozenset(string(v, f"{path}[{i}]") for i, v in enumerate(value)))
    spec = obj(value, path)
    names = spec.get("tool_names")
    read_only = spec.get("read_only")
    if read_only is not None and not isinstance(read_only, bool):
        raise InvalidRequest(f"{path}.read_only: expected a boolean", param=f"{path}.read_only")
    return ToolFilter(
        names=None if names is None else frozenset(
            string(v, f"{path}.tool_names[{i}]") for i, v in enumerate(array(names, f"{path}.tool_names"))),
        read_only=read_only)


def _allowed(value: Any, path: str) -> ToolFilter | None:
    return None if value is None else _filter(value, path)


def _approval(value: Any, path: str) -> tuple[ToolFilter | None, ToolFilter | None, bool]:
    """(always, never, default). As in OpenAI's API, a call needs approval unless the request
    says otherwise: "never", or a `never` filter naming the tool. With only an `always`
    filter, the tools it does not name run without approval."""
    if value is None or value == "always":
        return None, None, True
    if value == "never":
        return None, None, False
    spec = obj(value, path)
    always = _filter(spec["always"], f"{path}.always") if spec.get("always") is not None else None
    never = _filter(spec["never"], f"{path}.never") if spec.get("never") is not None else None
    return always, never, not (always is not None and never is None)
