"""The agent loop behind `POST .../responses` when the request declares hosted tools (MCP
servers): call the model, run the MCP tools it calls, feed the results back, repeat until it
answers, asks the client for a function call, or a call waits for the client's approval.

Each model call goes through the endpoint's destinations like any request (`model_call`);
the request's one usage row sums the loop's tokens and lists every model call and tool call
in its routing entries. A tool that fails goes back to the model as an error result. The
output items and stream events are the Responses API's (`mcp_list_tools`, `mcp_call`,
`mcp_approval_request`, messages, function calls)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from unigate.agent.events import LoopOutput
from unigate.agent.hosted_tools import McpServer, parse_hosted_tools
from unigate.agent.live import LiveParts
from unigate.agent.mcp_client import McpError, McpSession
from unigate.agent.mcp_governance import ToolCall, session_for, visible_tools
from unigate.agent.model_call import call_model, stream_model
from unigate.codecs.openai_responses.response import parts_to_output
from unigate.codecs.openai_responses.response_object import response_object, status_for
from unigate.codecs.openai_responses.tools import custom_tool_names
from unigate.codecs.registry import ClientOptions, WireFormat
from unigate.config import McpServiceConfig
from unigate.errors import GatewayError, InvalidRequest, NotFound, PermissionDenied, RateLimited
from unigate.ir import IRRequest, IRResponse, Message, TextPart, ToolCallPart, ToolChoice, ToolResultPart, ToolSpec
from unigate.ir.usage import Usage
from unigate.server.context import RequestContext
from unigate.server.guard import Target, resolve
from unigate.server.http import AnyResponse, Response, StreamResponse
from unigate.store.responses import (
    OWNER,
    StoredResponse,
    cancel_requested,
    get_response,
    save_response,
)

# Request fields the loop answers itself; the model calls never see them.
_LOOP_FIELDS = ("tools", "input", "max_tool_calls", "background", "store", "stream", "tool_choice",
                "previous_response_id")
MCP_CALL_TIMEOUT = 60.0  # seconds one MCP request may take (within the loop's own budget)
_FUNCTION_NAME = re.compile(r"[^A-Za-z0-9_-]")
DENIED = "The user did not approve this tool call."
log = logging.getLogger("unigate.agent")


@dataclass(slots=True)
class Exposed:
    """An MCP tool as the model sees it: a function, renamed when two servers share a name."""

    server: McpServer
    tool: dict[str, Any]


@dataclass(slots=True)
class Approved:
    request: dict[str, Any]  # the mcp_approval_request item
    approve: bool
    reason: str | None


class AgentLoop:
    def __init__(self, ctx: RequestContext, fmt: WireFormat, body: dict[str, Any], t: Target,
                 previous: StoredResponse | None = None) -> None:
        self.ctx, self.fmt, self.t = ctx, fmt, t
        self.previous_id = previous.response_id if previous else None
        # the conversation as the model sees it: what came before (previous_response_id) and
        # this request's input
        self.conversation = (previous.items + previous.response.get("output", [])) if previous else []
        self.conversation = self.conversation + _as_items(body.get("input"))
        self.body = {**body, "input": self.conversation}
        self.stored = body.get("store") is not False  # the API's default: stored
        self.background = body.get("background") is True
        self.cancelled = False
        self.policy = t.endpoint.agent
        principal = ctx.principal
        assert principal is not None
        self.servers, self.client_tools = parse_hosted_tools(
            body["tools"], self.policy, ctx.state.config.mcp_services,
            lambda name: ctx.state.can_use(principal, name))
        asked = body.get("max_tool_calls")
        if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool) or asked < 0):
            raise InvalidRequest("max_tool_calls: expected a non-negative integer", param="max_tool_calls")
        self.max_calls = self.policy.max_tool_calls if asked is None else min(asked, self.policy.max_tool_calls)
        self.deadline = time.monotonic() + self.policy.timeout
        self.response_id = "resp_" + uuid.uuid4().hex
        self.stem = self.response_id.removeprefix("resp_")
        self.created = int(time.time())
        self.usage = Usage()
        self.used_any = False
        self.calls_made = 0
        self.exposed: dict[str, Exposed] = {}
        self.ir: IRRequest | None = None
        self.status = "completed"
        self.reason: Any = None
        self.error: dict[str, Any] | None = None

    # --- the whole request -------------------------------------------------------------------

    async def run(self) -> AnyResponse:
        ctx = self.ctx
        listed, approvals, kept = self._scan_input(self.body.get("input"))
        stream = self.body.get("stream") is True
        out_stream: StreamResponse | None = None
        if stream:
            out_stream = await ctx.open_stream()
        out = LoopOutput(ctx, out_stream, self._envelope_for)
        self.out = out
        try:
            await out.start()
            await self._list_tools(listed)
            self.ir = self._decode(kept)
            for approval in approvals:
                await self._answer_approval(approval)
            await self._loop()
        except GatewayError as err:
            if out_stream is None:
                raise
            self.status, self.error = "failed", {"code": "server_error", "message": err.message}
            ctx.record.error_code = err.code
        finally:
            if self.used_any:
                ctx.record.usage = self.usage
        if self.stored:
            await self._save(self.status)
        if out_stream is not None:
            await out.finish(self.status)
            return out_stream
        return ctx.json_response(orjson.dumps(self._envelope_for(self.status)))

    # --- background mode ---------------------------------------------------------------------

    async def start_background(self) -> Response:
        """Answer at once with the queued response; the loop runs on in this worker, with its
        own usage row (the request's id + "-bg"), and its result is stored."""
        self.out = LoopOutput(self.ctx, None, self._envelope_for)
        self.status = "queued"
        await self._save("queued")
        queued = self.ctx.json_response(orjson.dumps(self._envelope_for("queued")))
        work = RequestContext(self.ctx.request, self.ctx.state, "responses_background")
        work.request_id = work.record.request_id = f"{self.ctx.request_id}-bg"
        work.principal, work.fmt_name = self.ctx.principal, self.ctx.fmt_name
        for name in ("endpoint_name", "requester", "requester_type", "token_id", "request_tags", "session_id"):
            setattr(work.record, name, getattr(self.ctx.record, name))
        self.ctx = work
        tasks = work.state.background
        task = asyncio.create_task(self._run_background())
        tasks[self.response_id] = task
        task.add_done_callback(lambda _: tasks.pop(self.response_id, None))
        return queued

    async def _run_background(self) -> None:
        ctx = self.ctx
        self.status = "in_progress"
        try:
            await self._save("in_progress")
            listed, approvals, kept = self._scan_input(self.body.get("input"))
            await self._list_tools(listed)
            self.ir = self._decode(kept)
            for approval in approvals:
                await self._answer_approval(approval)
            await self._loop()
            ctx.record.status_code = 200
        except asyncio.CancelledError:
            self.status, self.cancelled = "cancelled", True
            ctx.record.status_code, ctx.record.error_code = 499, "cancelled"
        except GatewayError as err:
            self.status, self.error = "failed", {"code": "server_error", "message": err.message}
            ctx.record.status_code, ctx.record.error_code = err.status, err.code
        except Exception:
            log.exception("background response %s failed", self.response_id)
            self.status, self.error = "failed", {"code": "server_error", "message": "internal error"}
            ctx.record.status_code, ctx.record.error_code = 500, "internal_error"
        finally:
            if self.used_any:
                ctx.record.usage = self.usage
            ctx.mark_first_byte()
            try:
                await asyncio.shield(self._save(self.status))
            finally:
                ctx.finish()

    async def _save(self, status: str) -> None:
        assert self.ctx.principal is not None
        record = StoredResponse(self.response_id, self.t.endpoint.name, self.ctx.principal.name,
                                self.ctx.principal.type, status, self.background, OWNER,
                                _with_ids(self.conversation), self._envelope_for(status))
        await asyncio.to_thread(save_response, self.ctx.state.store, record)

    async def _check_cancel(self) -> None:
        if self.background and await asyncio.to_thread(cancel_requested, self.ctx.state.store, self.response_id):
            raise asyncio.CancelledError

    def _envelope_for(self, status: str) -> dict[str, Any]:
        obj = response_object(
            resp_id=self.response_id, model=self.t.endpoint.name, created=self.created, status=status,
            output=list(self.out.items) if hasattr(self, "out") and status != "queued" else [],
            usage=self.usage if self.used_any and status != "in_progress" else None,
            request=self.ir, reason=self.reason, error=self.error)
        obj["tools"] = self.body.get("tools") or []
        obj["background"], obj["store"] = self.background, self.stored
        obj["previous_response_id"] = self.previous_id
        if self.body.get("max_tool_calls") is not None:
            obj["max_tool_calls"] = self.body["max_tool_calls"]
        return obj

    # --- the client's input: earlier turns of the loop ------------------------------------------

    def _scan_input(self, value: Any) -> tuple[dict[str, list[dict[str, Any]]], list[Approved], Any]:
        """Takes the loop's own items out of `input`: tool lists already shown (not listed again),
        approval requests and the client's answers to them. Earlier `mcp_call` items stay, to
        be rewritten as function calls once the tools' names are known."""
        if not isinstance(value, list):
            return {}, [], value
        listed: dict[str, list[dict[str, Any]]] = {}
        requests: dict[str, dict[str, Any]] = {}
        answers: list[tuple[str, bool, str | None]] = []
        kept: list[Any] = []
        for i, item in enumerate(value):
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "mcp_list_tools":
                tools = item.get("tools")
                if isinstance(item.get("server_label"), str) and isinstance(tools, list) and not item.get("error"):
                    listed[item["server_label"]] = [t for t in tools if isinstance(t, dict)]
            elif kind == "mcp_approval_request":
                if isinstance(item.get("id"), str):
                    requests[item["id"]] = item
            elif kind == "mcp_approval_response":
                rid = item.get("approval_request_id")
                if not isinstance(rid, str) or not isinstance(item.get("approve"), bool):
                    raise InvalidRequest(f"input[{i}]: an mcp_approval_response needs approval_request_id "
                                         "and approve (a boolean)", param=f"input[{i}]")
                answers.append((rid, item["approve"], item.get("reason")))
            else:
                kept.append(item)
        approvals = []
        for rid, approve, reason in answers:
            request = requests.get(rid)
            if request is None:
                raise InvalidRequest(f"mcp_approval_response: no mcp_approval_request '{rid}' in the input "
                                     "(send the conversation's items back with the answer)",
                                     param="input")
            approvals.append(Approved(request, approve, reason if isinstance(reason, str) else None))
        return listed, approvals, kept

    async def _list_tools(self, listed: dict[str, list[dict[str, Any]]]) -> None:
        for server in self.servers:
            if server.service is not None:
                server.session = session_for(self.ctx.state, server.service)
            else:
                server.session = McpSession(self.ctx.state.session, server.url, server.headers,  # type: ignore[arg-type]
                                            self._call_timeout())
            if server.label in listed:  # shown earlier in this conversation: not listed again
                server.tools = _allowed(server, self._visible(server, listed[server.label]))
                continue
            item: dict[str, Any] = {"id": self._item_id("mcpl"), "type": "mcp_list_tools",
                                    "server_label": server.label, "tools": []}
            index = await self.out.open(item)
            await self.out.event("response.mcp_list_tools.in_progress", index)
            started = time.perf_counter()
            try:
                tools = await server.session.list_tools()
            except McpError as e:
                item["error"] = e.message
                self._note_tool(server.label, "tools/list", "error", started)
                await self.out.event("response.mcp_list_tools.failed", index)
            else:
                server.tools = _allowed(server, self._visible(server, tools))
                item["tools"] = [_listed(t) for t in server.tools]
                self._note_tool(server.label, "tools/list", "ok", started)
                await self.out.event("response.mcp_list_tools.completed", index)
            await self.out.close(index)
        self._name_tools()

    def _name_tools(self) -> None:
        taken = {t.get("name") for t in self.client_tools if isinstance(t, dict)}
        for server in self.servers:
            for tool in server.tools:
                name = _FUNCTION_NAME.sub("_", tool["name"])[:64]
                if name in taken or name in self.exposed:
                    name = _FUNCTION_NAME.sub("_", f"{server.label}__{tool['name']}")[:64]
                self.exposed[name] = Exposed(server, tool)

    def _exposed_name(self, label: str, tool_name: str) -> str | None:
        for name, e in self.exposed.items():
            if e.server.label == label and e.tool["name"] == tool_name:
                return name
        return None

    def _decode(self, kept: Any) -> IRRequest:
        body = {k: v for k, v in self.body.items() if k not in _LOOP_FIELDS}
        body["tools"] = self.client_tools
        if self.body.get("tool_choice") is not None and not _is_mcp_choice(self.body["tool_choice"]):
            body["tool_choice"] = self.body["tool_choice"]
        body["input"] = self._rewrite_calls(kept) if isinstance(kept, list) else kept
        ir = self.fmt.decode_request(body, ClientOptions())
        for name, e in self.exposed.items():
            schema = e.tool.get("inputSchema") or e.tool.get("input_schema")
            ir.tools = (ir.tools or []) + [ToolSpec(
                name=name, description=e.tool.get("description"),
                parameters=schema if isinstance(schema, dict) else {"type": "object", "properties": {}})]
        return ir

    def _rewrite_calls(self, items: list[Any]) -> list[Any]:
        """Earlier `mcp_call` items → the function call and output the model made and saw."""
        out: list[Any] = []
        for item in items:
            if not (isinstance(item, dict) and item.get("type") == "mcp_call"):
                out.append(item)
                continue
            name = self._exposed_name(str(item.get("server_label")), str(item.get("name")))
            call_id = str(item.get("id") or self._item_id("call"))
            out.append({"type": "function_call", "call_id": call_id,
                        "name": name or _FUNCTION_NAME.sub("_", str(item.get("name")))[:64],
                        "arguments": item.get("arguments") if isinstance(item.get("arguments"), str) else "{}"})
            result = item.get("output") if item.get("error") is None else f"Error: {_error_text(item['error'])}"
            out.append({"type": "function_call_output", "call_id": call_id,
                        "output": result if isinstance(result, str) else ""})
        return out

    # --- the loop ----------------------------------------------------------------------------

    async def _loop(self) -> None:
        assert self.ir is not None
        ir = self.ir
        while True:
            await self._check_cancel()
            wrap_up = bool(self.exposed) and not self._may_call_tools()
            if wrap_up:
                ir.tool_choice = ToolChoice(mode="none")  # the budget is spent: answer now
            stem = f"{self.stem}_{len(self.out.items)}"
            custom = custom_tool_names(ir.tools)
            if self.out.streaming:  # text reaches the client as the provider sends it
                live = LiveParts(self.out, stem, self.exposed.keys(), custom)
                resp = await stream_model(self.ctx, self.t, self.fmt, ir, live.feed)
                await live.finish()
            else:
                resp = await call_model(self.ctx, self.t, self.fmt, ir)
            self._count(resp)
            ir.messages.append(Message("assistant", list(resp.parts)))
            mcp_calls = [p for p in resp.parts if isinstance(p, ToolCallPart) and p.name in self.exposed]
            client_calls = any(isinstance(p, ToolCallPart) and p.name not in self.exposed for p in resp.parts)
            if not self.out.streaming:
                for item in parts_to_output([p for p in resp.parts if p not in mcp_calls], stem, custom):
                    await self.out.add(item)
            self.status, self.reason = status_for(resp.finish_reason), resp.finish_reason
            if not mcp_calls or wrap_up:  # a model that calls tools anyway is not run again
                return
            results: list[ToolResultPart] = []
            waiting = False
            for call in mcp_calls:
                e = self.exposed[call.name]
                if e.server.needs_approval(e.tool):
                    await self.out.add({"id": self._item_id("mcpr"), "type": "mcp_approval_request",
                                        "server_label": e.server.label, "name": e.tool["name"],
                                        "arguments": call.arguments})
                    waiting = True
                    continue
                results.append(await self._run_call(e, call.id, call.name, call.arguments, None))
            if waiting or client_calls:
                self.status, self.reason = "completed", None
                return  # the client answers the approvals or runs its functions, then sends it all back
            ir.messages.append(Message("tool", results))  # type: ignore[arg-type]

    async def _answer_approval(self, a: Approved) -> None:
        """An approval answered by the client: run the call (or tell the model it was denied),
        as the turn the model made when it asked for it."""
        assert self.ir is not None
        request = a.request
        name = self._exposed_name(str(request.get("server_label")), str(request.get("name")))
        if name is None:
            raise InvalidRequest(f"mcp_approval_request '{request.get('id')}': the server "
                                 f"'{request.get('server_label')}' has no tool '{request.get('name')}' "
                                 "in this request", param="input")
        call_id = "call_" + str(request["id"])
        raw = request.get("arguments")
        arguments = raw if isinstance(raw, str) else "{}"
        self.ir.messages.append(Message("assistant", [ToolCallPart(call_id, name, arguments)]))
        if a.approve:
            result = await self._run_call(self.exposed[name], call_id, name, arguments, str(request["id"]))
        else:
            text = DENIED + (f" Reason: {a.reason}" if a.reason else "")
            result = ToolResultPart(call_id, [TextPart(text)], is_error=True, name=name)
        self.ir.messages.append(Message("tool", [result]))  # type: ignore[list-item]

    async def _run_call(self, e: Exposed, call_id: str, name: str, arguments: str,
                        approval_id: str | None) -> ToolResultPart:
        item: dict[str, Any] = {"id": self._item_id("mcp"), "type": "mcp_call", "server_label": e.server.label,
                                "name": e.tool["name"], "arguments": arguments, "output": None, "error": None,
                                "status": "in_progress"}
        if approval_id is not None:
            item["approval_request_id"] = approval_id
        if self.calls_made >= self.max_calls or not self._may_call_tools():
            text = (f"Not run: this request allows at most {self.max_calls} tool calls, or its time "
                    "or token budget is spent.")
            return ToolResultPart(call_id, [TextPart(text)], is_error=True, name=name)
        self.calls_made += 1
        index = await self.out.open(item)
        await self.out.event("response.mcp_call_arguments.delta", index, delta=arguments)
        await self.out.event("response.mcp_call_arguments.done", index, arguments=arguments)
        await self.out.event("response.mcp_call.in_progress", index)
        started = time.perf_counter()
        text, failed = await self._call_tool(e, arguments, item)
        item["status"] = "failed" if failed else "completed"
        self._note_tool(e.server.label, e.tool["name"], "error" if failed else "ok", started)
        await self.out.event("response.mcp_call.failed" if failed else "response.mcp_call.completed", index)
        await self.out.close(index)
        return ToolResultPart(call_id, [TextPart(text)], is_error=failed, name=name)

    async def _call_tool(self, e: Exposed, arguments: str, item: dict[str, Any]) -> tuple[str, bool]:
        """(what the model reads, whether the call failed); the item gets output or error."""
        try:
            args = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            item["error"] = {"type": "mcp_protocol_error", "code": -32602,
                             "message": "the arguments are not a JSON object"}
            return "Error: the arguments are not a JSON object.", True
        assert e.server.session is not None
        try:
            if e.server.service is not None:
                result = await self._governed_call(e.server.service, e.tool["name"], args)
            else:
                result = await e.server.session.call_tool(e.tool["name"], args)
        except McpError as err:
            item["error"] = err.as_item_error()
            return f"Error: {err.message}", True
        except (PermissionDenied, RateLimited) as err:
            item["error"] = {"type": "http_error", "code": err.status, "message": err.message}
            return f"Error: {err.message}", True
        text = _content_text(result.get("content"))
        if result.get("isError"):
            item["error"] = {"type": "mcp_tool_execution_error", "content": result.get("content") or []}
            return f"Error: {text}", True
        item["output"] = text
        return text, False

    def _visible(self, server: McpServer, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if server.service is None:
            return tools
        assert self.ctx.principal is not None
        return visible_tools(self.ctx.state, self.ctx.principal, server.service.name, tools)

    async def _governed_call(self, service: McpServiceConfig, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        """A registered service's tool: permission, its rate limits, its own usage row."""
        ctx = self.ctx
        assert ctx.principal is not None
        call = ToolCall(ctx.state, ctx.principal, service, tool, args, ctx.record.url, ctx.record.user_agent,
                        ctx.record.endpoint_name, ctx.record.request_id)
        await call.admit()
        return await call.run()  # bounded by the service's timeout

    # --- budgets and bookkeeping ---------------------------------------------------------------

    def _may_call_tools(self) -> bool:
        if self.calls_made >= self.max_calls or time.monotonic() >= self.deadline:
            return False
        limit = self.policy.max_tokens
        return limit is None or (self.usage.total_tokens or 0) < limit

    def _call_timeout(self) -> float:
        return max(1.0, min(MCP_CALL_TIMEOUT, self.deadline - time.monotonic()))

    def _count(self, resp: IRResponse) -> None:
        u = resp.usage
        if u is None:
            return
        self.used_any = True
        total = self.usage
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                     "reasoning_tokens"):
            value = getattr(u, name)
            if value is not None:
                setattr(total, name, (getattr(total, name) or 0) + value)
        total.estimated = total.estimated or u.estimated

    def _note_tool(self, label: str, tool: str, outcome: str, started: float) -> None:
        self.ctx.record.routing.append({
            "mcp_server": label, "tool": tool, "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000.0, 3)})

    def _item_id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex[:24]}"


async def run_agent_loop(ctx: RequestContext, fmt: WireFormat,
                         body: dict[str, Any]) -> AnyResponse:
    background = body.get("background") is True
    if background and body.get("stream") is True:
        raise InvalidRequest("stream and background cannot be used together", param="background")
    if background and body.get("store") is False:
        raise InvalidRequest("background mode needs store: a background response is stored", param="store")
    t = await resolve(ctx, body.get("model"), body=body)
    if t.endpoint.guardrails is not None:  # the loop's model calls and tool results are not checked yet
        raise InvalidRequest(f"endpoint '{t.endpoint.name}' has guardrails: hosted tools (MCP) are not "
                             "available on it; run the tools in the client", param="tools")
    previous = None
    if body.get("previous_response_id") is not None:
        previous = await stored_for(ctx, body["previous_response_id"], "previous_response_id")
        if previous.live_status() in ("queued", "in_progress"):
            raise InvalidRequest(f"previous_response_id: response '{previous.response_id}' has not finished",
                                 param="previous_response_id")
    loop = AgentLoop(ctx, fmt, body, t, previous)
    if background:
        return await loop.start_background()
    return await loop.run()


async def stored_for(ctx: RequestContext, response_id: Any, param: str | None = None) -> StoredResponse:
    """A stored response the caller may see (its own, or any for an administrator): 404 otherwise."""
    found = None
    if isinstance(response_id, str) and response_id:
        found = await asyncio.to_thread(get_response, ctx.state.store, response_id)
    p = ctx.principal
    assert p is not None
    if found is None or not (ctx.state.is_admin(p) or (found.principal, found.principal_type) == (p.name, p.type)):
        raise NotFound(f"no response with id '{response_id}'", param=param)
    return found


def _as_items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise InvalidRequest("input: expected a string or an array of items", param="input")
    return list(value)


def _with_ids(items: list[Any]) -> list[Any]:
    """The items as stored (and listed by input_items): each with an id."""
    out = []
    for n, item in enumerate(items):
        if isinstance(item, dict) and not item.get("id"):
            kind = item.get("type") or "message"
            item = {"id": f"{'msg' if kind == 'message' else 'item'}_{uuid.uuid4().hex[:20]}{n}", **item}
            item.setdefault("type", "message")
        out.append(item)
    return out


def _allowed(server: McpServer, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ok = [t for t in tools if isinstance(t.get("name"), str)]
    return ok if server.allowed is None else [t for t in ok if server.allowed.matches(t)]


def _listed(tool: dict[str, Any]) -> dict[str, Any]:
    """An MCP tool as an `mcp_list_tools` item shows it."""
    schema = tool.get("inputSchema", tool.get("input_schema"))
    return {"name": tool["name"], "description": tool.get("description"),
            "input_schema": schema if isinstance(schema, dict) else {"type": "object"},
            "annotations": tool.get("annotations")}


def _content_text(content: Any) -> str:
    """A tool result's content blocks as text: text blocks as they are, others as JSON."""
    if not isinstance(content, list):
        return ""
    out = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            out.append(block["text"])
        else:
            out.append(orjson.dumps(block).decode())
    return "\n".join(out)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            return error["message"]
        return _content_text(error.get("content"))
    return str(error)


def _is_mcp_choice(choice: Any) -> bool:
    return isinstance(choice, dict) and choice.get("type") == "mcp"
