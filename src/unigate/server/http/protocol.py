"""One client connection: bytes in through httptools (llhttp, in C), requests answered one
at a time in the order they came (keep-alive and pipelining), responses out with flow control.

Why not aiohttp's server: around the handler it spends ~38 µs of CPU per request in Python
(request object, router, payload writer, access-log hooks); a protocol over httptools does the
same work in ~11. The handler sees the few things it needs: method, path, query, headers,
the body as it arrives (`Request`), and writes a `Response` or a `StreamResponse`.

What a connection does, step by step: a request's head arrives → a `Request` is made and, if
no other request is being answered, a task answers it (otherwise it waits its turn); body
pieces feed the request's `BodyStream`; when the answer is written, the next waiting request
starts, or the connection idles (closed after `KEEPALIVE` seconds) or closes (`Connection:
close`, HTTP/1.0, shutdown). A client that goes away cancels the task answering it."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from unigate.errors import ClientError, HeadersTooLarge, InternalError, InvalidRequest, UrlTooLong
from unigate.server.http.request import Request
from unigate.server.http.response import StreamResponse, response_head

if TYPE_CHECKING:
    from unigate.server.http.server import HttpServer

log = logging.getLogger("unigate.http")

KEEPALIVE = 75.0  # seconds an idle keep-alive connection stays open (as nginx and aiohttp)
MAX_PENDING = 32  # pipelined requests waiting their turn before reading pauses
LINGER = 10.0  # seconds the unread rest of an answered request's body is read and dropped
REFUSED_LINGER = 2.0  # seconds what comes after a refused head is read and dropped
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Refused(Exception):
    def __init__(self, error: ClientError) -> None:
        self.error = error


class HttpProtocol(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._head_size = 0
        limits = server.app.limits  # read once a connection: the parser callbacks only compare
        self._max_url, self._max_head, self._max_headers = (
            limits.max_url_bytes, limits.max_header_bytes, limits.max_headers)
        # httptools keeps a header line to itself until it is whole: the bytes of a head still
        # arriving are counted here too, so one endless line is cut off rather than buffered
        self._in_head = False
        self._head_bytes = 0
        self._refused = False
        self._max_head_bytes = limits.max_url_bytes + limits.max_header_bytes + 1024  # + the request line
        self._receiving: Request | None = None  # the request whose body is arriving
        self._waiting: deque[Request] = deque()  # pipelined, behind the one being answered
        self._task: asyncio.Task[None] | None = None
        self._lingering: Request | None = None  # answered early; the rest of its body discarded
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._read_paused = False
        self._idle: asyncio.TimerHandle | None = None
        self._closed = False

    # --- the connection -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP transport (uvloop's is not an asyncio.Transport)
        self.peer = transport.get_extra_info("peername")
        self.server.connections.add(self)
        self._idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()
        if self._task is not None:  # the client went away: stop working for it
            self._task.cancel()
        gone = ConnectionResetError("the client closed the connection")
        for request in (self._receiving, *self._waiting):
            if request is not None:
                request.content._fail(gone)
        self._waiting.clear()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(gone)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered and ending (_refuse): nothing more is parsed
        if self._in_head:  # a head begun in an earlier read and not ended yet
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head_bytes:
                self._refuse(HeadersTooLarge(f"the request headers are larger than {self._max_head} bytes"))
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # an Upgrade offer (h2c, websocket): answered as plain HTTP/1.1
        except httptools.HttpParserError as e:
            cause = e.__context__  # what a callback raised, when one did
            if isinstance(cause, _Refused):
                self._refuse(cause.error)
            elif cause is not None:
                log.error("request parsing failed", exc_info=cause)
                self._refuse(None)
            else:
                self._refuse(InvalidRequest(f"malformed HTTP request: {e}"))

    def eof_received(self) -> bool | None:
        return None  # the client is done: close, which cancels what is still answering it

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- flow control for request bodies (BodyStream calls these) -----------------------

    def pause(self) -> None:
        if not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._read_paused and self.transport is not None and len(self._waiting) < MAX_PENDING:
            self._read_paused = False
            self.transport.resume_reading()

    # --- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._in_head = True
        self._head_bytes = 0  # this read's bytes are not counted: at most one read's worth more
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_url:
            raise _Refused(UrlTooLong(f"the request URL is longer than {self._max_url} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        # llhttp hands a long line over in pieces as they arrive: the size is checked on each
        # piece, so an endless header is cut off at the limit, not buffered
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self._max_head:
            raise _Refused(HeadersTooLarge(f"the request headers are larger than {self._max_head} bytes"))
        self._headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        self._in_head = False
        # counted once the head is in, not per line: the size limit above already bounds them
        if len(self._headers) > self._max_headers:
            raise _Refused(HeadersTooLarge(f"the request has more than {self._max_headers} header lines"))
        parser = self._parser
        url = self._url
        if not url.startswith(b"/"):  # absolute form (http://host/path) or '*'
            try:
                path_bytes = httptools.parse_url(url).path or b"/"
            except httptools.HttpParserInvalidURLError:
                raise _Refused(InvalidRequest("malformed request URL")) from None
            query = httptools.parse_url(url).query or b""
        else:
            path_bytes, _, query = url.partition(b"?")
            path_bytes = path_bytes.partition(b"#")[0]
        raw_path = path_bytes.decode("utf-8", "surrogateescape")
        version = parser.get_http_version()
        request = Request(
            self, parser.get_method().decode("ascii"), raw_path, query.decode("utf-8", "surrogateescape"),
            unquote(raw_path) if "%" in raw_path else raw_path,
            CIMultiDictProxy(CIMultiDict(self._headers)), version,
            parser.should_keep_alive() and version == "1.1" and not self.server.closing)
        self._receiving = request
        if self._task is None and self._lingering is None:
            self._start(request)
        else:
            self._waiting.append(request)
            if len(self._waiting) >= MAX_PENDING:
                self.pause()

    def on_body(self, body: bytes) -> None:
        request = self._receiving
        if request is not None and request is not self._lingering:
            request.content._feed(body)

    def on_message_complete(self) -> None:
        request, self._receiving = self._receiving, None
        if request is None:
            return
        request.content._finish()
        if request is self._lingering:  # its answer is out; the connection may go on
            self._lingering = None
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            self._after(request)

    # --- answering ---------------------------------------------------------------------

    def _start(self, request: Request) -> None:
        expect = request.headers.get("Expect")
        if expect is not None and expect.lower() == "100-continue" and self.transport is not None:
            self.transport.write(_CONTINUE)
        self._task = self.loop.create_task(self._answer(request))

    async def _answer(self, request: Request) -> None:
        try:
            response = await self.app.handle(request)
            if isinstance(response, StreamResponse):
                if not response.prepared:
                    await response.prepare(request)
                await response.write_eof()
            elif self.transport is not None and not self._closed:
                self.transport.write(response.encode(request))
        except asyncio.CancelledError:
            return  # the connection is gone (or the server is stopping)
        except (ConnectionError, RuntimeError, ValueError) as e:
            log.warning("response to %s %s not written: %s", request.method, request.path, e)
            self.abort()
            return
        finally:
            self._task = None
        self._after(request)

    def _after(self, request: Request) -> None:
        """The answer to `request` is out: next request, idle, or close."""
        if self._closed or self.transport is None:
            return
        if not request.content._done:
            # Answered before its whole body came (a 413, a 401): read and drop the rest for a
            # while, then go on (or close) as below once it has all come. Closing now, with the
            # body unread, would make the kernel reset the connection, and the client could
            # lose the answer it has not read yet.
            request.content.discard()
            self._lingering = request
            self._idle = self.loop.call_later(LINGER, self._stop_lingering)
            self.resume()
            return
        if not request.keep_alive or self.server.closing:
            self.transport.close()
            return
        if self._waiting:
            self._start(self._waiting.popleft())
            self.resume()
        else:
            self._idle_timer()

    async def send(self, data: bytes) -> None:
        """Write response bytes, waiting while the client is slower than the gateway."""
        if self._closed or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        self.transport.write(data)
        if self._write_paused:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    # --- ending ------------------------------------------------------------------------

    def _stop_lingering(self) -> None:
        if self._lingering is not None and self.transport is not None:
            self.transport.close()

    def _idle_timer(self) -> None:
        if self.server.closing:
            self.close_if_idle()
            return
        self._idle = self.loop.call_later(KEEPALIVE, self.close_if_idle)

    def idle(self) -> bool:
        return self._task is None and self._receiving is None and not self._waiting

    def close_if_idle(self) -> None:
        if self.idle() and self.transport is not None:
            self.transport.close()

    def _refuse(self, error: ClientError | None) -> None:
        """A request that cannot be parsed: answer once if nothing is being answered, close.
        The answer is in the error shape of the API the path names, as far as it came (None:
        a fault of ours, a 500)."""
        if self.transport is None or self._closed:
            return
        if self._task is None:
            path = self._url.partition(b"?")[0].decode("latin-1")
            status, body = self.app.refusal(path, error or InternalError("internal error"))
            # refused while parsing: the gateway's time on it is nil (the header is on every response)
            head = response_head(status, {"Content-Type": "application/json", "x-unigate-overhead-ms": "0.000"},
                                 False, f"Content-Length: {len(body)}\r\n")
            self.transport.write(head + body)
            if not self.transport.can_write_eof():
                self.transport.close()
                return
            # The client may still be sending its head: closing with its bytes unread would
            # reset the connection, and the answer could be lost with it. So: end our side,
            # drop what still comes for a moment, then close.
            self.transport.write_eof()
            self._refused = True
            if self._idle is not None:
                self._idle.cancel()
            self._idle = self.loop.call_later(REFUSED_LINGER, self.abort)
        else:
            self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
