"""The fast path's stream relay: same bytes out (model renamed), usage read, cut anywhere."""

from __future__ import annotations

import pytest

from unigate.codecs.registry import FORMATS
from unigate.server.fast_stream import FastStreamRelay
from unigate.server.fastpath import _bytes_rewriter

OPENAI = (
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024","choices":[{"index":0,'
    b'"delta":{"content":"h\xc3\xa9 \\"model\\":\\"x\\""},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024","choices":[],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}\n\n'
    b"data: [DONE]\n\n"
)
GEMINI = (
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"a"}]}}],'
    b'"usageMetadata":{"promptTokenCount":4},"modelVersion":"gemini-2.5-flash"}\r\n\r\n'
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"b"}]},"finishReason":"STOP"}],'
    b'"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},'
    b'"modelVersion":"gemini-2.5-flash"}\r\n\r\n'
)


def relay_all(fmt: str, data: bytes, size: int, hide: bool) -> tuple[bytes, FastStreamRelay]:
    f = FORMATS[fmt]
    relay = FastStreamRelay(_bytes_rewriter(f.model_key, "my-endpoint"), f.stream_usage,
                            f.is_usage_only if hide else None)
    out = b"".join(relay.feed(data[i:i + size]) for i in range(0, len(data), size)) + relay.close()
    return out, relay


@pytest.mark.parametrize("size", [1, 2, 5, 13, 64, 100_000])
def test_openai_stream_renamed_and_usage_read(size: int) -> None:
    out, relay = relay_all("openai_chat", OPENAI, size, hide=False)
    assert out == OPENAI.replace(b'"model":"gpt-4o-mini-2024"', b'"model":"my-endpoint"')
    assert b'\\"model\\":\\"x\\"' in out  # text that merely looks like the field is untouched
    assert relay.usage is not None and (relay.usage.input_tokens, relay.usage.output_tokens) == (5, 7)


@pytest.mark.parametrize("size", [1, 7, 100_000])
def test_gateway_requested_usage_chunk_is_hidden(size: int) -> None:
    out, relay = relay_all("openai_chat", OPENAI, size, hide=True)
    assert b'"usage"' not in out and out.endswith(b"data: [DONE]\n\n")
    assert relay.usage is not None and relay.usage.total_tokens == 12


@pytest.mark.parametrize("size", [1, 3, 100_000])
def test_gemini_crlf_stream(size: int) -> None:
    out, relay = relay_all("gemini", GEMINI, size, hide=False)
    assert out == GEMINI.replace(b'"modelVersion":"gemini-2.5-flash"', b'"modelVersion":"my-endpoint"')
    assert relay.usage is not None and relay.usage.output_tokens == 2


HEAD = {
    "openai_chat": b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":'
                   b'"the error is ours"}}]}\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                 b'"delta":{"type":"text_delta","text":"an error-free start"}}\n\n',
    "openai_responses": b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
                        b'"delta":"error"}\n\n',
    "gemini": b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"error"}]}}]}\n\n',
}
ERROR = {
    "openai_chat": (b'data: {"error":{"message":"engine overloaded","code":503}}\n\n', 503),
    "anthropic": (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                  b'"message":"Overloaded"}}\n\n', 529),
    "openai_responses": (b'event: error\ndata: {"type":"error","code":"server_error",'
                         b'"message":"The server had an error"}\n\n', 500),
    "gemini": (b'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\n\n',
               503),
}


@pytest.mark.parametrize("fmt", sorted(ERROR))
def test_the_providers_error_event_is_relayed_and_remembered(fmt: str) -> None:
    f = FORMATS[fmt]
    relay = FastStreamRelay(_bytes_rewriter(f.model_key, "ep"), f.stream_usage, None, f.stream_error)
    assert relay.feed(HEAD[fmt]) == HEAD[fmt] and relay.error is None  # "error" in text is no error
    event, status = ERROR[fmt]
    assert relay.feed(event[:20]) + relay.feed(event[20:]) + relay.close() == event
    assert relay.error is not None and relay.error.status == status


