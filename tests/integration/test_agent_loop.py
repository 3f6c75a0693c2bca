"""The agent loop on `/ai-gateway/{mlflow,openai}/v1/responses` with hosted MCP tools: a real
MCP server (the official `mcp` SDK, tests/mocks/mcp_server.py) on loopback, the mock providers
scripted to call its tools (tests/mocks/mcp_script.py), the official `openai` SDK as client,
over every provider type, unary and streamed, with approvals, limits and failing tools."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.integration.gateway import ADMIN_TOKEN, Gateway, refusing_port, start_gateway
from tests.integration.rawhttp import bearer, call, until_stable

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {  # endpoint → the provider type behind it
    "agent-openai": "openai (Responses)", "agent-chat": "openai_compatible (chat)",
    "agent-anthropic": "anthropic", "agent-gemini": "gemini",
}


@pytest.fixture(scope="module")
def agw(mock_url: str) -> Iterator[Gateway]:
    allow = "agent: {allow_remote_mcp: true, max_tool_calls: 5}"
    gw = start_gateway(f"""
providers:
  - {{name: openai-main, type: openai, base_url: "{mock_url}/v1", api_key: sk-mock-openai}}
  - {{name: compat, type: openai_compatible, base_url: "{mock_url}/compat/v1"}}
  - {{name: claude, type: anthropic, base_url: "{mock_url}", api_key: sk-ant-mock}}
  - {{name: gem, type: gemini, base_url: "{mock_url}", api_key: mock-gemini-key}}
endpoints:
  - {{name: agent-openai, destinations: [{{provider: openai-main, model: gpt-4o-mini}}], {allow}}}
  - {{name: agent-chat, destinations: [{{provider: compat, model: llama-3.1-8b}}], {allow}}}
  - {{name: agent-anthropic, destinations: [{{provider: claude, model: claude-haiku-4-5}}], {allow}}}
  - {{name: agent-gemini, destinations: [{{provider: gem, model: gemini-2.5-flash}}], {allow}}}
  - {{name: agent-closed, destinations: [{{provider: openai-main, model: gpt-4o-mini}}]}}
