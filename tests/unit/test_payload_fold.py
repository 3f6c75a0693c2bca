"""Payload rows: a real stream of each format (from the faithful mock providers) folds into
the full response the same request gets unary; size limits; the writer's batching."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mocks.server import start_mock_server
from unigate.governance.payloads import (
    MAX_PAYLOAD_BYTES,
    BodyCapture,
    PayloadRecord,
    PayloadWriter,
    fold_stream_to_response,
    payload_row,
)
from unigate.governance.retention import RetentionPurger, inference_table_error, retention_days
from unigate.store.payloads import payload_rows
from unigate.store.sqlite import SQLiteStore

PROMPT = "Tell me about folding streams into one response"


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    url, stop = start_mock_server()
    yield url
    stop()


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=10) as r:
        return bytes(r.read())


# format: (url path, headers, unary body, what the streaming request adds)
CASES: dict[str, tuple[str, dict[str, str], dict[str, Any], dict[str, Any]]] = {
    "openai_chat": ("/v1/chat/completions", {"Authorization": "Bearer sk-mock-openai"},
                    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]},
                    {"stream": True, "stream_options": {"include_usage": True}}),
    "openai_responses": ("/v1/responses", {"Authorization": "Bearer sk-mock-openai"},
                         {"model": "gpt-4o-mini", "input": PROMPT}, {"stream": True}),
    "anthropic": ("/v1/messages", {"x-api-key": "sk-ant-mock", "anthropic-version": "2023-06-01"},
                  {"model": "claude-haiku-4-5", "max_tokens": 200,
                   "messages": [{"role": "user", "content": PROMPT}]}, {"stream": True}),
    "gemini": ("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "mock-gemini-key"},
               {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}, {}),
}


def _text(fmt: str, resp: dict[str, Any]) -> str:
    if fmt == "openai_chat":
        return str(resp["choices"][0]["message"]["content"])
    if fmt == "openai_responses":
        return "".join(c["text"] for item in resp["output"] if item["type"] == "message"
                       for c in item["content"] if c["type"] == "output_text")
    if fmt == "anthropic":
        return "".join(b["text"] for b in resp["content"] if b["type"] == "text")
    return "".join(p.get("text", "") for p in resp["candidates"][0]["content"]["parts"])


def _output_tokens(fmt: str, resp: dict[str, Any]) -> int:
    if fmt == "openai_chat":
        return int(resp["usage"]["completion_tokens"])
    if fmt == "openai_responses":
        return int(resp["usage"]["output_tokens"])
    if fmt == "anthropic":
        return int(resp["usage"]["output_tokens"])
    return int(resp["usageMetadata"]["candidatesTokenCount"])


def _stream(mock: str, fmt: str, sse: bool = True) -> tuple[dict[str, Any], bytes]:
    path, headers, body, streaming = CASES[fmt]
    unary = json.loads(_post(mock + path, body, headers))
    if fmt == "gemini":
        path = path.replace(":generateContent", ":streamGenerateContent") + ("?alt=sse" if sse else "")
    return unary, _post(mock + path, body | streaming, headers)


@pytest.mark.parametrize("fmt", list(CASES))
def test_a_real_stream_folds_into_the_unary_response(mock: str, fmt: str) -> None:
    unary, sse = _stream(mock, fmt)
    assert sse.count(b"data:") > 2  # really a stream of several events
    folded = fold_stream_to_response(fmt, sse, "my-endpoint")
    assert _text(fmt, folded) == _text(fmt, unary) != ""
    assert _output_tokens(fmt, folded) == _output_tokens(fmt, unary)
    key = "modelVersion" if fmt == "gemini" else "model"
    assert folded[key] == "my-endpoint"


def test_a_gemini_json_array_stream_folds_too(mock: str) -> None:
    unary, array = _stream(mock, "gemini", sse=False)
    assert array.lstrip().startswith(b"[")
    assert _text("gemini", fold_stream_to_response("gemini", array, "g")) == _text("gemini", unary)


def test_stream_split_anywhere_is_the_same_record(mock: str) -> None:
    _, sse = _stream(mock, "anthropic")
    record = PayloadRecord("r1", time.time(), "ep", "anthropic", b'{"x": 1}', sse, streaming=True,
                           status_code=200, requester="a@example.com", latency_ms=12.5)
    row = payload_row(record)
    assert row[8] is None  # stored
    assert json.loads(row[7])["type"] == "message"
    assert row[6] == '{"x": 1}'


def test_an_unfoldable_stream_is_stored_as_received() -> None:
    sse = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}\n\n'
    row = payload_row(PayloadRecord("r2", 0.0, "ep", "anthropic", b"{}", sse, streaming=True,
                                    status_code=200))
    assert row[7] == sse.decode()
    assert row[8] is None


def test_payloads_over_10_mib_are_not_stored_and_the_row_says_why() -> None:
    big = b"x" * (MAX_PAYLOAD_BYTES + 1)
    row = payload_row(PayloadRecord("r3", 0.0, "ep", "openai_chat", big, b"{}", status_code=200))
    assert row[6] is None and row[7] is None
    assert "request body of 10485761 bytes exceeds" in row[8]
    capture = BodyCapture()
    for _ in range(11):
        capture.add(b"y" * 1024 * 1024)
    assert capture.data() == b""  # nothing beyond the limit is held in memory
    row = payload_row(PayloadRecord("r4", 0.0, "ep", "openai_chat", b"{}", capture.data(),
                                    streaming=True, status_code=200, response_size=capture.size))
    assert row[7] is None and "response body of 11534336 bytes" in row[8]


def test_writer_batches_rows_off_the_caller_and_drains_on_stop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "u.db")
    store.migrate()
    writer = PayloadWriter(store, interval=60)  # only the final drain writes
    writer.start()
    for i in range(5):
        writer.put(PayloadRecord(f"id{i}", 1000.0 + i, "ep", "openai_chat", b'{"q": 1}',
                                 b'{"a": 2}', status_code=200, requester="u@x"))
    writer.stop()
    rows = payload_rows(store, "ep")
    assert [r["request_id"] for r in rows] == ["id4", "id3", "id2", "id1", "id0"]
    assert rows[0]["response_body"] == '{"a": 2}' and rows[0]["requester"] == "u@x"


def test_retention_purges_rows_older_than_the_endpoints_days(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    store.migrate()
    now = 10 * 86400.0
    writer = PayloadWriter(store, interval=60)
    writer.start()
    for ep in ("short", "keep"):
        writer.put(PayloadRecord(f"{ep}-old", now - 3 * 86400, ep, "x", b"", b"", status_code=200))
        writer.put(PayloadRecord(f"{ep}-new", now - 3600, ep, "x", b"", b"", status_code=200))
    writer.stop()
    days = retention_days({"short": {"inference_table": {"enabled": True, "retention_days": 2}},
                           "keep": {"inference_table": {"enabled": True}}})
    purger = RetentionPurger(store, lambda: days, interval=3600)
    assert purger.maybe_purge(now) == 1
    assert purger.maybe_purge(now + 10) == 0  # not due again within the interval
    assert [r["request_id"] for r in payload_rows(store, "short")] == ["short-new"]
    assert len(payload_rows(store, "keep")) == 2


def test_inference_table_validation_names_the_field() -> None:
    assert inference_table_error({"enabled": True, "retention_days": 30}) is None
    assert "retention_days" in (inference_table_error({"retention_days": 0}) or "")
    assert "enabled" in (inference_table_error({"enabled": "yes"}) or "")
    assert "unknown field" in (inference_table_error({"retain": 3}) or "")
