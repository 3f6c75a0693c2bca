"""The fast path's stream relay: upstream SSE bytes go to the client as they come, cut only at
event boundaries (so the `model` rewrite never sees half a field). Events are parsed only when
they may carry usage, which most do not: a stream costs a few byte scans, not a Python loop
per line."""

from __future__ import annotations

import re
from collections.abc import Callable

from unigate.errors import GatewayError
from unigate.ir.usage import Usage
from unigate.sse import SSEDecoder, SSEEvent

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_ALL_BOUNDARIES = (b"\n\n", b"\r\r", b"\r\n\r\n")
_LF_ONLY = (b"\n\n",)


def _end(data: bytes, boundary: bytes) -> int:
    """Where the last complete event ending in `boundary` ends (0: none)."""
    at = data.rfind(boundary)
    return at + len(boundary) if at >= 0 else 0


def _event_start(data: bytes, lo: int, at: int, lf_only: bool) -> int:
    """Where the event holding position `at` starts: just after the last boundary between lo
    and `at` (lo when there is none). `lf_only`: the data holds no CR, so "\n\n" is the only
    boundary it can have (most providers; each backward search costs a scan)."""
    start = lo
    for boundary in _LF_ONLY if lf_only else _ALL_BOUNDARIES:
        found = data.rfind(boundary, lo, at)
        if found >= 0:
            start = max(start, found + len(boundary))
    return start


# A usage key ("usage", Gemini's "usageMetadata") whose value is not null. OpenAI chat streams
# with include_usage (which the fast path asks for) say `"usage":null` in every chunk: those
# events need no parsing, and the regex skips them in C instead of a Python loop per event.
_REPORTED_USAGE = re.compile(rb'"usage\w*"\s*:(?!\s*null)')


class FastStreamRelay:
    __slots__ = ("_buf", "_error_of", "_rewrite", "_usage_of", "_hide_usage_only", "error", "usage")

    def __init__(self, rewrite: Callable[[bytes], bytes],
                 usage_of: Callable[[SSEEvent], Usage | None],
                 hide_usage_only: Callable[[SSEEvent], bool] | None = None,
                 error_of: Callable[[SSEEvent], GatewayError | None] | None = None) -> None:
        self._buf = b""
        self._rewrite = rewrite
        self._usage_of = usage_of
        # The gateway asked for a usage chunk the client did not ask for: how to know it.
        self._hide_usage_only = hide_usage_only
        self.usage: Usage | None = None
        # The provider's own error event, relayed as it came and remembered for the usage row.
        self._error_of = error_of
        self.error: GatewayError | None = None

    def feed(self, chunk: bytes) -> bytes:
        data = self._buf + chunk if self._buf else chunk
        if b"\r" in data:
            cut = max(_end(data, b"\r\n\r\n"), _end(data, b"\n\n"), _end(data, b"\r\r"))
        else:  # one backward search instead of three
            cut = _end(data, b"\n\n")
        if cut == 0:  # no complete event yet
            self._buf = data
            return b""
        ready, self._buf = data[:cut], data[cut:]
        return self._pass(ready)

    def close(self) -> bytes:
        rest, self._buf = self._buf, b""
        return self._pass(rest) if rest else b""

    def _pass(self, ready: bytes) -> bytes:
        if b'"usage' in ready:
            ready = self._read_usage(ready)
        if self._error_of is not None and self.error is None and b"error" in ready:
            self._read_error(ready)
        return self._rewrite(ready)

    def _read_error(self, ready: bytes) -> None:
        assert self._error_of is not None
        decoder = SSEDecoder()
        for ev in decoder.feed(ready) + decoder.close():
            self.error = self._error_of(ev)  # WireFormat.stream_error parses only likely events
            if self.error is not None:
                return

    def _read_usage(self, ready: bytes) -> bytes:
        """Parses only the events that report usage, found by a regex search from each report
        to the boundaries around it; the events in between are passed on as one slice."""
        kept: list[bytes] = []
        pos = 0  # everything before pos has been handled
        lf_only = b"\r" not in ready
        for m in _REPORTED_USAGE.finditer(ready):
            at = m.start()
            if at < pos:  # a second report inside the event just handled
                continue
            start = _event_start(ready, pos, at, lf_only)
            b = _BOUNDARY.search(ready, at)
            end = b.end() if b is not None else len(ready)
            kept.append(ready[pos:start])
            kept.append(self._event(ready[start:end]))
            pos = end
        if not pos:
            return ready
        kept.append(ready[pos:])
        return b"".join(kept)

    def _event(self, raw: bytes) -> bytes:
        decoder = SSEDecoder()
        for ev in decoder.feed(raw) + decoder.close():
            found = self._usage_of(ev)
            if found is None:
                continue
            if self.usage is None:
                self.usage = Usage()
            self.usage.merge(found)
            if self._hide_usage_only is not None and self._hide_usage_only(ev):
                return b""
        return raw
