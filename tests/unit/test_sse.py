"""The SSE decoder must give the same events however the byte stream is split."""

from __future__ import annotations

import pytest

from unigate.sse import SSEDecoder, encode_event

STREAM = (
    "event: message_start\r\ndata: {\"a\": \"h\u00e9llo \u4e16\u754c\"}\r\n\r\n"
    ": keep-alive comment\n\n"
    "data: first line\rdata: second line\r\r"
    "id: 7\nevent: x\ndata:no-space\n\n"
    "data: {\"emoji\": \"\U0001F600\"}\n\n"
).encode()
EXPECTED = [
    ("message_start", '{"a": "h\u00e9llo \u4e16\u754c"}'),
    (None, "first line\nsecond line"),
    ("x", "no-space"),
    (None, '{"emoji": "\U0001F600"}'),
]


def decode(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    d = SSEDecoder()
    events = [e for c in chunks for e in d.feed(c)] + d.close()
    return [(e.event, e.data) for e in events]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, len(STREAM)])
def test_split_every_n_bytes(size: int) -> None:
    assert decode([STREAM[i:i + size] for i in range(0, len(STREAM), size)]) == EXPECTED


def test_split_at_every_position() -> None:
    """Two chunks, cut at every byte: inside UTF-8 characters and between CR and LF."""
    for cut in range(1, len(STREAM)):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_cr_at_chunk_end_then_lf() -> None:
    assert decode([b"data: a\r", b"\n\r", b"\n"]) == [(None, "a")]


def test_unterminated_last_event_is_kept() -> None:
    assert decode([b"data: tail"]) == [(None, "tail")]


def test_encode_round_trip() -> None:
    raw = encode_event('{"x":1}', "delta") + encode_event(b"[DONE]")
    assert decode([raw]) == [("delta", '{"x":1}'), (None, "[DONE]")]
