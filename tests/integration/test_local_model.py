"""The `local` provider through a real `unigate serve`: the model server it starts (SmolLM2-135M
on the CPU, unigate.local) answers the official SDKs in their own dialects, streaming with
usage, embeddings, usage rows with the model's true token counts, and the README's snippets."""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from openai import BadRequestError, OpenAI

from tests.integration.gateway import Gateway, free_port, refusing_port, start_gateway
from tests.integration.rawhttp import bearer, call
from tests.integration.routing_env import usage_row

ROOT = Path(__file__).resolve().parents[2]


def _config(model_port: int) -> str:
    return f"""
providers:
  - {{name: local, type: local, base_url: "http://127.0.0.1:{model_port}/v1", threads: 1, context_size: 1024}}
  - {{name: local-broken, type: local, base_url: "http://127.0.0.1:{refusing_port()}/v1",
      model_path: /nonexistent/model.gguf}}
endpoints:
  - {{name: local-chat, destinations: [{{provider: local, model: SmolLM2-135M-Instruct}}]}}
  - {{name: local-embeddings, destinations: [{{provider: local, model: all-MiniLM-L6-v2}}]}}
  - {{name: local-broken, destinations: [{{provider: local-broken, model: x}}]}}
"""


@pytest.fixture(scope="module")
def local_gw() -> Iterator[Gateway]:
    from unigate.local.fetch import EMBEDDINGS, fetch
    fetch()  # the weights, cached outside the clone (else the model server fetches them as it starts)
    fetch(EMBEDDINGS)
    gw = start_gateway(_config(free_port()))
    yield gw
    gw.stop()


def _openai(gw: Gateway) -> OpenAI:
    return OpenAI(api_key=gw.token, base_url=f"{gw.base}/mlflow/v1", timeout=120)


def test_chat_answers_with_true_usage_and_a_usage_row(local_gw: Gateway) -> None:
    raw = _openai(local_gw).chat.completions.with_raw_response.create(
        model="local-chat", max_tokens=12, temperature=0,
        messages=[{"role": "user", "content": "What is the capital of France?"}])
    r = raw.parse()
    text = r.choices[0].message.content or ""
    assert "Paris" in text  # real model output (greedy), not an echo
    assert r.model == "local-chat"
    assert r.usage is not None and r.usage.completion_tokens <= 12
    # the chat template's system turn + the question: SmolLM2's tokenizer gives 37 tokens
    assert r.usage.prompt_tokens == 37
    assert r.choices[0].finish_reason in ("stop", "length")
    row = usage_row(local_gw, raw.headers["x-request-id"])
    assert row["endpoint_name"] == "local-chat" and row["status_code"] == 200
    assert row["input_tokens"] == 37 and row["output_tokens"] == r.usage.completion_tokens


def test_streaming_with_usage(local_gw: Gateway) -> None:
    stream = _openai(local_gw).chat.completions.create(
        model="local-chat", max_tokens=8, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Write a long poem about the sea."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = [c.usage for c in chunks if c.usage is not None]
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text.strip() and len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert finish == ["length"]  # eight tokens cannot finish a long poem
    assert len(usage) == 1 and usage[0].completion_tokens == 8 and usage[0].prompt_tokens > 20


def test_a_stop_string_ends_the_answer_before_it(local_gw: Gateway) -> None:
    r = _openai(local_gw).chat.completions.create(
        model="local-chat", max_tokens=12, temperature=0, stop=["Paris"],
        messages=[{"role": "user", "content": "What is the capital of France?"}])
    text = r.choices[0].message.content or ""
    assert text.strip() and "Paris" not in text and "capital" in text  # the greedy answer, cut
    assert r.choices[0].finish_reason == "stop"


def test_anthropic_sdk_on_the_same_endpoint(local_gw: Gateway) -> None:
    claude = anthropic.Anthropic(api_key="unused", base_url=f"{local_gw.base}/anthropic", timeout=120,
                                 default_headers={"Authorization": f"Bearer {local_gw.token}"})
    m = claude.messages.create(model="local-chat", max_tokens=6,
                               messages=[{"role": "user", "content": "Count from one to ten."}])
    assert m.content[0].type == "text" and m.content[0].text.strip()
    assert m.usage.output_tokens == 6 and m.stop_reason == "max_tokens"
    with claude.messages.stream(model="local-chat", max_tokens=5,
                                messages=[{"role": "user", "content": "Say hello."}]) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed.strip() and 1 <= final.usage.output_tokens <= 5


def test_embeddings(local_gw: Gateway) -> None:
    e = _openai(local_gw).embeddings.create(
        model="local-embeddings", input=["The cat sat on the mat.", "A cat was sitting on a rug.",
                                          "Quarterly revenue grew by eight percent."])
    vecs = [d.embedding for d in e.data]
    assert [len(v) for v in vecs] == [384] * 3  # all-MiniLM-L6-v2
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vecs)  # normalised

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))
    assert cos(vecs[0], vecs[1]) > 0.7 > 0.1 > cos(vecs[0], vecs[2])  # a sentence model's spread
    assert e.usage.prompt_tokens == 28 and e.model == "local-embeddings"  # [CLS] ... [SEP] each


