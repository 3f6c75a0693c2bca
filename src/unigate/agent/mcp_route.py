"""`/ai-gateway/mcp/{service}`: a registered MCP service as an MCP server (streamable HTTP,
MCP 2025-06-18) behind the gateway's tokens, so Claude Code, Codex or Cursor add one URL and get
the governed server.

The gateway answers the protocol itself rather than relaying bytes: `initialize` and `ping`
here; `tools/list` from the service, less the tools the caller may not use; `tools/call`
admitted, rate-limited and recorded (agent.mcp_governance); other requests (resources,
prompts, completion) forwarded as they are. Each answer is one JSON object, and no session id
is issued, so any worker of any instance can take a client's next message. Server-to-client
streams (GET) are not offered: 405, as the transport allows."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from unigate.agent.mcp_client import PROTOCOL_VERSION, McpError
from unigate.agent.mcp_governance import ToolCall, require_use, session_for, visible_tools
from unigate.config import McpServiceConfig
from unigate.errors import GatewayError, InvalidRequest, NotFound, RateLimited
from unigate.server.auth import authenticate_fresh
from unigate.server.http import Request, Response
from unigate.server.state import GatewayState, Principal

log = logging.getLogger("unigate.mcp")
VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")  # what a client may ask for at initialize
# JSON-RPC error codes: the spec's, and the server range for the gateway's own refusals
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL = -32700, -32600, -32601, -32602, -32603
REFUSED, RATE_LIMITED = -32001, -32029
FORWARDED = frozenset({"resources/list", "resources/templates/list", "resources/read", "prompts/list",
                       "prompts/get", "completion/complete"})


def _error(rid: Any, code: int, message: str, status: int = 200, data: Any = None,
           headers: dict[str, str] | None = None) -> Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return Response(body=orjson.dumps({"jsonrpc": "2.0", "id": rid, "error": err}), status=status,
                    headers=headers, content_type="application/json")


def _result(rid: Any, result: dict[str, Any]) -> Response:
    return Response(body=orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result}),
                    content_type="application/json")


async def mcp_endpoint(request: Request, state: GatewayState) -> Response:
    """Every method of the URL; errors as JSON-RPC error objects, never a traceback."""
    try:
        principal = await authenticate_fresh(request, state)
        name = request.match_info["service"]
        service = state.config.mcp_services.get(name)
        if service is None:
            raise NotFound(f"MCP service '{name}' does not exist")
        require_use(state, principal, name)
    except GatewayError as e:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return _error(None, REFUSED, e.message, e.status, headers=headers)
    if request.method != "POST":
        return _error(None, INVALID_REQUEST, "this MCP server offers no server-to-client stream; "
                      "POST JSON-RPC messages", 405, headers={"Allow": "POST"})
    try:
        message = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(None, PARSE_ERROR, "the body is not JSON", 400)
    except GatewayError as e:
        return _error(None, INVALID_REQUEST, e.message, e.status)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(None, INVALID_REQUEST, "expected one JSON-RPC 2.0 message object", 400)
    method, rid = message.get("method"), message.get("id")
    if method is None or "id" not in message:  # a notification, or a response to us: accepted
        return Response(status=202)
    if not isinstance(method, str) or not isinstance(rid, (str, int)) or isinstance(rid, bool):
        return _error(rid if isinstance(rid, (str, int)) else None, INVALID_REQUEST,
                      "a request needs a string method and a string or integer id", 400)
    params = message.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return _error(rid, INVALID_PARAMS, "params must be an object")
    try:
        return _result(rid, await _answer(request, state, principal, service, method, params))
    except McpError as e:
        code = e.code if e.kind == "mcp_protocol_error" else INTERNAL
        return _error(rid, code, e.message, data=e.data)
    except RateLimited as e:
        return _error(rid, RATE_LIMITED, e.message, data={"retry_after": int(e.headers.get("Retry-After", "1"))})
    except GatewayError as e:
        return _error(rid, INVALID_PARAMS if isinstance(e, InvalidRequest) else REFUSED, e.message)
    except Exception:  # a bug must not become a traceback for the client
        log.exception("MCP request %s on service %s failed", method, service.name)
        return _error(rid, INTERNAL, "internal error")


async def _answer(request: Request, state: GatewayState, principal: Principal, service: McpServiceConfig,
                  method: str, params: dict[str, Any]) -> dict[str, Any]:
    session = session_for(state, service)
    if method == "initialize":
        return await _initialize(session, service, params)
    if method == "ping":
        return {}
    if method == "tools/list":
        tools = visible_tools(state, principal, service.name, await session.list_tools())
        return {"tools": tools}
    if method == "tools/call":
        tool = params.get("name")
        arguments = params.get("arguments")
        if not isinstance(tool, str) or not tool:
            raise InvalidRequest("tools/call: 'name' must be the tool's name")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise InvalidRequest("tools/call: 'arguments' must be an object")
        call = ToolCall(state, principal, service, tool, arguments, request.path,
                        request.headers.get("User-Agent"))
        await call.admit()
        return await call.run()
    if method in FORWARDED:
        return await session.request(method, params)
    raise McpError("mcp_protocol_error", METHOD_NOT_FOUND, f"method '{method}' is not available here")


async def _initialize(session: Any, service: McpServiceConfig, params: dict[str, Any]) -> dict[str, Any]:
    """The gateway's own answer, with the service's capabilities (those it can carry: no
    subscriptions or change notices, which need a stream) and instructions."""
    await session.request("ping", {})  # the service answers (and its session is open)
    upstream = session.server_info
    asked = params.get("protocolVersion")
    capabilities: dict[str, Any] = {"tools": {}}
    for kind in ("resources", "prompts", "completions"):
        if isinstance(upstream.get("capabilities"), dict) and kind in upstream["capabilities"]:
            capabilities[kind] = {}
    result: dict[str, Any] = {
        "protocolVersion": asked if asked in VERSIONS else PROTOCOL_VERSION,
        "capabilities": capabilities,
        "serverInfo": {"name": f"unigate/{service.name}", "version": "1",
                       **({"title": service.description} if service.description else {})},
    }
    if isinstance(upstream.get("instructions"), str):
        result["instructions"] = upstream["instructions"]
    return result
