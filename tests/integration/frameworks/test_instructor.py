"""instructor through unigate: structured output into a nested pydantic model, on every provider type.

instructor runs in its own venv (instructor_env.py) as a subprocess (instructor_client.py) that
runs every case at once; each test checks its own. The OpenAI client runs in tool mode (unary and
streamed partials), JSON-schema mode, JSON mode (schema only in the prompt) and Responses tools
mode; the Anthropic client in tool mode, unary and streamed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.frameworks import instructor_env
from tests.integration.frameworks.records import landed_on, nonce, provider_requests
from tests.integration.gateway import Gateway

OPENAI_ENDPOINTS = ["chat-openai", "chat-compat", "chat-anthropic", "chat-gemini"]  # same format first
ANTHROPIC_ENDPOINTS = ["chat-anthropic", "chat-openai", "chat-gemini"]
# (client, mode, stream) -> endpoints
VARIANTS: dict[tuple[str, str, bool], list[str]] = {
    ("openai", "TOOLS", False): OPENAI_ENDPOINTS,
    ("openai", "TOOLS", True): OPENAI_ENDPOINTS,
    ("openai", "JSON_SCHEMA", False): OPENAI_ENDPOINTS,
    ("openai", "JSON", False): OPENAI_ENDPOINTS,
    ("openai", "RESPONSES_TOOLS", False): ["chat-openai", "chat-anthropic", "chat-gemini"],
    ("anthropic", "ANTHROPIC_TOOLS", False): ANTHROPIC_ENDPOINTS,
    ("anthropic", "ANTHROPIC_TOOLS", True): ANTHROPIC_ENDPOINTS,
}
CASES = [(client, mode, stream, ep) for (client, mode, stream), eps in VARIANTS.items() for ep in eps]
# what the mock's minimal instance of Person's schema is
EXPECTED = {"name": "Paris", "age": 1, "address": {"city": "Paris"}, "tags": ["Paris"]}


def _case_id(case: tuple[str, str, bool, str]) -> str:
    client, mode, stream, endpoint = case
    return f"{client}-{mode}-{'stream' if stream else 'unary'}-{endpoint}"


@pytest.fixture(scope="module")
def instructor_results(gateway: Gateway) -> dict[str, Any]:
    """Every case's outcome, from one run of the instructor client; also each case's nonce."""
    python = instructor_env.install()
    cases = [{"id": _case_id(c), "client": c[0], "mode": c[1], "stream": c[2], "endpoint": c[3],
              "prompt": f"Extract the person: Paris, age 1, lives in Paris. {nonce()}"} for c in CASES]
    job = json.dumps({"base": gateway.base, "token": gateway.token, "cases": cases})
    script = Path(__file__).with_name("instructor_client.py")
    proc = subprocess.run([str(python), str(script)], input=job, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results: dict[str, Any] = json.loads(proc.stdout)
    for case in cases:
        results[case["id"]]["nonce"] = case["prompt"].rsplit(" ", 1)[-1]
    return results


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_structured_output(instructor_results: dict[str, Any], mock_url: str,
                           case: tuple[str, str, bool, str]) -> None:
    outcome = instructor_results[_case_id(case)]
    assert outcome.get("error") is None, outcome["error"]
    assert outcome["value"] == EXPECTED
    assert landed_on(provider_requests(mock_url, outcome["nonce"]), case[3])
