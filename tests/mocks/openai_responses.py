"""OpenAI Responses API: POST /v1/responses (OpenAI) and /openai/v1/responses (Azure v1).

Reasoning items come back when `reasoning.effort` is set (not "none"); their summary only when
`reasoning.summary` is set, their `encrypted_content` only when `include` asks for
"reasoning.encrypted_content". Echoed reasoning items must carry content this mock issued.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aiohttp import web

from .agent_script import responses_result_ids, scripted_reply
from .faults import fault_before_answer, send_body, send_stream, sse_frame
from .openai_chat import OpenAIInvalid, text_of
from .openai_flavours import check_auth, error_response, invalid_response, openai_headers, read_json
from .replies import (
    Conversation,
    Reply,
    ToolSpec,
    dated_model,
    reply_to,
    sign,
    split_fixed,
    split_words,
)
from .state import MockState, state_of

ENCRYPTED = "reasoning.encrypted_content"


def encrypt_thought(thought: str) -> str:
    packed = json.dumps({"t": thought, "s": sign(thought, "enc")}).encode()
    return "gAAAAA" + base64.urlsafe_b64encode(packed).decode()


def _verify_encrypted(item: dict[str, Any]) -> None:
    blob = item.get("encrypted_content")
    if blob is None:
        return
    try:
        packed = json.loads(base64.urlsafe_b64decode(str(blob).removeprefix("gAAAAA")))
        valid = packed["s"] == sign(packed["t"], "enc")
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise OpenAIInvalid(f"The encrypted content for item {item.get('id')} could not be "
                            "verified.", None, "invalid_encrypted_content")


def _input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise OpenAIInvalid("Missing required parameter: 'input'.", "input",
                            "missing_required_parameter")
    return raw


def _namespaced(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{the model's name for a namespaced function: (namespace, function)}: the model sees the
    functions of a `namespace` tool (Codex's MCP servers) and calls them with `namespace` set."""
    out: dict[str, tuple[str, str]] = {}
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace":
            for inner in tool.get("tools") or []:
                if inner.get("type") == "function" and inner.get("name"):
                    out[f"{tool.get('name')}__{inner['name']}"] = (str(tool.get("name")), inner["name"])
    return out


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace":
            specs += [ToolSpec(f"{tool.get('name')}__{t['name']}", t.get("parameters") or {})
                      for t in tool.get("tools") or [] if t.get("type") == "function" and t.get("name")]
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") != "function":
            continue  # hosted tools (web_search, …) are accepted and never called
        if not tool.get("name"):
            raise OpenAIInvalid(f"Missing required parameter: 'tools[{i}].name'.",
                                f"tools[{i}].name", "missing_required_parameter")
        specs.append(ToolSpec(tool["name"], tool.get("parameters") or {}))
    return specs


def _trailing_outputs(items: list[dict[str, Any]]) -> str | None:
    texts: list[str] = []
    for item in reversed(items):
        if item.get("type") != "function_call_output":
            break
        texts.insert(0, text_of(item.get("output")))
    return "\n".join(texts) if texts else None


def responses_to_conversation(body: dict[str, Any]) -> Conversation:
    if not body.get("model"):
        raise OpenAIInvalid("Missing required parameter: 'model'.", "model",
                            "missing_required_parameter")
    if body.get("previous_response_id"):
        raise OpenAIInvalid(f"Previous response with id '{body['previous_response_id']}' not "
                            "found.", "previous_response_id", "previous_response_not_found")
    limit = body.get("max_output_tokens")
    if limit is not None and limit < 16:
        raise OpenAIInvalid("Invalid 'max_output_tokens': integer below minimum value. Expected "
                            f"a value >= 16, but got {limit} instead.", "max_output_tokens",
                            "integer_below_min_value")
    items = _input_items(body)
    texts = [str(body.get("instructions") or "")]
    users: list[str] = []
    calls: set[str] = set()
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            texts.append(text_of(item.get("content")))
            if item.get("role") == "user":
                users.append(texts[-1])
        elif kind == "function_call":
            calls.add(str(item.get("call_id")))
        elif kind == "function_call_output":
            if item.get("call_id") not in calls:
                raise OpenAIInvalid("No tool call found for function call output with call_id "
                                    f"{item.get('call_id')}.", "input")
            texts.append(text_of(item.get("output")))
        elif kind == "reasoning":
            _verify_encrypted(item)
    fmt = (body.get("text") or {}).get("format") or {}
    schema: dict[str, Any] | None = {} if fmt.get("type") == "json_object" else None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema") or {"type": "object"}
    choice = body.get("tool_choice")
    effort = (body.get("reasoning") or {}).get("effort")
    return Conversation(
        texts=texts,
        last_user_text=users[-1] if users else "",
        tool_result=_trailing_outputs(items),
        tools=_tools(body),
        tool_choice=choice.get("name", "required") if isinstance(choice, dict) else choice,
        json_schema=schema,
        max_tokens=limit,
        thinking=bool(effort) and effort != "none",
    )


def _usage(reply: Reply) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
            "total_tokens": reply.input_tokens + reply.output_tokens}


