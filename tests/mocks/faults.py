"""Scriptable faults: how a mock provider misbehaves, and how the answer is delivered under them.

A fault comes either from a directive in the last user text ("MOCK_FAULT:status=429,retry_after=7")
or from the control queue (POST /_mock/faults), consumed one per matching request.
Directive keys (comma-separated, no spaces):
  status=N             answer with the provider's own error body for HTTP N (before any headers)
  retry_after=S        with status: the Retry-After header (and the provider's own hints)
  message=TEXT         with status: replaces the default error message (use _ for spaces)
  hang_before_headers=S  wait S seconds before answering at all
  hang_after_headers=S   send the headers, then wait S seconds before the body
  slow_stream=S        wait S seconds between stream events
  cut_stream=N         close the connection after N stream events (no terminator);
                       unary answers are cut half-way through the body
  stream_error=N       after N events send the provider's in-stream error event and end
  malformed_json       unary: a truncated JSON body; stream: an event whose data is not JSON
  malformed_sse        same as malformed_json for a stream's second event
  reset                reset the TCP connection (RST) instead of answering
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

DIRECTIVE = re.compile(r"MOCK_FAULT:(\S+)")

# Builds the provider's error response: (status, message or None, retry_after or None).
ErrorRenderer = Callable[[int, "str | None", "str | None"], web.Response]


@dataclass
class Fault:
    status: int | None = None
    retry_after: str | None = None
    message: str | None = None
    hang_before_headers: float = 0.0
    hang_after_headers: float = 0.0
    slow_stream: float = 0.0
    cut_stream: int | None = None
    stream_error: int | None = None
    malformed_json: bool = False
    malformed_sse: bool = False
    reset: bool = False


def parse_fault(spec: str) -> Fault:
    """Parse "status=429,retry_after=7" (with or without the MOCK_FAULT: prefix)."""
    spec = spec.strip().removeprefix("MOCK_FAULT:")
    fault = Fault()
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key == "status":
            fault.status = int(value)
        elif key == "retry_after":
            fault.retry_after = value
        elif key == "message":
            fault.message = value.replace("_", " ")
        elif key in ("hang_before_headers", "hang_after_headers", "slow_stream"):
            setattr(fault, key, float(value))
        elif key in ("cut_stream", "stream_error"):
            setattr(fault, key, int(value))
        elif key in ("malformed_json", "malformed_sse", "reset"):
            setattr(fault, key, True)
        else:
            raise ValueError(f"unknown mock fault directive {key!r}")
    return fault


def fault_in_text(text: str) -> Fault | None:
    match = DIRECTIVE.search(text)
    return parse_fault(match.group(1)) if match else None


@dataclass
class _Queued:
    fault: Fault
    path_contains: str


@dataclass
class FaultQueue:
    """FIFO of faults for the next matching requests (lets a test fail only the first attempt)."""

    items: list[_Queued] = field(default_factory=list)

    def add(self, specs: list[str], path_contains: str = "") -> None:
        self.items.extend(_Queued(parse_fault(s), path_contains) for s in specs)

    def take(self, path: str) -> Fault | None:
        for i, item in enumerate(self.items):
            if item.path_contains in path:
                return self.items.pop(i).fault
        return None

    def clear(self) -> None:
        self.items.clear()


def reset_connection(request: web.Request) -> None:
    """Close with SO_LINGER 0 so the kernel sends RST instead of FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class ConnectionDropped(Exception):
    """Raised after the mock closed the connection on purpose; the middleware swallows it."""


async def fault_before_answer(
    request: web.Request, fault: Fault | None, render_error: ErrorRenderer
) -> web.StreamResponse | None:
    """Faults that act before any header: hang, reset, or an error status."""
    if fault is None:
        return None
    if fault.hang_before_headers:
        await asyncio.sleep(fault.hang_before_headers)
    if fault.reset:
        reset_connection(request)
        raise ConnectionDropped()
    if fault.status is not None:
        return render_error(fault.status, fault.message, fault.retry_after)
    return None


async def _close_after(request: web.Request) -> None:
    # close() (not abort) flushes what was written, then FINs: the body is visibly incomplete.
    if request.transport is not None:
        request.transport.close()
    raise ConnectionDropped()


async def send_body(
    request: web.Request,
    status: int,
    body: bytes,
    headers: dict[str, str],
    fault: Fault | None,
    content_type: str = "application/json",
) -> web.StreamResponse:
    """A unary answer, bent by hang_after_headers, cut_stream and malformed_json."""
    fault = fault or Fault()
    if fault.malformed_json or fault.malformed_sse:
        body = body[: max(1, len(body) // 2)]
    if not (fault.hang_after_headers or fault.cut_stream is not None):
        return web.Response(status=status, body=body, headers=headers, content_type=content_type)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = content_type
    response.content_length = len(body)
    await response.prepare(request)
    if fault.hang_after_headers:
        await asyncio.sleep(fault.hang_after_headers)
    if fault.cut_stream is not None:
        await response.write(body[: len(body) // 2])
        await _close_after(request)
    await response.write(body)
    await response.write_eof()
    return response


async def send_stream(
    request: web.Request,
    frames: list[bytes],
    headers: dict[str, str],
    fault: Fault | None,
    error_frame: bytes,
    content_type: str = "text/event-stream; charset=utf-8",
) -> web.StreamResponse:
    """A streamed answer, one frame per event, bent by the stream faults."""
    fault = fault or Fault()
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": content_type})
    await response.prepare(request)
    if fault.hang_after_headers:
        await asyncio.sleep(fault.hang_after_headers)
    for index, frame in enumerate(frames):
        if fault.cut_stream is not None and index >= fault.cut_stream:
            await _close_after(request)
        if fault.stream_error is not None and index >= fault.stream_error:
            await response.write(error_frame)
            break
        if index and fault.slow_stream:
            await asyncio.sleep(fault.slow_stream)
        if index == 1 and (fault.malformed_sse or fault.malformed_json):
            await response.write(_malformed(frame))
            continue
        await response.write(frame)
    await response.write_eof()
    return response


def _malformed(frame: bytes) -> bytes:
    """Keep the SSE framing but truncate the JSON inside the data line."""
    head, sep, rest = frame.partition(b"data: ")
    if not sep:  # a JSON-array stream (Gemini without alt=sse): cut the element
        return frame[: max(1, len(frame) // 2)]
    payload = rest.rstrip(b"\r\n")
    return head + sep + payload[: max(1, len(payload) // 2)] + b"\n\n"


def sse_frame(data: str | bytes, event: str | None = None) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + raw + b"\n\n"
