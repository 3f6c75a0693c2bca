"""The Vercel AI SDK (Node) through unigate: `@ai-sdk/openai` (Responses and chat), `@ai-sdk/anthropic`
and `@ai-sdk/google`, each pointed at its unigate surface, on its own format and translated.

`generateText` and `streamText` with a plain prompt and with a tool (multi-step: the SDK runs the
tool and sends its result back), and both with `Output.object`. One Node process runs
every case (node/vercel_ai.mjs); each test checks its own outcome."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.frameworks import node_install
from tests.integration.frameworks.records import landed_on, nonce, provider_requests, tool_results
from tests.integration.gateway import Gateway
from tests.mocks.replies import REPLY_PREFIX
from tests.node_env import node_bin_dir, node_env

# AI SDK provider -> endpoints: its own format first, then translated ones
ENDPOINTS = {
    "openai": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "openai-chat": ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"],
    "anthropic": ["chat-anthropic", "chat-openai", "chat-gemini"],
    "google": ["chat-gemini", "chat-openai", "chat-anthropic"],
}
KINDS = ["generate", "stream", "tool", "tool-stream", "object", "object-stream"]
CASES = [(p, ep, k) for p, eps in ENDPOINTS.items() for ep in eps for k in KINDS]
SCRIPT = Path(__file__).parent / "node" / "vercel_ai.mjs"


def _case_id(case: tuple[str, str, str]) -> str:
    return "-".join(case)


def _prompt(kind: str, n: str) -> str:
    if kind.startswith("tool"):
        return f"What is the weather in Paris? {n}"
    if kind.startswith("object"):
        return f"Describe Paris {n}"
    return f"Say hello {n}"


@pytest.fixture(scope="module")
def vercel_results(gateway: Gateway) -> dict[str, Any]:
    """Every case's outcome from one Node run, with the nonce it used."""
    prefix = node_install.install()
    nonces = {_case_id(c): nonce() for c in CASES}
    cases = [{"id": _case_id(c), "provider": c[0], "endpoint": c[1], "kind": c[2],
              "prompt": _prompt(c[2], nonces[_case_id(c)]),
              "toolResult": f"Sunny in {{location}}, run {nonces[_case_id(c)]}"} for c in CASES]
    env = node_env()
    env["UNIGATE_VERCEL_AI_PREFIX"] = str(prefix)
    env.pop("NODE_OPTIONS", None)  # a developer's --inspect or --require must not change the run
    proc = subprocess.run([str(node_bin_dir() / "node"), str(SCRIPT)], input=json.dumps(
        {"base": gateway.base, "token": gateway.token, "cases": cases}), capture_output=True, text=True,
        timeout=120, env=env, cwd=SCRIPT.parent)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results: dict[str, Any] = json.loads(proc.stdout)
    for case_id, n in nonces.items():
        results[case_id]["nonce"] = n
    return results


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_vercel_ai(vercel_results: dict[str, Any], mock_url: str, case: tuple[str, str, str]) -> None:
    provider, endpoint, kind = case
    outcome = vercel_results[_case_id(case)]
    assert outcome.get("error") is None, outcome["error"]
    n = outcome["nonce"]
    records = provider_requests(mock_url, n)
    assert landed_on(records, endpoint)
    if kind.endswith("stream"):
        assert outcome["streamed"] == outcome["text"]
    if kind in ("generate", "stream"):
        assert outcome["text"] == f"{REPLY_PREFIX}Say hello {n}"
    elif kind.startswith("object"):
        assert outcome["output"] == {"name": "Paris", "population": 1}
    else:
        result = f"Sunny in Paris, run {n}"
        first, *_ = outcome["steps"]
        assert first["toolCalls"] == [{"toolName": "get_weather", "input": {"location": "Paris"}}]
        assert first["toolResults"] == [{"toolName": "get_weather", "output": result}]
        sent = list(tool_results(records[-1]["body"]).values())
        assert len(records) == 2 and len(sent) == 1
        if provider == "google" and endpoint == "chat-gemini":
            # @ai-sdk/google's functionResponse.response {"name", "content"} reaches Gemini as sent
            assert json.loads(sent[0]) == {"name": "get_weather", "content": result}
            assert outcome["text"].startswith(f"{REPLY_PREFIX}tool said {{") and result in outcome["text"]
        else:  # and any other provider as its text

            assert sent == [result]
            assert outcome["text"] == f"{REPLY_PREFIX}tool said {result}"