def _output_items(reply: Reply, body: dict[str, Any], state: MockState) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.thought is not None:
        reasoning: dict[str, Any] = {"id": state.new_id("rs_", 48), "type": "reasoning",
                                     "summary": []}
        if (body.get("reasoning") or {}).get("summary"):
            reasoning["summary"] = [{"type": "summary_text", "text": reply.thought}]
        if ENCRYPTED in (body.get("include") or []):
            reasoning["encrypted_content"] = encrypt_thought(reply.thought)
        items.append(reasoning)
    if reply.text or not reply.tool_calls:
        status = "incomplete" if reply.finish == "length" else "completed"
        items.append({"id": state.new_id("msg_", 48), "type": "message", "status": status,
                      "role": "assistant",
                      "content": [{"type": "output_text", "annotations": [], "logprobs": [],
                                   "text": reply.text}]})
    namespaced = _namespaced(body)
    for call in reply.tool_calls:
        item = {"id": state.new_id("fc_", 48), "type": "function_call",
                "status": "completed", "arguments": call.arguments_json,
                "call_id": "call_" + call.key, "name": call.name}
        if call.name in namespaced:
            item["namespace"], item["name"] = namespaced[call.name]
        items.append(item)
    return items


def response_object(body: dict[str, Any], ident: str, model: str, status: str,
                    output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {"id": ident, "object": "response", "created_at": int(time.time()), "status": status,
            "background": False, "error": None, "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "model": model,
            "output": output, "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"),
                          "summary": (body.get("reasoning") or {}).get("summary")},
            "service_tier": "default", "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0), "truncation": "disabled", "usage": usage,
            "user": None, "metadata": body.get("metadata") or {}}


class _Events:
    """Numbers events and renders them as `event:`/`data:` SSE frames."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def add(self, kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(self.frames), **fields}
        self.frames.append(sse_frame(json.dumps(data), kind))


def _item_events(events: _Events, index: int, item: dict[str, Any]) -> None:
    at = {"item_id": item["id"], "output_index": index}
    if item["type"] == "reasoning":
        events.add("response.output_item.added", output_index=index,
                   item={**item, "summary": [], "encrypted_content": None})
        for s_index, part in enumerate(item["summary"]):
            empty = {"type": "summary_text", "text": ""}
            events.add("response.reasoning_summary_part.added", **at, summary_index=s_index,
                       part=empty)
            for piece in split_words(part["text"]):
                events.add("response.reasoning_summary_text.delta", **at,
                           summary_index=s_index, delta=piece)
            events.add("response.reasoning_summary_text.done", **at, summary_index=s_index,
                       text=part["text"])
            events.add("response.reasoning_summary_part.done", **at, summary_index=s_index,
                       part=part)
    elif item["type"] == "message":
        events.add("response.output_item.added", output_index=index,
                   item={**item, "status": "in_progress", "content": []})
        part = item["content"][0]
        events.add("response.content_part.added", **at, content_index=0,
                   part={**part, "text": ""})
        for piece in split_words(part["text"]):
            events.add("response.output_text.delta", **at, content_index=0, delta=piece,
                       logprobs=[])
        events.add("response.output_text.done", **at, content_index=0, text=part["text"],
                   logprobs=[])
        events.add("response.content_part.done", **at, content_index=0, part=part)
    else:
        events.add("response.output_item.added", output_index=index,
                   item={**item, "status": "in_progress", "arguments": ""})
        for piece in split_fixed(item["arguments"]):
            events.add("response.function_call_arguments.delta", **at, delta=piece)
        events.add("response.function_call_arguments.done", **at, arguments=item["arguments"])
    events.add("response.output_item.done", output_index=index, item=item)


def response_stream_frames(body: dict[str, Any], ident: str, model: str, reply: Reply,
                           output: list[dict[str, Any]]) -> list[bytes]:
    events = _Events()
    started = response_object(body, ident, model, "in_progress", [], None)
    events.add("response.created", response=started)
    events.add("response.in_progress", response=started)
    for index, item in enumerate(output):
        _item_events(events, index, item)
    status = "incomplete" if reply.finish == "length" else "completed"
    events.add(f"response.{status}",
               response=response_object(body, ident, model, status, output, _usage(reply)))
    return events.frames


def responses_handler(flavour: str) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        if (denied := check_auth(flavour, request, state.keys)) is not None:
            return denied
        try:
            body = await read_json(request)
            conv = responses_to_conversation(body)
        except OpenAIInvalid as exc:
            return invalid_response(flavour, exc)
        fault = state.fault_for(request, conv.last_user_text)

        def render_error(status: int, message: str | None, retry: str | None) -> web.Response:
            return error_response(flavour, status, message, retry)

        if (failed := await fault_before_answer(request, fault, render_error)) is not None:
            return failed
        reply = scripted_reply(conv, responses_result_ids(body)) or reply_to(conv)
        ident = state.new_id("resp_", 48)
        model = dated_model(str(body["model"]), "2024-07-18")
        output = _output_items(reply, body, state)
        headers = openai_headers(state.new_id("req_", 32))
        if body.get("stream"):
            error = {"type": "error", "code": "server_error", "param": None,
                     "message": "The server had an error while processing your request."}
            return await send_stream(request, response_stream_frames(body, ident, model, reply,
                                                                     output),
                                     headers, fault, sse_frame(json.dumps(error), "error"))
        status = "incomplete" if reply.finish == "length" else "completed"
        payload = response_object(body, ident, model, status, output, _usage(reply))
        return await send_body(request, 200, json.dumps(payload).encode(), headers, fault)

    return handle


def add_responses_routes(app: web.Application) -> None:
    app.router.add_post("/v1/responses", responses_handler("openai"))
    app.router.add_post("/openai/v1/responses", responses_handler("azure"))
