"""Inference (payload) tables against a running gateway: an opted-in endpoint keeps request
and response bodies (a stream folded into its full response), joinable with usage by
request id; other endpoints keep none; only admins and its managers may read them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import Reply, bearer, call

LOGGED = """
  - name: chat-logged
    destinations: [{provider: openai-main, model: gpt-4o-mini}]
    inference_table: {enabled: true, retention_days: 7}
  - name: claude-logged
    destinations: [{provider: claude, model: claude-haiku-4-5}]
    inference_table: {enabled: true}
settings:"""


@pytest.fixture(scope="module")
def gw(mock_url: str) -> Iterator[Gateway]:
    text = config_yaml(mock_url, refusing_port()).replace("settings:", LOGGED.lstrip("\n"), 1)
    g = start_gateway(text, workers=1)
    yield g
    g.stop()


def chat(gw: Gateway, model: str, content: str, stream: bool = False) -> Reply:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
    return call("POST", gw.base + "/mlflow/v1/chat/completions", body, bearer(gw.token))


def payloads(gw: Gateway, endpoint: str, token: str | None = None, **params: Any) -> Reply:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return call("GET", f"{gw.url}/api/v1/endpoints/{endpoint}/payloads?{query}",
                headers=bearer(token or gw.token))


def wait_payload(gw: Gateway, endpoint: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5  # the writer flushes every half second
    while time.monotonic() < deadline:
        r = payloads(gw, endpoint, request_id=request_id)
        assert r.status == 200, r.body
        if r.json()["payloads"]:
            row: dict[str, Any] = r.json()["payloads"][0]
            return row
        time.sleep(0.2)
    raise AssertionError(f"no payload row for {request_id}")


def test_unary_request_and_response_are_stored(gw: Gateway) -> None:
    r = chat(gw, "chat-logged", "remember the unary prompt")
    assert r.status == 200
    row = wait_payload(gw, "chat-logged", r.headers["x-request-id"])
    assert json.loads(row["request_body"])["messages"][0]["content"] == "remember the unary prompt"
    assert json.loads(row["response_body"]) == r.json()
    assert row["status_code"] == 200 and row["requester"] == "admin" and row["latency_ms"] > 0
    assert row["not_stored_reason"] is None


def test_a_stream_is_stored_folded_into_its_full_response(gw: Gateway) -> None:
    r = chat(gw, "chat-logged", "remember the streamed prompt", stream=True)
    assert r.status == 200 and b"data:" in r.body
    row = wait_payload(gw, "chat-logged", r.headers["x-request-id"])
    folded = json.loads(row["response_body"])
    assert folded["object"] == "chat.completion" and folded["model"] == "chat-logged"
    streamed = "".join(json.loads(line[5:])["choices"][0]["delta"].get("content") or ""
                       for line in r.body.decode().splitlines()
                       if line.startswith("data:") and "[DONE]" not in line
                       and json.loads(line[5:])["choices"])
    assert folded["choices"][0]["message"]["content"] == streamed != ""


def test_a_translated_stream_folds_in_the_clients_format(gw: Gateway) -> None:
    r = chat(gw, "claude-logged", "an anthropic backed stream", stream=True)
    assert r.status == 200
    folded = json.loads(wait_payload(gw, "claude-logged", r.headers["x-request-id"])["response_body"])
    assert folded["object"] == "chat.completion" and folded["choices"][0]["message"]["content"]


def test_payload_rows_join_usage_rows_by_request_id(gw: Gateway) -> None:
    r = chat(gw, "chat-logged", "join me")
    rid = r.headers["x-request-id"]
    wait_payload(gw, "chat-logged", rid)
    deadline = time.monotonic() + 10
    while not (rows := call("GET", f"{gw.url}/api/v1/usage?endpoint=chat-logged&limit=1000",
                            headers=bearer(gw.token)).json()["rows"]) or rid not in {
            x["request_id"] for x in rows}:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_endpoints_without_an_inference_table_keep_no_payloads(gw: Gateway) -> None:
    r = chat(gw, "chat-openai", "not logged")
    assert r.status == 200
    time.sleep(1.0)  # longer than a writer interval
    reply = payloads(gw, "chat-openai")
    assert reply.status == 200 and reply.json()["payloads"] == []


def test_only_admins_and_managers_read_payloads(gw: Gateway) -> None:
    assert call("GET", f"{gw.url}/api/v1/endpoints/chat-logged/payloads").status == 401
    email = "payload-reader@example.com"
    admin = bearer(gw.token)
    call("POST", gw.url + "/api/v1/users", {"email": email}, admin)
    token = call("POST", gw.url + "/api/v1/tokens", {"principal": email}, admin).json()["token"]
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_MANAGE"}]}
    assert call("PUT", gw.url + "/api/v1/endpoints/claude-logged/permissions", acl, admin).status == 200
    deadline = time.monotonic() + 5
    while (r := payloads(gw, "claude-logged", token)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.1)  # token and grant reach the workers within a second
    assert r.status == 200, r.body
    assert payloads(gw, "chat-logged", token).status == 403


def test_bad_parameters_are_400(gw: Gateway) -> None:
    r = payloads(gw, "chat-logged", limit="lots")
    assert r.status == 400 and r.json()["error"]["field"] == "limit"
