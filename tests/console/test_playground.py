"""The playground: chatting through the public model API (OpenAI Chat Completions and Anthropic
Messages, streamed and not), what each kind of caller may pick, an API error shown in the
conversation, and the code panel, whose curl, Python and JavaScript snippets are run for real
against the gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.console.admin import admin, new_user
from tests.console.conftest import shot, sign_in
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call

PREFIX = "MOCK-UPSTREAM-OK: "
# The mock waits this long between stream events, so the browser gets them one by one.
SLOW = "MOCK_FAULT:slow_stream=0.1"

# Records every length the last assistant bubble's text goes through while it streams.
WATCH_LENGTHS = """() => {
  window.pgLengths = [];
  const log = document.querySelector('[role=log]');
  new MutationObserver(() => {
    const texts = log.querySelectorAll('article[aria-label=Assistant] .pg-text');
    if (texts.length) window.pgLengths.push(texts[texts.length - 1].textContent.length);
  }).observe(log, { subtree: true, childList: true, characterData: true });
}"""


def open_playground(page: Page, endpoint: str = "") -> None:
    page.goto(f"/console/#/playground/{endpoint}" if endpoint else "/console/#/playground")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()


def options(page: Page) -> list[str]:
    return page.get_by_label("Endpoint").locator("option").all_text_contents()


def posted(request: Request) -> dict[str, Any]:
    body = request.post_data_json
    assert isinstance(body, dict)
    return body


def last_answer(page: Page) -> Locator:
    return page.get_by_role("article", name="Assistant").last


def send(page: Page, text: str) -> Locator:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    answer = last_answer(page)
    expect(answer.get_by_role("list", name="Answer details")).to_be_visible()
    return answer


def test_a_streamed_openai_answer_arrives_in_pieces(signed_in: Page) -> None:
    page = signed_in
    open_playground(page, "chat-openai")
    assert options(page) == ["chat-anthropic", "chat-openai"]  # not the embeddings endpoint
    expect(page.get_by_label("Endpoint")).to_have_value("chat-openai")
    expect(page.get_by_label("API", exact=True)).to_have_value("openai-chat")
    expect(page.get_by_label("Stream the answer")).to_be_checked()
    page.evaluate(WATCH_LENGTHS)
    with page.expect_response("**/ai-gateway/openai/v1/chat/completions") as reply:
        answer = send(page, f"tell me a story {SLOW}")
    assert reply.value.status == 200
    assert reply.value.headers["content-type"].startswith("text/event-stream")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}tell me a story {SLOW}")
    details = answer.get_by_role("list", name="Answer details")
    expect(details).to_contain_text("First token:")
    expect(details).to_contain_text("Tokens:")  # the usage chunk (stream_options.include_usage)
    expect(details).to_contain_text(f"Request: {reply.value.headers['x-request-id']}")
    expect(details).to_contain_text("Gateway overhead:")
    chunks = int(details.get_by_text("Chunks:").locator("..").inner_text().split(":")[1])
    assert chunks >= 4
    lengths = [n for n in page.evaluate("window.pgLengths") if n]
    assert len(set(lengths)) >= 3, f"the text did not grow piece by piece: {lengths}"
    assert lengths == sorted(lengths)
    expect(page.get_by_role("article", name="You")).to_have_text(f"You{'tell me a story ' + SLOW}")
    answer = send(page, "and a second one, please")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}and a second one, please")
    shot(page, "playground")


def test_the_anthropic_dialect_streams_from_an_anthropic_endpoint(signed_in: Page) -> None:
    page = signed_in
    open_playground(page, "chat-anthropic")
    page.get_by_label("API", exact=True).select_option(label="Anthropic Messages")
    with page.expect_request("**/ai-gateway/anthropic/v1/messages") as sent:
        answer = send(page, "bonjour claude")
    body = posted(sent.value)
    assert body["model"] == "chat-anthropic" and body["stream"] is True and body["max_tokens"] == 1024
    assert body["messages"] == [{"role": "user", "content": "bonjour claude"}]
    response = sent.value.response()
    assert response is not None and response.headers["content-type"].startswith("text/event-stream")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}bonjour claude")
    details = answer.get_by_role("list", name="Answer details")
    expect(details).to_contain_text("First token:")
    expect(details).to_contain_text("Chunks:")
    expect(details).to_contain_text("Tokens:")


def test_an_unstreamed_conversation_carries_the_settings_and_the_turns_so_far(signed_in: Page) -> None:
    page = signed_in
    open_playground(page)
    page.get_by_label("Stream the answer").uncheck()
    page.get_by_label("System prompt").fill("You are terse.")
    page.get_by_label("Temperature").fill("0.5")
    page.get_by_label("Max tokens").fill("64")
    with page.expect_request("**/chat/completions") as first:
        answer = send(page, "first question")
    assert "stream" not in posted(first.value)
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}first question")
    details = answer.get_by_role("list", name="Answer details")
    expect(details).to_contain_text("Answer:")
    expect(details).not_to_contain_text("Chunks")
    expect(details).to_contain_text("Tokens:")
    with page.expect_request("**/chat/completions") as second:
        answer = send(page, "second question")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}second question")
    body = posted(second.value)
    assert body["temperature"] == 0.5 and body["max_tokens"] == 64
    assert body["model"] == "chat-anthropic"  # the first one, no endpoint in the route; in OpenAI's dialect
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": f"{PREFIX}first question"},
        {"role": "user", "content": "second question"},
    ]
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_role("article")).to_have_count(0)


def test_stop_cuts_a_streamed_answer_short_and_keeps_what_came(signed_in: Page) -> None:
    page = signed_in
    open_playground(page, "chat-openai")
    words = " ".join(f"w{i}" for i in range(40))
    page.get_by_label("Message").fill(f"a long one MOCK_FAULT:slow_stream=0.3 {words}")
    page.get_by_role("button", name="Send").click()
    answer = last_answer(page)
    expect(answer.locator(".pg-text")).to_contain_text(PREFIX.strip())
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_contain_text("Stopped: the answer is cut short.")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    partial = str(answer.locator(".pg-text").text_content())
    assert partial.startswith(PREFIX.strip()) and not partial.endswith("w39")
    page.get_by_label("Stream the answer").uncheck()
    with page.expect_request("**/chat/completions") as sent:
        send(page, "go on")
    assert posted(sent.value)["messages"][1] == {"role": "assistant", "content": partial}


def test_a_user_sees_only_the_endpoints_it_may_query(page: Page, gw: Gateway) -> None:
    _, token = new_user(gw, query=("chat-openai",))
    sign_in(page, token)
    open_playground(page, "chat-anthropic")  # not its to pick: the first it may query is chosen
    assert options(page) == ["chat-openai"]
    page.get_by_label("Message").fill("hi from a user")
    page.get_by_label("Message").press("Enter")  # Enter sends (Shift+Enter would start a new line)
    expect(last_answer(page).locator(".pg-text")).to_have_text(f"{PREFIX}hi from a user")


def test_a_rate_limited_request_shows_the_api_error_in_the_conversation(page: Page, gw: Gateway) -> None:
    email, token = new_user(gw, query=("chat-openai",))
    limit = {"rate_limits": [{"key": "user", "principal": email, "requests": 0, "renewal_period": "minute"}]}
    assert admin(gw, "PUT", "/endpoints/chat-openai/rate-limits", limit)[0] == 200
    try:
        wait_until_refused(gw, token)
        sign_in(page, token)
        open_playground(page)
        answer = send(page, "am I allowed?")
        alert = answer.get_by_role("alert")
        expect(alert).to_contain_text("429 rate_limited")
        expect(alert).to_contain_text(f"rate limit exceeded: user '{email}'")
        expect(answer.get_by_role("list", name="Answer details")).to_contain_text("Request:")
        expect(page.get_by_label("Message")).to_have_value("am I allowed?")  # back, to send again
    finally:
        assert admin(gw, "PUT", "/endpoints/chat-openai/rate-limits", {"rate_limits": []})[0] == 200


@pytest.mark.parametrize(("endpoint", "api"), [("chat-openai", "OpenAI Chat Completions"),
                                               ("chat-anthropic", "Anthropic Messages")])
def test_an_error_inside_a_stream_is_shown_under_the_text_that_came(signed_in: Page, endpoint: str, api: str) -> None:
    page = signed_in
    open_playground(page, endpoint)
    page.get_by_label("API", exact=True).select_option(label=api)
    answer = send(page, "one two three four five MOCK_FAULT:stream_error=5")
    expect(answer.get_by_role("alert")).to_contain_text("in the stream")
    expect(answer.locator(".pg-text")).to_contain_text(PREFIX.strip())
    expect(page.get_by_label("Message")).to_have_value("one two three four five MOCK_FAULT:stream_error=5")


def wait_until_refused(gw: Gateway, token: str) -> None:
    body = {"model": "chat-openai", "messages": [{"role": "user", "content": "x"}]}
    deadline = time.monotonic() + 10
    while call("POST", f"{gw.url}/ai-gateway/openai/v1/chat/completions", body, bearer(token)).status != 429:
        assert time.monotonic() < deadline, "the rate limit never applied"
        time.sleep(0.1)


# --- the code panel --------------------------------------------------------------------------

def snippet(page: Page, tab: str) -> str:
    dialog = page.get_by_role("dialog", name="Code for this request")
    dialog.get_by_role("tab", name=tab, exact=True).click()
    return str(dialog.locator("pre code").text_content())


def run(argv: list[str], gw: Gateway) -> str:
    env = {**os.environ, "UNIGATE_TOKEN": gw.token}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_file(suffix: str, code: str, argv: list[str], gw: Gateway) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"snippet{suffix}"
        path.write_text(code)
        return run([*argv, str(path)], gw)


def sse_text(output: str, dialect: str) -> str:
    """The text deltas of a raw SSE stream curl printed."""
    parts = []
    for line in output.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event: dict[str, Any] = json.loads(line[6:])
        if dialect == "openai" and event.get("choices"):
            parts.append(event["choices"][0]["delta"].get("content") or "")
        if dialect == "anthropic" and event.get("type") == "content_block_delta":
            parts.append(event["delta"].get("text", ""))
    return "".join(parts)


def start_conversation(page: Page, endpoint: str, api: str, stream: bool) -> None:
    open_playground(page, endpoint)
    page.get_by_label("API", exact=True).select_option(label=api)
    page.get_by_label("System prompt").fill("You are terse, and 'quoted'.")
    if not stream:
        page.get_by_label("Stream the answer").uncheck()
    page.get_by_label("Temperature").fill("0.2")
    answer = send(page, "what's first?")
    expect(answer.locator(".pg-text")).to_have_text(f"{PREFIX}what's first?")
    page.get_by_label("Message").fill('and "next"?')
    page.get_by_role("button", name="Code").click()


def test_the_openai_code_runs_as_curl_python_and_javascript(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    start_conversation(page, "chat-openai", "OpenAI Chat Completions", stream=True)
    curl = snippet(page, "curl")
    assert "/ai-gateway/openai/v1/chat/completions" in curl and '"model": "chat-openai"' in curl
    for text in ("You are terse, and 'quoted'.", "what's first?", f"{PREFIX}what's first?", 'and \\"next\\"?'):
        assert text in curl
    assert '"temperature": 0.2' in curl and '"stream": true' in curl and "$UNIGATE_TOKEN" in curl
    assert gw.token not in curl
    shot(page, "playground-code")
    assert sse_text(run(["bash", "-c", curl], gw), "openai") == f'{PREFIX}and "next"?'
    python = snippet(page, "Python")
    assert 'base_url="' + gw.url + '/ai-gateway/openai/v1"' in python and gw.token not in python
    assert f'{PREFIX}and "next"?' in run_file(".py", python, [sys.executable], gw)
    javascript = snippet(page, "JavaScript")
    assert gw.token not in javascript
    assert f'{PREFIX}and "next"?' in run_file(".mjs", javascript, ["node"], gw)


def test_the_anthropic_code_runs_unstreamed_as_curl_python_and_javascript(signed_in: Page, gw: Gateway) -> None:
    page = signed_in
    start_conversation(page, "chat-anthropic", "Anthropic Messages", stream=False)
    curl = snippet(page, "curl")
    assert "/ai-gateway/anthropic/v1/messages" in curl and '"model": "chat-anthropic"' in curl
    assert '"system": "You are terse, and \'quoted\'."' in curl and '"stream"' not in curl
    assert "x-api-key: $UNIGATE_TOKEN" in curl and gw.token not in curl
    answer = json.loads(run(["bash", "-c", curl], gw))
    assert answer["content"][0]["text"] == f'{PREFIX}and "next"?'
    python = snippet(page, "Python")
    assert "anthropic.Anthropic(base_url=" in python and gw.token not in python
    assert f'{PREFIX}and "next"?' in run_file(".py", python, [sys.executable], gw)
    javascript = snippet(page, "JavaScript")
    assert f'{PREFIX}and "next"?' in run_file(".mjs", javascript, ["node"], gw)


@pytest.mark.parametrize("stream", [True, False])
def test_the_responses_dialect_answers_and_its_code_runs(signed_in: Page, gw: Gateway, stream: bool) -> None:
    page = signed_in
    start_conversation(page, "chat-openai", "OpenAI Responses", stream=stream)
    python = snippet(page, "Python")
    assert "client.responses.create(" in python and gw.token not in python
    assert f'{PREFIX}and "next"?' in run_file(".py", python, [sys.executable], gw)
