"""Server-sent events: one incremental decoder (bytes in any split → events) and an encoder.

Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at the end of a
chunk may be the first half of a CRLF), `data` lines join with LF, a blank line dispatches,
lines starting with ':' are comments, a leading space after the colon is dropped. Lines are
split on bytes and decoded whole, so a UTF-8 character split across chunks is safe."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False  # the previous chunk ended in CR: skip a LF that starts this one

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf + chunk if self._buf else chunk
        events: list[SSEEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, lf if lf >= 0 else n)
            if cr >= 0:
                end, nxt = cr, cr + 1
                if nxt < n and buf[nxt] == 10:
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            elif lf >= 0:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buf[start:end], events)
            start = nxt
        self._buf = buf[start:]
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: an unterminated last line counts; a partly built event is dropped,
        as the spec says, unless it has data (upstreams sometimes omit the final blank line)."""
        events: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf, events)
            self._buf = b""
        if self._data:
            self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data or self._event is not None:
                events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data, self._event = [], None
            return
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value


def encode_event(data: str | bytes, event: str | None = None) -> bytes:
    """One event as bytes. `data` must not contain newlines (compact JSON never does)."""
    body = data.encode() if isinstance(data, str) else data
    if event is None:
        return b"data: " + body + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + body + b"\n\n"
