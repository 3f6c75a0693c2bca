"""Limits on a request's head against a real `unigate serve`, over raw sockets: a URL, header
lines or a header count over the limit get a 414 or 431 in the error shape of the API the path
names, before any handler (no token needed to be refused), with nothing in the log but the
access line; requests just under the limits are served. The limits are settings (here from
the environment, server.http.limits)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.gateway import Gateway, config_yaml, refusing_port, start_gateway
from tests.integration.rawhttp import Reply, raw_exchange
from unigate.server.http.limits import RequestLimits

DEFAULTS = RequestLimits()
SMALL = RequestLimits(max_url_bytes=1024, max_header_bytes=2048, max_headers=12)
CHAT = b'{"model": "chat-openai", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.fixture(scope="module")
def small(mock_url: str) -> Iterator[Gateway]:
    env = {"UNIGATE_MAX_URL_BYTES": str(SMALL.max_url_bytes), "UNIGATE_MAX_HEADER_BYTES": str(SMALL.max_header_bytes),
           "UNIGATE_MAX_HEADERS": str(SMALL.max_headers)}
    gw = start_gateway(config_yaml(mock_url, refusing_port()), workers=1, env=env)
    yield gw
    gw.stop()


def head(path: str, headers: list[tuple[str, str]], method: str = "GET", body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def many(n: int) -> list[tuple[str, str]]:
    return [(f"x-h{i}", "v") for i in range(n)]


def big(size: int) -> list[tuple[str, str]]:
    return [("x-big", "b" * size)]


def error_of(reply: Reply) -> Any:
    assert reply.headers["content-type"] == "application/json" and reply.headers["connection"] == "close"
    return reply.json()


def openai_fields(b: Any) -> tuple[Any, Any, Any]:
    return b["error"]["type"], b["error"]["code"], b["error"]["message"]


# (path, the error body's kind, code and message, the kind and code expected) for every shape
SHAPES = [
    ("/ai-gateway/anthropic/v1/messages", lambda b: (b["type"], b["error"]["type"], b["error"]["message"]),
     ("error", "invalid_request_error")),
    ("/ai-gateway/gemini/v1beta/models/chat-gemini:generateContent",
     lambda b: (b["error"]["status"], b["error"]["code"], b["error"]["message"]), ("INVALID_ARGUMENT", None)),
    ("/ai-gateway/openai/v1/chat/completions", openai_fields, ("invalid_request_error", None)),
    ("/ai-gateway/mlflow/v1/chat/completions", openai_fields, ("invalid_request_error", None)),
    ("/api/v1/endpoints", lambda b: (b["error"]["code"], None, b["error"]["message"]), (None, None)),
    ("/api/2.0/serving-endpoints", lambda b: (b["error_code"], None, b["message"]), (None, None)),
    ("/somewhere/else", openai_fields, ("invalid_request_error", None)),
]


@pytest.mark.parametrize(("path", "fields", "expected"), SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize(("what", "status", "make"), [
    ("url", 414, lambda path: head(path + "?q=" + "u" * SMALL.max_url_bytes, [])),
    ("header bytes", 431, lambda path: head(path, big(SMALL.max_header_bytes))),
    ("header count", 431, lambda path: head(path, many(SMALL.max_headers + 1))),
])
def test_a_head_over_a_limit_is_refused_in_the_dialects_shape(small: Gateway, path: str, fields: Any,
                                                              expected: tuple[Any, Any], what: str, status: int,
                                                              make: Any) -> None:
    reply = raw_exchange(small.url, [make(path)])
    assert reply.status == status, reply.body
    got = fields(error_of(reply))
    for want, have in zip(expected, got[:2], strict=True):
        if want is not None:
            assert have == want, reply.body
    if path.startswith("/ai-gateway/gemini"):
        assert got[1] == status
    limit = {"url": SMALL.max_url_bytes, "header bytes": SMALL.max_header_bytes,
             "header count": SMALL.max_headers}[what]
    assert str(limit) in got[2], got  # the message says which limit


def test_just_under_the_limits_is_served(small: Gateway) -> None:
    auth = [("Authorization", f"Bearer {small.token}"), ("Content-Type", "application/json"),
            ("Connection", "close")]
    room = SMALL.max_header_bytes - sum(len(k) + len(v) + 4 for k, v in auth) - len("Host127.0.0.1") - 4
    room -= len("x-big") + 4 + len("Content-Length") + 4 + 4
    cases = [
        head("/ai-gateway/openai/v1/chat/completions", auth + many(SMALL.max_headers - len(auth) - 2), "POST", CHAT),
        head("/ai-gateway/openai/v1/chat/completions", auth + big(room), "POST", CHAT),
        head("/ai-gateway/openai/v1/chat/completions?" + "q" * (SMALL.max_url_bytes - 40), auth, "POST", CHAT),
    ]
    for raw in cases:
        reply = raw_exchange(small.url, [raw])
        assert reply.status == 200, reply.body


@pytest.mark.parametrize("attempt", range(5))  # the answer must survive the close with bytes unread
def test_an_endless_header_line_is_cut_off_at_the_limit(small: Gateway, attempt: int) -> None:
    """httptools holds a header line until it ends: the gateway counts the bytes of the head
    as they come and answers once they pass the limits, without waiting for the line's end."""
    start = b"GET /ai-gateway/anthropic/v1/models HTTP/1.1\r\nHost: x\r\nx-endless: "
    reply = raw_exchange(small.url, [start] + [b"e" * 4096] * 256)  # 1 MiB that never ends
    assert reply.status == 431 and error_of(reply)["type"] == "error", reply.body


def test_a_malformed_head_is_a_400_in_the_dialects_shape(small: Gateway) -> None:
    reply = raw_exchange(small.url, [b"GET /ai-gateway/gemini/v1beta/models HTTP/1.1\r\nBad Header\r\n\r\n"])
    assert reply.status == 400
    assert error_of(reply)["error"]["status"] == "INVALID_ARGUMENT"


def test_the_defaults_hold_on_a_gateway_without_settings(gateway: Gateway) -> None:
    path = "/ai-gateway/openai/v1/models"
    assert raw_exchange(gateway.url, [head(path + "?q=" + "u" * DEFAULTS.max_url_bytes, [])]).status == 414
    assert raw_exchange(gateway.url, [head(path, big(DEFAULTS.max_header_bytes))]).status == 431
    assert raw_exchange(gateway.url, [head(path, many(DEFAULTS.max_headers + 1))]).status == 431
    # what real clients send is far under them: a browser's worth of headers and cookies
    reply = raw_exchange(gateway.url, [head(path, [("Connection", "close"), ("Cookie", "c" * 8000), *many(60)])])
    assert reply.status == 401  # through to the route, which wants a token


def test_refusals_leave_no_traceback_in_the_log(small: Gateway, gateway: Gateway) -> None:
    """Run last in this module: after every refusal above."""
    for gw in (small, gateway):
        log = gw.log()
        assert "Traceback" not in log and "request parsing failed" not in log, log[-3000:]
