"""Runs instructor cases against unigate; executed by the python of instructor_env.py's venv.

Reads {"base", "token", "cases": [{"id", "client", "mode", "endpoint", "prompt", "stream"}]} on
stdin and prints {id: {"value": <the model as a dict>} | {"error": "<type>: <message>"}} on stdout.
Standalone (that venv has no unigate and no tests package): the models are defined here."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import instructor
import openai
from pydantic import BaseModel


class Address(BaseModel):
    city: str


class Person(BaseModel):  # nested, so its JSON schema has $defs and a $ref
    name: str
    age: int
    address: Address
    tags: list[str]


def _client(case: dict[str, Any], base: str, token: str) -> Any:
    mode = instructor.Mode[case["mode"]]
    if case["client"] == "anthropic":
        raw = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key=token, max_retries=0, timeout=30)
        return instructor.from_anthropic(raw, mode=mode)
    raw_oa = openai.OpenAI(base_url=f"{base}/openai/v1", api_key=token, max_retries=0, timeout=30)
    return instructor.from_openai(raw_oa, mode=mode)


def run_case(case: dict[str, Any], base: str, token: str) -> dict[str, Any]:
    client = _client(case, base, token)
    kwargs: dict[str, Any] = {"model": case["endpoint"], "response_model": Person, "max_tokens": 512,
                              "max_retries": 0,
                              "messages": [{"role": "user", "content": case["prompt"]}]}
    try:
        if case["stream"]:  # partial objects as they stream; the last one is the whole
            last = None
            for partial in client.chat.completions.create_partial(**kwargs):
                last = partial
            assert last is not None, "the stream yielded nothing"
            return {"value": last.model_dump()}
        return {"value": client.chat.completions.create(**kwargs).model_dump()}
    except Exception as exc:  # reported to the test, which shows it
        return {"error": f"{type(exc).__name__}: {exc}"[:3000]}


def main() -> None:
    job = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(lambda c: (c["id"], run_case(c, job["base"], job["token"])), job["cases"])
        print(json.dumps(dict(results)))


if __name__ == "__main__":
    main()
