"""A client session with one MCP server (MCP 2025-06-18): initialize once, then tools/list (all
pages), tools/call and any other request, over a transport that carries JSON-RPC messages:
streamable HTTP (`HttpTransport`, here) or a local process's stdin and stdout
(`agent.mcp_stdio.StdioTransport`).

Over HTTP, messages are POSTed to one URL; the server answers each request with a JSON object
or with an SSE stream that ends with the matching response (notifications get 202), and the
session id it hands out at `initialize` goes back on every later request."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Protocol

import orjson

from unigate.server.upstream_http import UpstreamClient, UpstreamResponse
from unigate.sse import SSEDecoder

PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "unigate", "version": "1"}
MAX_TOOL_PAGES = 20  # tools/list pages followed at most (a server that pages forever)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class McpError(Exception):
    """A call that did not produce a result: `kind` is the Responses API's error type
    (`http_error`, `mcp_protocol_error`), `code` the HTTP status or JSON-RPC code."""

    def __init__(self, kind: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.kind, self.code, self.message, self.data = kind, code, message, data

    def as_item_error(self) -> dict[str, Any]:
        return {"type": self.kind, "code": self.code, "message": self.message}


class Transport(Protocol):
    """Carries one JSON-RPC message and returns the response to `rid` (None: a notification)."""

    timeout: float
    version: str | None  # the negotiated protocol version, once initialized
    generation: int  # changes when the server side starts afresh (a new process, a lost session)

    async def exchange(self, message: dict[str, Any], rid: int | None) -> dict[str, Any] | None: ...

    async def connect(self) -> None:
        """Make sure the server side is there (a stdio server's process is running)."""
        ...

    def forget(self, error: McpError) -> bool:
        """Whether `error` means the server lost the session (then initialize again)."""
        ...

    async def close(self) -> None: ...


class McpSession:
    def __init__(self, client: UpstreamClient | Transport, url: str = "", headers: dict[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        """Over streamable HTTP (`client`, `url`, `headers`), or over a given transport."""
        self.transport: Transport = (HttpTransport(client, url, headers, timeout)
                                     if isinstance(client, UpstreamClient) else client)
        self._ids = itertools.count(1)
        self._ready_for: int | None = None  # the transport generation initialized
        self._starting = asyncio.Lock()  # one initialize for concurrent first calls
        self.server_info: dict[str, Any] = {}  # the initialize result (capabilities, serverInfo)

    async def list_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            result = await self.request("tools/list", {"cursor": cursor} if cursor else {})
            page = result.get("tools")
            if not isinstance(page, list):
                raise McpError("mcp_protocol_error", -32603, "tools/list answered without a 'tools' array")
            tools.extend(t for t in page if isinstance(t, dict) and isinstance(t.get("name"), str))
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's result object (`content`, `isError`, maybe `structuredContent`)."""
        return await self.request("tools/call", {"name": name, "arguments": arguments})

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Any request after initialize. A server that forgot the session (HTTP 404, as after
        its restart) gets a new initialize and the request once more."""
        await self._ensure_ready()
        generation = self.transport.generation
        try:
            return await self._request(method, params)
        except McpError as e:
            # a server started afresh meanwhile refused the request as uninitialized
            if self.transport.generation == generation and not self.transport.forget(e):
                raise
        await self._ensure_ready()
        return await self._request(method, params)

    async def close(self) -> None:
        await self.transport.close()

    # --- the protocol ---------------------------------------------------------------------

    async def _ensure_ready(self) -> None:
        await self.transport.connect()
        if self._ready_for == self.transport.generation:
            return
        async with self._starting:
            while self._ready_for != self.transport.generation:
                self.transport.version = None
                result = await self._request("initialize", {
                    "protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO})
                version = result.get("protocolVersion")
                self.transport.version = version if isinstance(version, str) else PROTOCOL_VERSION
                self.server_info = result
                await self.transport.exchange({"jsonrpc": "2.0", "method": "notifications/initialized"}, None)
                # a stdio server starts (a new generation) at the first message: initialize once
                self._ready_for = self.transport.generation

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        message = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        reply = await self.transport.exchange(message, rid)
        assert reply is not None
        if "error" in reply:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            code = err.get("code")
            raise McpError("mcp_protocol_error", code if isinstance(code, int) else -32603,
                           str(err.get("message") or "error"), err.get("data"))
        result = reply.get("result")
        if not isinstance(result, dict):
            raise McpError("mcp_protocol_error", -32603, f"{method} answered without a result object")
        return result


class HttpTransport:
    """Streamable HTTP: one POST per message, the session id and protocol version as headers."""

    def __init__(self, client: UpstreamClient, url: str, headers: dict[str, str] | None,
                 timeout: float) -> None:
        self._client = client
        self.url = url
        self._headers = dict(headers or {})
        self.timeout = timeout
        self._session_id: str | None = None
        self.version: str | None = None
        self.generation = 0

    def forget(self, error: McpError) -> bool:
        if error.kind == "http_error" and error.code == 404 and self._session_id:
            self._session_id = None
            self.generation += 1
            return True
        return False

    async def connect(self) -> None:
        return None  # each message is its own request

    async def close(self) -> None:
        return None  # the connection pool is the gateway's

    async def exchange(self, message: dict[str, Any], rid: int | None) -> dict[str, Any] | None:
        headers = {**self._headers, "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream"}
        if self._session_id:
            headers["Mcp-Session-Id"] = self._session_id
        if self.version:
            headers["MCP-Protocol-Version"] = self.version
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self._client.post(self.url, orjson.dumps(message), headers)
                try:
                    return await self._reply(resp, rid)
                finally:
                    resp.close()
        except TimeoutError:
            raise McpError("http_error", 504, f"the MCP server did not answer within {self.timeout:g}s") from None
        except OSError as e:
            raise McpError("http_error", 502, f"the MCP server is unreachable: {e or type(e).__name__}") from None
        except ValueError as e:  # a URL the client cannot use
            raise McpError("http_error", 400, str(e)) from None

    async def _reply(self, resp: UpstreamResponse, rid: int | None) -> dict[str, Any] | None:
        session = resp.headers.get("Mcp-Session-Id")
        if session:
            self._session_id = session
        if resp.status >= 400:
            body = (await resp.read())[:500].decode("utf-8", "replace")
            raise McpError("http_error", resp.status, f"the MCP server answered {resp.status}: {body}".strip())
        if rid is None:
            await resp.read()
            return None
        if resp.content_type == "text/event-stream":
            return await self._reply_from_stream(resp, rid)
        data = await resp.read()
        reply = _parse(data)
        if reply is None or reply.get("id") != rid:
            raise McpError("mcp_protocol_error", -32603, "the MCP server's answer is not the response to the request")
        return reply

    async def _reply_from_stream(self, resp: UpstreamResponse, rid: int) -> dict[str, Any]:
        """Read events until the response to `rid`; server requests and notifications on the
        way (progress, logging) are passed over."""
        sse = SSEDecoder()
        read = 0
        while True:
            chunk = await resp.readany()
            read += len(chunk)
            if read > MAX_MESSAGE_BYTES:
                raise McpError("mcp_protocol_error", -32603, "the MCP server's answer is too large")
            for event in sse.feed(chunk) if chunk else sse.close():
                reply = _parse(event.data.encode())
                if reply is not None and reply.get("id") == rid and ("result" in reply or "error" in reply):
                    return reply
            if not chunk:
                raise McpError("mcp_protocol_error", -32603, "the MCP server ended its stream without a response")


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