def test_embeddings_match_sentence_transformers(local_gw: Gateway) -> None:
    """The numpy encoder against vectors sentence-transformers (torch) computed for the same
    model: the same numbers to float32 rounding, token counts included (base64 too)."""
    import base64
    import json
    import struct
    cases = json.loads((ROOT / "tests/vectors/local/minilm_sentence_transformers.json").read_text())["cases"]
    client = _openai(local_gw)
    for fmt in ("float", "base64"):
        r = client.embeddings.with_raw_response.create(model="local-embeddings", encoding_format=fmt,
                                                       input=[c["input"] for c in cases])
        data = json.loads(r.text)
        assert data["usage"]["prompt_tokens"] == sum(c["tokens"] for c in cases)
        for case, item in zip(cases, data["data"], strict=True):
            got = item["embedding"]
            if fmt == "base64":
                raw = base64.b64decode(got)
                got = list(struct.unpack(f"<{len(raw) // 4}f", raw))
            assert max(abs(a - b) for a, b in zip(got, case["embedding"], strict=True)) < 1e-5, case["input"]


def test_an_input_longer_than_the_embedder_takes_is_a_400(local_gw: Gateway) -> None:
    with pytest.raises(BadRequestError, match="at most 256") as e:
        _openai(local_gw).embeddings.create(model="local-embeddings", input="word " * 300)
    assert e.value.status_code == 400


def test_what_the_model_cannot_do_is_a_clear_400(local_gw: Gateway) -> None:
    with pytest.raises(BadRequestError, match="does not support tool calls"):
        _openai(local_gw).chat.completions.create(
            model="local-chat", messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])


def test_a_model_that_cannot_run_says_why(local_gw: Gateway) -> None:
    from openai import APIStatusError
    with pytest.raises(APIStatusError) as e:
        _openai(local_gw).chat.completions.create(
            model="local-broken", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 502 and "/nonexistent/model.gguf is not a file" in str(e.value)
    assert "/nonexistent/model.gguf is not a file" in local_gw.log()  # said at start too


def _readme_blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S) if "local-chat" in b]


def test_readme_snippets_for_the_local_model(local_gw: Gateway) -> None:
    """The Quickstart's curl and Python snippets, run as written (only host and port changed)."""
    (curl,), (python,) = _readme_blocks("bash"), _readme_blocks("python")
    curl = curl.replace("http://127.0.0.1:8080", local_gw.url).replace("\\\n", " ")
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=120,
                         env={"TOKEN": local_gw.token, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and '"model":"local-chat"' in out.stdout.replace(" ", "")
    assert '"content":' in out.stdout and '"completion_tokens"' in out.stdout
    code = python.replace("http://127.0.0.1:8080", local_gw.url)
    import contextlib
    import io
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"TOKEN": local_gw.token})  # noqa: S102
    lines = printed.getvalue().splitlines()
    assert "completion_tokens=" in lines[-2] and lines[-1] == "384"


def _answers_within(gw: Gateway, endpoint: str, seconds: float) -> None:
    """Polls `endpoint` until the model answers: 502s while its server starts and loads."""
    import time
    deadline, answered = time.monotonic() + seconds, None
    while time.monotonic() < deadline and answered is None:
        time.sleep(0.5)
        try:
            answered = _openai(gw).with_options(max_retries=0).chat.completions.create(
                model=endpoint, max_tokens=4, messages=[{"role": "user", "content": "hi"}])
        except Exception:  # noqa: BLE001 - the 502s until it is up
            continue
    assert answered is not None and answered.usage is not None and answered.usage.completion_tokens >= 1


def test_a_model_server_that_dies_is_started_again(local_gw: Gateway) -> None:
    """Killed (a crash, the OOM killer): the gateway's supervisor starts it again, and the
    endpoint answers once the model is loaded, without a restart of the gateway."""
    import os
    import signal
    pids = re.findall(r"provider 'local': local model server starting on \S+ \(pid (\d+)\)", local_gw.log())
    assert len(pids) == 1
    os.kill(int(pids[0]), signal.SIGKILL)
    _answers_within(local_gw, "local-chat", 90)
    log = local_gw.log()
    assert f"the local model server (pid {pids[0]}) exited with status" in log
    again = re.findall(r"provider 'local': local model server starting on \S+ \(pid (\d+)\)", log)
    assert len(again) == 2 and again[1] != pids[0]
    assert "Traceback" not in log


def test_a_local_provider_the_admin_api_adds_gets_its_server_and_loses_it_when_deleted(
        local_gw: Gateway) -> None:
    import socket
    import time
    port = free_port()

    def admin(method: str, path: str, body: dict[str, object] | None = None) -> None:
        assert call(method, f"{local_gw.url}/api/v1/{path}", body, bearer(local_gw.token)).status < 300
    admin("POST", "providers", {"name": "local-2", "type": "local", "base_url": f"http://127.0.0.1:{port}/v1",
                                "context_size": 512})
    admin("POST", "endpoints", {"name": "local-2-chat",
                                "destinations": [{"provider": "local-2", "model": "SmolLM2-135M-Instruct"}]})
    _answers_within(local_gw, "local-2-chat", 90)
    assert f"provider 'local-2': local model server starting on http://127.0.0.1:{port}/v1" in local_gw.log()
    admin("DELETE", "endpoints/local-2-chat")
    admin("DELETE", "providers/local-2")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "'local-2': local model server" not in local_gw.log().split(
            f"starting on http://127.0.0.1:{port}/v1")[-1]:
        time.sleep(0.5)  # until a line about local-2's server after the one that started it
    assert re.search(r"provider 'local-2': local model server \(pid \d+\) stopped: the provider is gone",
                     local_gw.log())
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))
