"""A real MCP server for the agent-loop tests, built with the official `mcp` SDK and served
over streamable HTTP on loopback (python -m tests.mocks.mcp_server PORT) or on stdin and
stdout (python -m tests.mocks.mcp_server stdio).

Tools: `add` (two integers), `echo` (read-only), `fail` (raises: an error result), `slow`
(sleeps), `chain` (its output asks the scripted mock model to call `add` next), `env` (an
environment variable, to check what a stdio server is given), `crash` (the process exits)."""

from __future__ import annotations

import asyncio
import os
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


@server.tool(description="The value of an environment variable, or (unset).")
def env(name: str) -> str:
    return os.environ.get(name, "(unset)")


@server.tool(description="Exit the server process at once.")
def crash() -> str:
    os._exit(3)


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