def test_events_whose_usage_is_null_are_passed_unread() -> None:
    """With include_usage every OpenAI chunk says "usage":null; only the last one counts."""
    chunk = (b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
             b'"delta":{"content":"hi"}}],"usage":null}\n\n')
    last = (b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[],'
            b'"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n')
    f = FORMATS["openai_chat"]
    parsed: list[object] = []

    def usage_of(ev: object) -> object:
        parsed.append(ev)
        return f.stream_usage(ev)  # type: ignore[arg-type]
    relay = FastStreamRelay(_bytes_rewriter(f.model_key, "ep"), usage_of, f.is_usage_only)  # type: ignore[arg-type]
    out = b"".join(relay.feed(chunk) for _ in range(5)) + relay.feed(last) + relay.close()
    assert out == chunk.replace(b'"model":"m"', b'"model":"ep"') * 5  # the usage-only chunk hidden
    assert len(parsed) == 1 and relay.usage is not None and relay.usage.total_tokens == 7


def test_only_the_events_reporting_usage_are_parsed_within_one_chunk() -> None:
    """A whole stream in one chunk (as fast upstreams send it): the usage events are found by
    search, the others go on as one slice, the hidden usage chunk is cut out exactly."""
    null = (b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
            b'"delta":{"content":"hi"}}],"usage":null}\r\r')
    usage = b'data: {"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
    done = b"data: [DONE]\r\n\r\n"
    f = FORMATS["openai_chat"]
    parsed: list[object] = []

    def usage_of(ev: object) -> object:
        parsed.append(ev)
        return f.stream_usage(ev)  # type: ignore[arg-type]
    relay = FastStreamRelay(_bytes_rewriter(f.model_key, "ep"), usage_of, f.is_usage_only)  # type: ignore[arg-type]
    out = relay.feed(null * 3 + usage + null + done) + relay.close()
    assert out == (null * 4).replace(b'"model":"m"', b'"model":"ep"') + done
    assert len(parsed) == 1 and relay.usage is not None and relay.usage.output_tokens == 4


def test_a_spaced_null_usage_is_not_a_report() -> None:
    """`"usage": null` (a pretty-printing provider) is no report either: the regex must not
    let the space before null satisfy its "not null" look-ahead."""
    null = b'data: {"model": "m", "choices": [{"delta": {"content": "hi"}}], "usage" :  null}\n\n'
    usage = b'data: {"model": "m", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 5}}\n\n'
    f = FORMATS["openai_chat"]
    parsed: list[object] = []

    def usage_of(ev: object) -> object:
        parsed.append(ev)
        return f.stream_usage(ev)  # type: ignore[arg-type]
    relay = FastStreamRelay(_bytes_rewriter(f.model_key, "ep"), usage_of)  # type: ignore[arg-type]
    out = relay.feed(null * 2 + usage + null) + relay.close()
    assert out == (null * 2 + usage + null).replace(b'"model": "m"', b'"model":"ep"')
    assert len(parsed) == 1 and relay.usage is not None and relay.usage.output_tokens == 5


def test_the_model_rewrite_sees_keys_not_values() -> None:
    """Every spelling of the field is rewritten (nested ones too); the key's name as a value and
    escaped backslashes are left alone."""
    rewrite = _bytes_rewriter("model", "shortcut-ep")
    assert rewrite(b'{"model":"a"}') == b'{"model":"shortcut-ep"}'
    assert rewrite(b'{"model":"a","x":{"model":"a"}}') == b'{"model":"shortcut-ep","x":{"model":"shortcut-ep"}}'
    assert rewrite(b'{"model": "b"}') == b'{"model":"shortcut-ep"}'
    assert rewrite(b'{"role":"model","model":"b"}') == b'{"role":"model","model":"shortcut-ep"}'
    assert rewrite(b'{"role":"model"}') == b'{"role":"model"}'
    assert rewrite(b'{"model":"a\\\\"}') == b'{"model":"shortcut-ep"}'
