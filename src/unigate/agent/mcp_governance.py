"""Tool calls on registered MCP services, governed: CAN_USE (for the service, or some of its
tools), the service's rate limits (each call is a request), one usage row per call
(`api_type` "mcp", with `mcp_service` and `mcp_tool`) and, when the service logs payloads, the
arguments and result in the payloads table.

Used by both ways in: the agent loop (`{"type": "mcp", "server_label": S}` with no URL) and
MCP clients at /ai-gateway/mcp/{service}."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from unigate.accounting.usage import UsageRecord
from unigate.agent.mcp_client import McpError, McpSession
from unigate.agent.mcp_stdio import StdioTransport
from unigate.config import McpServiceConfig
from unigate.errors import GatewayError, PermissionDenied
from unigate.governance.payloads import PayloadRecord
from unigate.governance.retention import payload_logging_enabled

if TYPE_CHECKING:
    from unigate.server.state import GatewayState, Principal

API_TYPE = "mcp"


def payload_key(service: str) -> str:
    """The payloads table's `endpoint_name` for a service's rows: no endpoint name starts with
    '@', so the two never mix (and per-endpoint reads and retention work unchanged)."""
    return f"@mcp/{service}"


def session_for(state: GatewayState, service: McpServiceConfig) -> McpSession:
    """One upstream session per service and worker, shared by every caller: the gateway is the
    server's client, with the service's credentials. A changed service opens a new one (and a
    stdio server's old process is stopped)."""
    key = service.name + "\0" + hashlib.sha256(orjson.dumps(
        [service.url, service.headers, service.command, service.args, service.env, service.cwd,
         service.timeout], option=orjson.OPT_SORT_KEYS)).hexdigest()
    session = state.mcp_sessions.get(key)
    if session is None:
        for old in [k for k in state.mcp_sessions if k.startswith(service.name + "\0")]:
            stale = state.mcp_sessions.pop(old)
            task = asyncio.get_running_loop().create_task(stale.close())
            state.closing.add(task)
            task.add_done_callback(state.closing.discard)
        if service.command is not None:
            transport = StdioTransport(service.name, service.command, service.args, service.env, service.cwd,
                                       service.timeout)
            session = McpSession(transport)
        else:
            assert service.url is not None and state.session is not None
            session = McpSession(state.session, service.url, service.headers, service.timeout)
        state.mcp_sessions[key] = session
    return session


def visible_tools(state: GatewayState, principal: Principal, service: str,
                  tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools the caller may call (a grant narrowed to some tools hides the others)."""
    return [t for t in tools if state.can_use(principal, service, t.get("name"))]


def require_use(state: GatewayState, principal: Principal, service: str) -> None:
    if not state.can_use(principal, service):
        raise PermissionDenied(f"you do not have CAN_USE permission on MCP service '{service}'")


@dataclass(slots=True)
class ToolCall:
    """One call: admitted (permission and rate limits), run, then recorded."""

    state: GatewayState
    principal: Principal
    service: McpServiceConfig
    tool: str
    arguments: dict[str, Any]
    url: str  # the request that asked for it
    user_agent: str | None = None
    endpoint_name: str | None = None  # the endpoint of the agent loop, when a loop called it
    parent_request_id: str | None = None
    request_id: str = field(default_factory=lambda: "mcp-" + uuid.uuid4().hex)
    started: float = field(default_factory=time.time)

    async def admit(self) -> None:
        """Raises PermissionDenied (no CAN_USE on the tool) or RateLimited; the refusal is recorded."""
        p, name = self.principal, self.service.name
        try:
            if not self.state.can_use(p, name, self.tool):
                raise PermissionDenied(f"you do not have CAN_USE permission on tool '{self.tool}' of "
                                       f"MCP service '{name}'")
            limits = self.state.snap.mcp_limits.get(name)
            if limits:
                await self.state.limiter.acquire(
                    "mcp" + "\0" + name, limits, p.type, p.name,
                    self.state.snap.groups_of.get((p.type, p.name), frozenset()), {}, 0,
                    target=f"MCP service '{name}'")
        except GatewayError as e:
            self._record(e.status, e.code, None, time.perf_counter())
            raise

    async def run(self) -> dict[str, Any]:
        """The tool's result object; McpError when the server gave none (both recorded)."""
        t0 = time.perf_counter()
        session = session_for(self.state, self.service)
        try:
            result = await session.call_tool(self.tool, self.arguments)
        except McpError as e:
            self._record(e.code if e.kind == "http_error" and 400 <= e.code < 600 else 502, e.kind,
                         {"error": e.as_item_error()}, t0)
            raise
        self._record(200, "tool_error" if result.get("isError") else None, result, t0)
        return result

    def _record(self, status: int, error_code: str | None, result: dict[str, Any] | None, t0: float) -> None:
        latency = round((time.perf_counter() - t0) * 1000.0, 3)
        routing = [{"parent_request_id": self.parent_request_id}] if self.parent_request_id else []
        record = UsageRecord(
            self.request_id, self.started, API_TYPE, self.url, self.user_agent, self.endpoint_name,
            self.principal.name, self.principal.type, status_code=status, error_code=error_code,
            latency_ms=latency, routing=routing, token_id=self.principal.token_id,
            mcp_service=self.service.name, mcp_tool=self.tool)
        self.state.usage.put(record)
        self.state.metrics.request_done(record, None)
        if payload_logging_enabled(self.service.inference_table) and self.state.payloads is not None:
            request = orjson.dumps({"name": self.tool, "arguments": self.arguments})
            self.state.payloads.put(PayloadRecord(
                self.request_id, self.started, payload_key(self.service.name), "mcp", request,
                orjson.dumps(result) if result is not None else b"", status_code=status,
                requester=self.principal.name, latency_ms=latency))
