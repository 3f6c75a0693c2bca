"""Responses: a whole one (`Response`, status + headers + body in one write) and a streamed
one (`StreamResponse`: chunked, its head sent together with the first piece of body)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from unigate.server.http.protocol import HttpProtocol
    from unigate.server.http.request import Request

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_date: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date
    now = int(time.time())
    if _date[0] != now:  # formatted once a second, not once a request
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def response_head(status: int, headers: Mapping[str, str], keep_alive: bool, framing: str) -> bytes:
    """The status line and header block; `framing` is the Content-Length or
    Transfer-Encoding line."""
    text = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    # each line ends in the one CR LF added here: any other is inside a name or a value
    if text.count("\n") != len(headers) or text.count("\r") != len(headers):
        raise ValueError("a response header holds a line break")
    reason = _REASONS.get(status, "Unknown")
    connection = "" if keep_alive else "Connection: close\r\n"
    return (f"HTTP/1.1 {status} {reason}\r\nDate: {_http_date()}\r\nServer: unigate\r\n"
            f"{connection}{text}{framing}\r\n").encode("utf-8", "surrogateescape")


class Response:
    """A complete response: written in one piece after the handler returns."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, *, body: bytes | None = None, status: int = 200,
                 headers: Mapping[str, str] | None = None, content_type: str | None = None,
                 text: str | None = None, charset: str | None = None) -> None:
        if text is not None:
            charset = charset or "utf-8"
            body = text.encode(charset)
            content_type = content_type or "text/plain"
        self.status = status
        self.body = body or b""
        self.headers: Mapping[str, str] = headers or {}
        if content_type is not None:  # a copy: the caller's mapping (an error's headers) stays as it was
            full = f"{content_type}; charset={charset}" if charset else content_type
            self.headers = {**self.headers, "Content-Type": full}

    def encode(self, request: Request) -> bytes:
        head = response_head(self.status, self.headers, request.keep_alive,
                             f"Content-Length: {len(self.body)}\r\n")
        return head if request.method == "HEAD" else head + self.body


def json_response(data: object, status: int = 200) -> Response:
    return Response(body=orjson.dumps(data), status=status, content_type="application/json")


class StreamResponse:
    """A response written as it is produced: `prepare`, then `write` pieces, then `write_eof`
    (which the server calls itself when the handler returns without it)."""

    __slots__ = ("_chunked", "_head", "_protocol", "finished", "headers", "prepared", "status")

    def __init__(self, *, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.headers: Mapping[str, str] = headers or {}
        self.prepared = False
        self.finished = False
        self._protocol: HttpProtocol | None = None
        self._chunked = True
        self._head = b""

    async def prepare(self, request: Request) -> None:
        """Fix status and headers. They go out with the first body bytes: one write, one
        packet for the first event of a stream."""
        self._protocol = request.protocol
        self._chunked = request.version != "1.0"  # an HTTP/1.0 client reads until the close
        if not self._chunked:
            request.keep_alive = False
        framing = "Transfer-Encoding: chunked\r\n" if self._chunked else ""
        self._head = response_head(self.status, self.headers, request.keep_alive, framing)
        self.prepared = True

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self.finished or self._protocol is None:
            raise RuntimeError("write() outside prepare() ... write_eof()")
        out = b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data
        if self._head:
            out, self._head = self._head + out, b""
        await self._protocol.send(out)

    async def write_eof(self, data: bytes = b"") -> None:
        if self.finished or self._protocol is None:
            return
        self.finished = True
        if self._chunked:
            out = (b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data)) if data else b"0\r\n\r\n"
        else:
            out = data
        out, self._head = self._head + out, b""
        if out:
            await self._protocol.send(out)


# What a handler returns: a whole response, or one it streamed itself.
AnyResponse = Response | StreamResponse
