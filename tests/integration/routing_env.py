"""A gateway set up for routing tests: endpoints with fallbacks, splits and timeouts in front
of the mock providers, plus helpers to queue faults and read usage rows."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call


def routing_config(mock: str, dead_port: int, health_failures: int = 1000) -> str:
    """Passive health is off (1000 failures) unless a test asks for it: it would otherwise
    carry one test's failures into the next one's routing."""
    return f"""
settings:
  passive_health: {{failures: {health_failures}, cool_down: 30s}}
providers:
  - {{name: openai-main, type: openai, base_url: "{mock}/v1", api_key: sk-mock-openai}}
  - {{name: claude, type: anthropic, base_url: "{mock}", api_key: sk-ant-mock}}
  - {{name: gem, type: gemini, base_url: "{mock}", api_key: mock-gemini-key}}
  - {{name: dead, type: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_key: x}}
endpoints:
  - name: fb
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    fallbacks: [{{provider: claude, model: claude-haiku-4-5}}, {{provider: gem, model: gemini-2.5-flash}}]
  - name: fb-budget
    max_attempts: 2
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    fallbacks: [{{provider: claude, model: claude-haiku-4-5}}, {{provider: gem, model: gemini-2.5-flash}}]
  - name: dead-first
    destinations: [{{provider: dead, model: gpt-4o-mini}}]
    fallbacks: [{{provider: openai-main, model: gpt-4o-mini}}]
  - name: first-token
    first_token_timeout: 700ms
    timeout: 10s
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
    fallbacks: [{{provider: claude, model: claude-haiku-4-5}}]
  - name: fb-claude
    destinations: [{{provider: claude, model: claude-haiku-4-5}}]
    fallbacks: [{{provider: openai-main, model: gpt-4o-mini}}]
  - name: emb-fb
    destinations: [{{provider: openai-main, model: text-embedding-3-small}}]
    fallbacks: [{{provider: gem, model: text-embedding-004}}]
  - name: count-fb
    destinations: [{{provider: claude, model: claude-haiku-4-5}}]
    fallbacks: [{{provider: gem, model: gemini-2.5-flash}}]
  - name: split
    destinations:
      - {{provider: openai-main, model: gpt-4o-mini, traffic_percentage: 70}}
      - {{provider: claude, model: claude-haiku-4-5, traffic_percentage: 30}}
  - name: solo
    destinations: [{{provider: openai-main, model: gpt-4o-mini}}]
"""


def queue_faults(mock: str, path: str, *faults: str) -> None:
    r = call("POST", f"{mock}/_mock/faults", {"faults": list(faults), "path_contains": path})
    assert r.status == 200, r.body


def clear_faults(mock: str) -> None:
    call("DELETE", f"{mock}/_mock/faults")


def usage_row(gw: Gateway, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = call("GET", f"{gw.url}/api/v1/usage?limit=500", headers=bearer(gw.token))
        for row in r.json()["rows"]:
            if row["request_id"] == request_id:
                return dict(row)
        time.sleep(0.1)
    raise AssertionError(f"no usage row for {request_id}")


def outcomes(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in row["routing_information"] or []]
