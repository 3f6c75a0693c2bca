"""The gateway's own HTTP/1.1 server, driven over a real loopback socket with raw bytes:
framing, keep-alive and pipelining, bodies, limits, early answers, disconnects, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from unigate.server.http import Application, HttpServer, Request, Response, StreamResponse
from unigate.server.http.body import HIGH_WATER

events: list[str] = []


async def echo(request: Request) -> Response:
    body = await request.read()
    text = (f"{request.method} {request.path} q={dict(request.query)} "
            f"len={len(body)} ua={request.headers.get('user-agent')}")
    return Response(text=text)


async def item(request: Request) -> Response:
    return Response(text=f"item={request.match_info['name']}")


async def stream(request: Request) -> StreamResponse:
    out = StreamResponse(headers={"Content-Type": "text/event-stream"})
    await out.prepare(request)
    for i in range(3):
        await out.write(b"data: %d\n\n" % i)
    return out


async def slow(request: Request) -> Response:
    try:
        await asyncio.sleep(float(request.query.get("s", "0.3")))
    except asyncio.CancelledError:
        events.append("cancelled")
        raise
    events.append("slow done")
    return Response(text="slow")


async def refuse(request: Request) -> Response:
    return Response(text="no", status=401)  # without reading the body


async def boom(request: Request) -> Response:
    raise KeyError("secret detail")


async def big(request: Request) -> StreamResponse:
    out = StreamResponse()
    await out.prepare(request)
    for _ in range(512):
        await out.write(b"x" * 65536)
    events.append("big done")
    return out


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    events.clear()
    app = Application(max_body_bytes=1000)
    r = app.router
    r.add_post("/echo", echo)
    r.add_get("/echo", echo)
    r.add_get("/items/{name}", item)
    r.add_get("/stream", stream)
    r.add_get("/slow", slow)
    r.add_post("/refuse", refuse)
    r.add_get("/boom", boom)
    r.add_get("/big", big)
    srv = HttpServer(app)
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.shutdown(0.5)


async def connect(srv: HttpServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def test_keep_alive_and_pipelined_requests_answer_in_order(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /slow?s=0.1 HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"POST /echo?a=1&a=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 b"GET /items/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_response(reader))[2] == b"slow"
    status, headers, body = await read_response(reader)
    assert status == 200 and body == b"POST /echo q={'a': '1'} len=5 ua=None"
    assert headers["content-type"] == "text/plain; charset=utf-8" and "date" in headers
    assert (await read_response(reader))[2] == b"item=a/b"  # an encoded slash stays in the segment
    writer.close()


async def test_a_chunked_request_body_is_read_whole(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 200 and body.endswith(b"len=7 ua=None")
    writer.close()


async def test_expect_100_continue_is_answered(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"ok")
    assert (await read_response(reader))[2].endswith(b"len=2 ua=None")
    writer.close()


async def test_a_stream_is_chunked_and_http_1_0_gets_it_close_delimited(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    writer.close()
    reader, writer = await connect(server)
    writer.write(b"GET /stream HTTP/1.0\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert "transfer-encoding" not in headers and headers["connection"] == "close"
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_head_gets_headers_only(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /items/z HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: " in head
    assert (await read_response(reader))[2] == b"item=z"  # nothing of the HEAD body came between
    writer.close()


@pytest.mark.parametrize(("raw", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n", 431),
])
async def test_malformed_or_oversized_heads_get_a_json_error_and_a_close(server: HttpServer, raw: bytes,
                                                                           status: int) -> None:
    reader, writer = await connect(server)
    writer.write(raw)
    got, headers, body = await read_response(reader)
    assert got == status and headers["connection"] == "close"
    assert body.startswith(b'{"error":{"message":')
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_unknown_route_is_404_and_a_handler_error_is_a_500_without_details(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_response(reader))[0] == 404
    status, _, body = await read_response(reader)
    assert status == 500 and b"secret" not in body
    writer.write(b"GET /items/q HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection still serves
    assert (await read_response(reader))[2] == b"item=q"
    writer.close()


async def test_an_early_answer_drains_the_unread_body_and_keeps_the_connection(server: HttpServer) -> None:
    reader, writer = await connect(server)
    body = b"z" * (3 * HIGH_WATER)
    writer.write(b"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    writer.write(body[:1000])
    assert (await read_response(reader))[0] == 401  # answered before the body is in
    writer.write(body[1000:] + b"GET /items/after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_response(reader))[2] == b"item=after"
    writer.close()


async def test_a_body_over_the_limit_is_413(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n" + b"q" * 1001)
    status, _, body = await read_response(reader)
    assert status == 413 and b"exceeds the limit of 1000 bytes" in body  # the generic shape
    writer.close()


async def test_a_client_that_goes_away_cancels_its_handler(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /slow?s=5 HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.1)
    writer.close()
    for _ in range(50):
        if events:
            break
        await asyncio.sleep(0.02)
    assert events == ["cancelled"]


async def test_a_slow_reader_holds_the_writer_back(server: HttpServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.3)
    assert "big done" not in events  # 32 MiB do not fit the socket buffers: the handler waits
    status, _, body = await read_response(reader)
    assert status == 200 and len(body) == 512 * 65536 and events == ["big done"]
    writer.close()


async def test_shutdown_lets_a_request_in_flight_finish_and_closes_idle_connections(server: HttpServer) -> None:
    port = server.port
    idle_reader, idle_writer = await connect(server)
    reader, writer = await connect(server)
    writer.write(b"GET /slow?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    await server.shutdown(5.0)
    status, headers, body = await read_response(reader)
    assert (status, body) == (200, b"slow")
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
