"""Output guardrails on a stream: events are held back until enough text has arrived to be
checked, then released, edited (masked, placeholders restored) or not at all (blocked).

The held text is checked once it reaches `window + margin` characters, and only the first
`window` (or more) are released: the last `margin` characters stay for the next check, so a
value split across deltas (an email in three pieces, a keyword, a placeholder) is always seen
whole before any of it leaves. An edit never straddles the release point: the point moves back
to the edit's start. Nothing goes out before the first check passes (the stream's first event
included), so a stream blocked in its first window can still be refused with an error status.
Events without text (reasoning, tool calls) pass once no text is held before them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from unigate.guardrails.edits import Edit, edited_slice
from unigate.ir import Start, StreamEvent, TextDelta

# (held text, final) -> the edits to make in it; raises GuardrailBlocked to stop the stream
CheckText = Callable[[str, bool], Awaitable[list[Edit]]]


class StreamWindow:
    def __init__(self, check: CheckText, window: int, margin: int, whole: bool = False) -> None:
        self._check = check
        self._window = window
        self._margin = margin
        self._whole = whole  # hold everything to the end (an enforcing judge reads the whole answer)
        self._held: list[StreamEvent] = []
        self._chars = 0  # text characters held (counted as events come: no rebuild per delta)
        self.started = False  # the Start event has been released

    async def feed(self, events: list[StreamEvent], last: bool) -> list[StreamEvent]:
        """What may go to the client now; `last`: the provider's stream has ended."""
        self._held.extend(events)
        for e in events:
            if isinstance(e, TextDelta):
                self._chars += len(e.text)
        if last:
            return await self._release(final=True)
        if self._whole:
            return []
        if not self._chars:  # nothing to check yet: pass what came, but keep a lone Start back
            if any(not isinstance(e, Start) for e in self._held):
                return self._take(len(self._held))
            return []
        if self._chars < self._window + self._margin:
            return []
        return await self._release(final=False)

    def held_start(self) -> Start | None:
        """The Start event, if it has not gone out (a stream blocked before its first release)."""
        for e in self._held:
            if isinstance(e, Start):
                return e
        return None

    def _take(self, n: int) -> list[StreamEvent]:
        out, self._held = self._held[:n], self._held[n:]
        if any(isinstance(e, Start) for e in out):
            self.started = True
        return out

    def _text(self) -> tuple[str, list[tuple[int, int, int]]]:
        """The held text (deltas of different parts apart by a line break) and, per text event,
        (position in the held list, start, end) in it."""
        pieces: list[str] = []
        segments: list[tuple[int, int, int]] = []
        at, index = 0, None
        for i, e in enumerate(self._held):
            if isinstance(e, TextDelta) and e.text:
                if index is not None and e.index != index:
                    pieces.append("\n")
                    at += 1
                index = e.index
                pieces.append(e.text)
                segments.append((i, at, at + len(e.text)))
                at += len(e.text)
        return "".join(pieces), segments

    async def _release(self, final: bool) -> list[StreamEvent]:
        text, segments = self._text()
        edits = await self._check(text, final) if text else []
        cut = len(text) if final else len(text) - self._margin
        for start, end, _ in edits:
            if start < cut < end:
                cut = start
        by_position = {i: (a, b) for i, a, b in segments}
        out: list[StreamEvent] = []
        rest: list[StreamEvent] = []
        offset = 0  # where in the held text the events so far have reached
        for i, e in enumerate(self._held):
            if rest:
                rest.append(e)
                continue
            span = by_position.get(i)
            if span is None:  # an event without text (or an empty delta): goes when reached
                if offset <= cut:
                    out.append(e)
                else:
                    rest.append(e)
                continue
            a, b = span
            assert isinstance(e, TextDelta)
            if b <= cut:
                out.append(TextDelta(e.index, edited_slice(text, a, b, edits), e.meta))
                offset = b
            elif a >= cut:
                rest.append(e)
            else:  # split: the checked part goes, the rest waits for the next check
                out.append(TextDelta(e.index, edited_slice(text, a, cut, edits), e.meta))
                rest.append(TextDelta(e.index, text[cut:b]))
                offset = cut
        self._held = rest
        self._chars = sum(len(e.text) for e in rest if isinstance(e, TextDelta))
        if any(isinstance(e, Start) for e in out):
            self.started = True
        return out
