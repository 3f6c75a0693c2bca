"""The rate limiter's Redis client: command encoding and reply parsing, whole or in pieces."""

from __future__ import annotations

import pytest

from unigate.governance.ratelimit.resp import RedisConnectionError, RedisError, _parse, encode


def test_commands_are_encoded_as_resp_arrays_of_bulk_strings() -> None:
    assert encode(("EVALSHA", "ab", 1, b"k\r\n")) == b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$3\r\nk\r\n\r\n"


@pytest.mark.parametrize("raw, value", [
    (b":0\r\n", 0), (b":-12\r\n", -12), (b"+PONG\r\n", "PONG"), (b"$3\r\nabc\r\n", b"abc"),
    (b"$-1\r\n", None), (b"*2\r\n:1\r\n$1\r\nx\r\n", [1, b"x"]), (b"*-1\r\n", None), (b"*0\r\n", []),
])
def test_replies_parse(raw: bytes, value: object) -> None:
    assert _parse(bytearray(raw), 0) == (value, len(raw))
    for cut in range(1, len(raw)):  # a reply split anywhere waits for the rest
        assert _parse(bytearray(raw[:cut]), 0) is None


def test_error_replies_become_redis_errors_and_garbage_a_connection_error() -> None:
    value, _ = _parse(bytearray(b"-NOSCRIPT No matching script\r\n"), 0)  # type: ignore[misc]
    assert isinstance(value, RedisError) and str(value).startswith("NOSCRIPT")
    with pytest.raises(RedisConnectionError):
        _parse(bytearray(b"?what\r\n"), 0)