""", workers=1)
    yield gw
    gw.stop()


def client(gw: Gateway, surface: str = "mlflow/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base}/{surface}", api_key=ADMIN_TOKEN, max_retries=0)


def mcp_tool(url: str, **extra: object) -> dict[str, object]:
    return {"type": "mcp", "server_label": "calc", "server_url": url, "require_approval": "never", **extra}


@pytest.mark.parametrize("endpoint", list(PROVIDERS))
def test_the_loop_lists_calls_and_answers_over_every_provider(agw: Gateway, mcp_url: str, endpoint: str) -> None:
    resp = client(agw).responses.create(
        model=endpoint, input='Please MOCK_MCP_CALL:add{"a":2,"b":3}', tools=[mcp_tool(mcp_url)])
    kinds = [item.type for item in resp.output]
    assert kinds == ["mcp_list_tools", "mcp_call", "message"], kinds
    listed = resp.output[0]
    assert listed.server_label == "calc"
    assert {t.name for t in listed.tools} >= {"add", "echo", "fail", "slow", "chain"}
    call = resp.output[1]
    assert (call.name, json.loads(call.arguments), call.output, call.error) == ("add", {"a": 2, "b": 3}, "SUM=5", None)
    assert resp.output_text == "TOOL_SAID:SUM=5"  # the tool's result reached the model
    assert resp.status == "completed"
    assert resp.usage is not None and resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0


def test_a_chain_of_calls_runs_until_the_model_answers(agw: Gateway, mcp_url: str) -> None:
    resp = client(agw, "openai/v1").responses.create(
        model="agent-anthropic", input="Go: MOCK_MCP_CALL:chain{}", tools=[mcp_tool(mcp_url)])
    calls = [item for item in resp.output if item.type == "mcp_call"]
    assert [c.name for c in calls] == ["chain", "add"]
    assert resp.output_text == "TOOL_SAID:SUM=42"


def test_usage_is_summed_over_the_loop_and_written_once(agw: Gateway, mcp_url: str) -> None:
    one = client(agw).responses.create(model="agent-openai", input="MOCK_MCP_CALL:none_such{}",
                                       tools=[mcp_tool(mcp_url)])
    assert [i.type for i in one.output] == ["mcp_list_tools", "message"]  # no such tool: no call
    loop = client(agw).responses.create(model="agent-openai", input='MOCK_MCP_CALL:echo{"text":"hi"}',
                                        tools=[mcp_tool(mcp_url)])
    assert loop.usage is not None and one.usage is not None
    assert loop.usage.input_tokens > one.usage.input_tokens  # two model calls, the second longer
    rows = wait_usage(agw, loop.id, lambda r: r["endpoint_name"] == "agent-openai"
                      and r["input_tokens"] == loop.usage.input_tokens)  # type: ignore[union-attr]
    routing = rows["routing_information"]
    routing = json.loads(routing) if isinstance(routing, str) else routing
    assert [r.get("provider") or r.get("mcp_server") for r in routing] == ["calc", "openai-main", "calc", "openai-main"]
    assert [r.get("tool") for r in routing if "mcp_server" in r] == ["tools/list", "echo"]


def wait_usage(gw: Gateway, _resp_id: str, match: object) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{gw.url}/api/v1/usage?limit=50",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(req) as r:
            rows = json.load(r)
        rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
        for row in rows:
            if match(row):  # type: ignore[operator]
                return row  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError("no usage row for the loop")


def test_a_failing_tool_goes_back_to_the_model_as_an_error_result(agw: Gateway, mcp_url: str) -> None:
    resp = client(agw).responses.create(model="agent-gemini", input='MOCK_MCP_CALL:fail{"reason":"disk full"}',
                                        tools=[mcp_tool(mcp_url)])
    call = next(i for i in resp.output if i.type == "mcp_call")
    assert call.output is None and call.error is not None
    assert "disk full" in json.dumps(call.model_dump()["error"])
    assert resp.output_text.startswith("TOOL_SAID:Error:") and "disk full" in resp.output_text
    assert resp.status == "completed"


def test_an_unreachable_server_is_an_mcp_list_tools_error_not_a_500(agw: Gateway) -> None:
    dead = f"http://127.0.0.1:{refusing_port()}/mcp"
    resp = client(agw).responses.create(model="agent-openai", input="MOCK_MCP_CALL:add{}", tools=[mcp_tool(dead)])
    listed = resp.output[0]
    assert listed.type == "mcp_list_tools" and listed.error and "unreachable" in listed.error
    assert resp.output_text == "NO_TOOL_CALLED"


def test_approval_is_asked_then_the_approved_call_runs(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    tools = [mcp_tool(mcp_url, require_approval={"never": {"tool_names": ["echo"]}})]
    first = c.responses.create(model="agent-chat", input='MOCK_MCP_CALL:add{"a":1,"b":1}', tools=tools)
    assert [i.type for i in first.output] == ["mcp_list_tools", "mcp_approval_request"]
    request = first.output[1]
    assert request.name == "add" and json.loads(request.arguments) == {"a": 1, "b": 1}
    history = [{"role": "user", "content": 'MOCK_MCP_CALL:add{"a":1,"b":1}'},
               *[i.model_dump(exclude_none=True) for i in first.output],
               {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}]
    second = c.responses.create(model="agent-chat", input=history, tools=tools)  # type: ignore[arg-type]
    kinds = [i.type for i in second.output]
    assert kinds == ["mcp_call", "message"], kinds  # the tools were listed earlier: not again
    assert second.output[0].approval_request_id == request.id and second.output[0].output == "SUM=2"
    assert second.output_text == "TOOL_SAID:SUM=2"


def test_a_denied_call_is_not_run_and_the_model_is_told(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    tools = [mcp_tool(mcp_url, require_approval="always")]
    first = c.responses.create(model="agent-openai", input='MOCK_MCP_CALL:add{"a":1,"b":1}', tools=tools)
    request = first.output[-1]
    assert request.type == "mcp_approval_request"
    history = [{"role": "user", "content": 'MOCK_MCP_CALL:add{"a":1,"b":1}'},
               *[i.model_dump(exclude_none=True) for i in first.output],
               {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False}]
    second = c.responses.create(model="agent-openai", input=history, tools=tools)  # type: ignore[arg-type]
    assert [i.type for i in second.output] == ["message"]
    assert second.output_text.startswith("TOOL_SAID:The user did not approve")


def test_a_client_function_stops_the_loop_and_is_returned(agw: Gateway, mcp_url: str) -> None:
    fn = {"type": "function", "name": "lookup", "description": "Look up a thing.",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}
    resp = client(agw).responses.create(model="agent-anthropic", input='MOCK_MCP_CALL:lookup{"q":"x"}',
                                        tools=[mcp_tool(mcp_url), fn])  # type: ignore[list-item]
    assert [i.type for i in resp.output] == ["mcp_list_tools", "function_call"]
    assert resp.output[1].name == "lookup" and json.loads(resp.output[1].arguments) == {"q": "x"}


def test_max_tool_calls_stops_calling_and_asks_for_an_answer(agw: Gateway, mcp_url: str) -> None:
    resp = client(agw).responses.create(model="agent-openai", input="Go: MOCK_MCP_CALL:chain{}",
                                        tools=[mcp_tool(mcp_url)], max_tool_calls=1)
    assert [i.name for i in resp.output if i.type == "mcp_call"] == ["chain"]
    assert resp.output_text.startswith("TOOL_SAID:CHAINED")  # answered without the second call
    assert resp.max_tool_calls == 1


def test_allowed_tools_limits_what_the_model_sees(agw: Gateway, mcp_url: str) -> None:
    resp = client(agw).responses.create(model="agent-openai", input='MOCK_MCP_CALL:add{"a":1,"b":2}',
                                        tools=[mcp_tool(mcp_url, allowed_tools=["echo"])])
    assert [t.name for t in resp.output[0].tools] == ["echo"]
    assert resp.output_text == "NO_TOOL_CALLED"


@pytest.mark.parametrize("endpoint", list(PROVIDERS))
def test_streamed_loop_events_in_order(agw: Gateway, mcp_url: str, endpoint: str) -> None:
    events = list(client(agw).responses.create(
        model=endpoint, input='MOCK_MCP_CALL:echo{"text":"one two three four"}', tools=[mcp_tool(mcp_url)],
        stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    for expected in ["response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed",
                     "response.mcp_call_arguments.done", "response.mcp_call.in_progress",
                     "response.mcp_call.completed", "response.output_text.delta"]:
        assert expected in kinds, (expected, kinds)
    assert kinds.index("response.mcp_call.completed") < kinds.index("response.output_text.delta")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert [i.type for i in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text == "TOOL_SAID:ECHO=one two three four"
    assert len(deltas) > 1  # streamed from the provider as it came, not in one piece


def test_remote_servers_need_the_endpoints_policy(agw: Gateway, mcp_url: str) -> None:
    with pytest.raises(openai.PermissionDeniedError) as e:
        client(agw).responses.create(model="agent-closed", input="hi", tools=[mcp_tool(mcp_url)])
    assert "allow_remote_mcp" in e.value.message


@pytest.mark.parametrize("body, needle", [
    ({"tools": [{"type": "mcp", "server_label": "nowhere"}]}, "no MCP service named 'nowhere'"),
    ({"tools": [{"type": "uc_connection", "uc_connection": {"name": "svc"}}]}, "no MCP service named 'svc'"),
    ({"stream": True, "background": True}, "stream and background"),
    ({"background": True, "store": False}, "background mode needs store"),
    ({"max_tool_calls": -1}, "max_tool_calls"),
    ({"tools": [{"type": "mcp", "server_label": "x", "server_url": "ftp://h/"}]}, "http:// or https://"),
])
def test_bad_requests_get_a_400_in_the_openai_shape(agw: Gateway, mcp_url: str, body: dict[str, object],
                                                    needle: str) -> None:
    payload = {"model": "agent-openai", "input": "hi", "tools": [mcp_tool(mcp_url)], **body}
    with pytest.raises(openai.BadRequestError) as e:
        client(agw).responses.create(**payload)  # type: ignore[arg-type]
    assert needle in e.value.message


# --- stored responses and background mode --------------------------------------------------------

def test_a_loop_response_is_stored_retrieved_listed_and_deleted(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    resp = c.responses.create(model="agent-openai", input='MOCK_MCP_CALL:add{"a":4,"b":4}', tools=[mcp_tool(mcp_url)])
    assert resp.store is True
    again = c.responses.retrieve(resp.id)
    assert again.id == resp.id and again.output_text == "TOOL_SAID:SUM=8"
    assert [i.type for i in again.output] == ["mcp_list_tools", "mcp_call", "message"]
    items = c.responses.input_items.list(resp.id)
    assert [(i.type, i.role) for i in items.data] == [("message", "user")]
    assert items.data[0].id
    c.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(resp.id)


def test_store_false_keeps_nothing(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    resp = c.responses.create(model="agent-openai", input="MOCK_MCP_CALL:none{}", tools=[mcp_tool(mcp_url)],
                              store=False)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(resp.id)


def test_previous_response_id_carries_the_conversation_and_the_approval(agw: Gateway, mcp_url: str) -> None:
    c = client(agw, "openai/v1")
    tools = [mcp_tool(mcp_url, require_approval="always")]
    first = c.responses.create(model="agent-gemini", input='MOCK_MCP_CALL:add{"a":5,"b":6}', tools=tools)
    request = first.output[-1]
    assert request.type == "mcp_approval_request"
    second = c.responses.create(model="agent-gemini", previous_response_id=first.id, tools=tools, input=[
        {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}])
    assert second.previous_response_id == first.id
    assert [i.type for i in second.output] == ["mcp_call", "message"]
    assert second.output_text == "TOOL_SAID:SUM=11"
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="agent-gemini", previous_response_id="resp_nope", input="hi", tools=tools)


def wait_status(c: openai.OpenAI, response_id: str, done: tuple[str, ...]) -> object:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        resp = c.responses.retrieve(response_id)
        if resp.status in done:
            return resp
        time.sleep(0.1)
    raise AssertionError(f"{response_id} did not reach {done}")


def test_background_answers_queued_and_the_loop_finishes_later(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    queued = c.responses.create(model="agent-anthropic", input='MOCK_MCP_CALL:slow{"seconds":0.5}',
                                tools=[mcp_tool(mcp_url)], background=True)
    assert queued.status == "queued" and queued.background is True and queued.output == []
    done = wait_status(c, queued.id, ("completed", "failed"))
    assert done.status == "completed"  # type: ignore[attr-defined]
    assert done.output_text == "TOOL_SAID:SLEPT"  # type: ignore[attr-defined]
    assert done.usage is not None and done.usage.output_tokens > 0  # type: ignore[attr-defined]
    wait_usage(agw, queued.id, lambda r: str(r["request_id"]).endswith("-bg")
               and r["api_type"] == "responses_background" and (r["output_tokens"] or 0) > 0)


def test_a_background_response_can_be_cancelled(agw: Gateway, mcp_url: str) -> None:
    c = client(agw)
    queued = c.responses.create(model="agent-openai", input='MOCK_MCP_CALL:slow{"seconds":20}',
                                tools=[mcp_tool(mcp_url)], background=True)
    wait_status(c, queued.id, ("in_progress",))
    cancelled = c.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    assert c.responses.retrieve(queued.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        plain = c.responses.create(model="agent-openai", input="MOCK_MCP_CALL:none{}", tools=[mcp_tool(mcp_url)])
        c.responses.cancel(plain.id)


def test_another_user_cannot_see_or_cancel_a_stored_response(agw: Gateway, mcp_url: str) -> None:
    admin = bearer(agw.token)
    call("POST", f"{agw.url}/api/v1/users", {"email": "dave@example.com"}, admin)
    token = str(call("POST", f"{agw.url}/api/v1/tokens", {"principal": "dave@example.com"}, admin).json()["token"])
    acl = {"access_control_list": [{"user_name": "dave@example.com", "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", f"{agw.url}/api/v1/endpoints/agent-openai/permissions", acl, admin).status == 200
    dave = openai.OpenAI(base_url=f"{agw.base}/mlflow/v1", api_key=token, max_retries=0)
    until_stable(lambda: call("GET", f"{agw.base}/mlflow/v1/models", headers=bearer(token)).status == 200)
    mine = client(agw).responses.create(model="agent-openai", input="MOCK_MCP_CALL:none{}", tools=[mcp_tool(mcp_url)])
    for attempt in (lambda: dave.responses.retrieve(mine.id), lambda: dave.responses.cancel(mine.id),
                    lambda: dave.responses.input_items.list(mine.id), lambda: dave.responses.delete(mine.id),
                    lambda: dave.responses.create(model="agent-openai", previous_response_id=mine.id, input="hi",
                                                  tools=[mcp_tool(mcp_url)])):
        with pytest.raises(openai.NotFoundError):
            attempt()
    theirs = dave.responses.create(model="agent-openai", input="MOCK_MCP_CALL:none{}", tools=[mcp_tool(mcp_url)])
    assert dave.responses.retrieve(theirs.id).id == theirs.id
    assert client(agw).responses.retrieve(theirs.id).id == theirs.id  # an administrator sees every one
