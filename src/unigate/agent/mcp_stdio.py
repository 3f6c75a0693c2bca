"""The MCP stdio transport: a local server process that reads JSON-RPC messages, one per line,
on its stdin and writes its own on stdout (stderr is its log).

Each worker starts the process at its first message and starts it again (a new generation: the
session initializes again) after it exits. The process gets no environment of the gateway's
(which holds the admin token and provider keys): only PATH, HOME, LANG and what the service's
`env` says. Requests the server makes of the client (roots, sampling, elicitation) are refused;
`ping` is answered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from typing import Any

import orjson

from unigate.agent.mcp_client import MAX_MESSAGE_BYTES, McpError

log = logging.getLogger("unigate.mcp")
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
STDERR_KEPT = 20  # lines of the server's log kept for the error when it exits


class StdioTransport:
    def __init__(self, name: str, command: str, args: list[str], env: dict[str, str], cwd: str | None,
                 timeout: float) -> None:
        self.name = name
        self._argv = [command, *args]
        self._env = {k: os.environ[k] for k in INHERITED if k in os.environ} | env
        self._cwd = cwd
        self.timeout = timeout
        self.version: str | None = None
        self.generation = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._write = asyncio.Lock()
        self._start = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stderr: deque[str] = deque(maxlen=STDERR_KEPT)

    def forget(self, error: McpError) -> bool:
        return False  # a process that exited is started again at the next message

    async def connect(self) -> None:
        await self._running()

    async def exchange(self, message: dict[str, Any], rid: int | None) -> dict[str, Any] | None:
        proc = await self._running()
        future: asyncio.Future[dict[str, Any]] | None = None
        if rid is not None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[rid] = future
        try:
            await self._send(proc, message)
            if future is None:
                return None
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            raise McpError("http_error", 504, f"the MCP server did not answer within {self.timeout:g}s") from None
        finally:
            if rid is not None:
                self._waiting.pop(rid, None)

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for task in list(self._tasks):
            task.cancel()

    # --- the process -----------------------------------------------------------------------

    async def _running(self) -> asyncio.subprocess.Process:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        async with self._start:
            if self._proc is not None and self._proc.returncode is None:
                return self._proc
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, env=self._env, cwd=self._cwd, limit=MAX_MESSAGE_BYTES,
                    start_new_session=True)  # a signal to the gateway's group does not reach it
            except OSError as e:
                raise McpError("http_error", 502, f"the MCP server '{self.name}' could not be started: "
                                                  f"{e.strerror or e}") from None
            self._proc = proc
            self.generation += 1
            self._stderr.clear()
            log.info("MCP service %s: started %s (pid %d)", self.name, self._argv[0], proc.pid)
            for coro in (self._read(proc), self._drain_stderr(proc)):
                task = asyncio.get_running_loop().create_task(coro)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return proc

    async def _send(self, proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        async with self._write:
            try:
                proc.stdin.write(orjson.dumps(message) + b"\n")
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                raise McpError("http_error", 502, self._exited(proc)) from None

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except ValueError:  # a line over the limit: the stream cannot be resynchronised
                log.warning("MCP service %s: a message over %d bytes; stopping the server", self.name,
                            MAX_MESSAGE_BYTES)
                proc.kill()
                break
            if not line:
                break
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # not a message (a server that prints to stdout): passed over
            if not isinstance(message, dict):
                continue
            if "method" in message and "id" in message:
                await self._answer_server_request(proc, message)
                continue
            future = self._waiting.get(message.get("id"))
            if future is not None and not future.done() and ("result" in message or "error" in message):
                future.set_result(message)
        await proc.wait()
        error = McpError("http_error", 502, self._exited(proc))
        for future in list(self._waiting.values()):
            if not future.done():
                future.set_exception(error)

    async def _answer_server_request(self, proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if message.get("method") == "ping":
            reply["result"] = {}
        else:
            reply["error"] = {"code": -32601, "message": "the gateway does not offer this to MCP servers"}
        with contextlib.suppress(McpError):
            await self._send(proc, reply)

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr.append(text)
            log.debug("MCP service %s: %s", self.name, text)

    def _exited(self, proc: asyncio.subprocess.Process) -> str:
        tail = " | ".join(list(self._stderr)[-3:])
        code = proc.returncode
        status = "exited" if code is None else f"exited with status {code}"
        return f"the MCP server '{self.name}' {status}" + (f": {tail}" if tail else "")
