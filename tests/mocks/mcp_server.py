"""A real MCP server for the agent-loop tests, built with the official `mcp` SDK and served
over streamable HTTP on loopback:  python -m tests.mocks.mcp_server PORT

Tools: `add` (two integers), `echo` (read-only), `fail` (raises: an error result), `slow`
(sleeps), `chain` (its output asks the scripted mock model to call `add` next)."""

from __future__ import annotations

import asyncio
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

server = MCPServer("unigate-test-tools")


@server.tool(description="Add two integers and return the sum.")
def add(a: int, b: int) -> str:
    return f"SUM={a + b}"


@server.tool(description="Return the text unchanged.", annotations=ToolAnnotations(readOnlyHint=True))
def echo(text: str) -> str:
    return f"ECHO={text}"


@server.tool(description="Always fails.")
def fail(reason: str = "broken") -> str:
    raise ToolError(f"the tool failed: {reason}")


@server.tool(description="Sleep for some seconds, then answer.")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "SLEPT"


@server.tool(description="Start a chain of calls.")
def chain() -> str:
    return 'CHAINED then MOCK_MCP_CALL:add{"a":40,"b":2}'


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
