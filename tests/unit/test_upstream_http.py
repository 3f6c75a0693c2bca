"""The provider-side HTTP client against a scripted server on loopback: each test says byte
for byte what the "provider" answers, so framing, reuse and failure are all exercised."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trustme

from unigate.server.http.body import HIGH_WATER
from unigate.server.upstream_http import UpstreamClient, UpstreamConnectionError

# (the request bytes as received, the server's writer) -> awaitable; one call per request
Script = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


class ScriptedServer:
    """Reads one request at a time (head and Content-Length body) and lets the script answer."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1/chat"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await self.script(request, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(body: bytes, *headers: str, status: str = "200 OK") -> Script:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n" + "".join(h + "\r\n" for h in headers)
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
    return script


async def test_keeps_the_connection_for_the_next_request() -> None:
    async with ScriptedServer(answer(b'{"ok":true}', "Content-Type: application/json; charset=utf-8")) as srv:
        client = UpstreamClient()
        for _ in range(3):
            resp = await client.post(srv.url, b'{"q":1}', {"Authorization": "Bearer k"})
            assert (resp.status, resp.content_type) == (200, "application/json")
            assert await resp.read() == b'{"ok":true}'
            resp.close()
        assert srv.connections == 1
        request = srv.requests[0]
        assert request.startswith(b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nAuthorization: Bearer k\r\n" in request
        assert b"\r\nContent-Length: 7\r\n\r\n{\"q\":1}" in request
        assert client.stats() == (0, 1)
        await client.close()


async def test_chunked_stream_arrives_as_it_is_sent() -> None:
    release = asyncio.Event()

    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"7\r\ndata: 1\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert resp.content_type == "text/event-stream"
        assert await resp.readany(5) == b"data: 1"  # before the rest was even written
        release.set()
        assert await resp.readany(5) == b"data: 2"
        assert await resp.readany(5) == b""
        resp.close()
        assert client.stats() == (0, 1)
        await client.close()


async def test_a_body_that_ends_with_the_connection() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\ndata: b\n\n")
        await writer.drain()
        writer.close()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert await resp.read() == b"data: a\n\ndata: b\n\n"
        resp.close()
        assert client.stats() == (0, 0)  # not kept: it is closed
        await client.close()


async def test_gzip_is_offered_and_undone() -> None:
    body = b'{"text":"' + b"x" * 5000 + b'"}'
    async with ScriptedServer(answer(gzip.compress(body), "Content-Encoding: gzip")) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert await resp.read() == body
        resp.close()
        assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in srv.requests[0]
        await client.close()


async def test_interim_responses_are_skipped() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                     b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert (resp.status, resp.headers.get("retry-after")) == (429, "7")
        assert "Link" not in resp.headers
        assert await resp.read() == b"{}"
        resp.close()
        await client.close()


async def test_a_kept_connection_closed_by_the_provider_is_not_used() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # keep-alive was implied, but the provider closes right after

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        for _ in range(3):
            resp = await client.post(srv.url, b"{}", {})
            assert await resp.read() == b"ok"
            resp.close()
            await asyncio.sleep(0.05)  # the close reaches the client while it is idle
        assert srv.connections == 3 and len(srv.requests) == 3
        await client.close()


async def test_a_close_after_the_request_went_out_is_an_error_not_a_second_try() -> None:
    calls = 0

    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second request on the first connection: closed unanswered
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert await resp.read() == b"ok"
        resp.close()
        # the provider read the request, then closed: it may have acted on it
        with pytest.raises(UpstreamConnectionError, match="closed the connection"):
            await client.post(srv.url, b"{}", {})
        assert (srv.connections, len(srv.requests)) == (1, 2)
        resp = await client.post(srv.url, b"{}", {})  # the next one gets a new connection
        assert await resp.read() == b"ok"
        resp.close()
        assert srv.connections == 2
        await client.close()


async def test_a_fresh_connection_closed_unanswered_is_an_error_not_a_retry() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        with pytest.raises(UpstreamConnectionError, match="closed the connection"):
            await client.post(srv.url, b"{}", {})
        assert len(srv.requests) == 1
        assert client.stats() == (0, 0)
        await client.close()


async def test_a_body_cut_short_is_an_error() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        with pytest.raises(UpstreamConnectionError):
            await resp.read()
        resp.close()
        assert client.stats() == (0, 0)
        await client.close()


async def test_invalid_http_is_an_error() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        with pytest.raises(UpstreamConnectionError, match="invalid HTTP"):
            await client.post(srv.url, b"{}", {})
        await client.close()


async def test_read_timeout_and_an_abandoned_body_drops_the_connection() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
        await writer.drain()
        await asyncio.sleep(10)

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        assert await resp.readany(1) == b"a"
        with pytest.raises(TimeoutError):
            await resp.readany(0.05)
        resp.close()  # the rest was never read: the connection cannot be reused
        assert client.stats() == (0, 0)
        await client.close()


async def test_reading_pauses_while_the_gateway_has_not_passed_the_body_on() -> None:
    payload = b"y" * (4 * HIGH_WATER)

    async with ScriptedServer(answer(payload)) as srv:
        client = UpstreamClient()
        resp = await client.post(srv.url, b"{}", {})
        await asyncio.sleep(0.2)
        conn = resp._conn
        assert conn is not None and conn._paused  # the socket is left to fill, not memory
        assert resp._buffered <= HIGH_WATER + 256 * 1024
        assert await resp.read() == payload
        resp.close()
        await client.close()


async def test_the_per_origin_limit_makes_requests_wait_their_turn() -> None:
    gate = asyncio.Event()

    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        await gate.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient(per_origin_limit=2)

        async def one() -> bytes:
            resp = await client.post(srv.url, b"{}", {})
            try:
                return await resp.read()
            finally:
                resp.close()

        tasks = [asyncio.create_task(one()) for _ in range(5)]
        await asyncio.sleep(0.1)
        assert srv.connections == 2
        gate.set()
        assert await asyncio.gather(*tasks) == [b"ok"] * 5
        assert srv.connections == 2
        await client.close()


async def test_a_cancelled_wait_gives_its_turn_away() -> None:
    gate = asyncio.Event()

    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        await gate.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient(per_origin_limit=1)
        first = asyncio.create_task(client.post(srv.url, b"{}", {}))
        second = asyncio.create_task(client.post(srv.url, b"{}", {}))
        await asyncio.sleep(0.05)
        second.cancel()
        gate.set()
        resp = await first
        assert await resp.read() == b"ok"
        resp.close()
        with pytest.raises(asyncio.CancelledError):
            await second
        resp = await client.post(srv.url, b"{}", {})  # the slot is free again
        assert await resp.read() == b"ok"
        resp.close()
        await client.close()


async def test_header_injection_and_refused_connections_are_errors() -> None:
    client = UpstreamClient()
    with pytest.raises(UpstreamConnectionError, match="line break"):
        await client.post("http://127.0.0.1:9/x", b"{}", {"X-Bad": "a\r\nX-Injected: 1"})
    with pytest.raises(UpstreamConnectionError, match="cannot connect to 127.0.0.1:9"):
        await client.post("http://127.0.0.1:9/x", b"{}", {})
    with pytest.raises(UpstreamConnectionError, match="not an http"):
        await client.post("ftp://127.0.0.1/x", b"{}", {})
    await client.close()


async def test_oversized_response_headers_are_refused() -> None:
    async def script(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"z" * 70000 + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with ScriptedServer(script) as srv:
        client = UpstreamClient()
        with pytest.raises(UpstreamConnectionError):
            await client.post(srv.url, b"{}", {})
        await client.close()


async def test_tls_verifies_the_provider_certificate() -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    async with ScriptedServer(answer(b"secure"), tls=server_tls) as srv:
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        client = UpstreamClient(tls=trusting)
        for _ in range(2):
            resp = await client.post(srv.url, b"{}", {})
            assert await resp.read() == b"secure"
            resp.close()
        assert srv.connections == 1
        await client.close()
        stranger = UpstreamClient()  # the system's trust store does not know this CA
        with pytest.raises(UpstreamConnectionError, match="TLS with 127.0.0.1"):
            await stranger.post(srv.url, b"{}", {})
        await stranger.close()
