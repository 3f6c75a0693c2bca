"""Render capture logs (tests/agents/capture.py) as markdown: one section per request.

    python -m tests.agents.capture_report claude=/tmp/claude.jsonl codex=/tmp/codex.jsonl ...

Long strings are cut to ~80 characters, every key is kept; secret header values are masked; the
full JSON schemas of the file-reading and shell tools are printed untruncated.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"}
FULL_SCHEMA_TOOLS = {"Read", "Bash", "read_file", "run_shell_command", "exec_command", "shell",
                     "read_many_files", "write_stdin"}


def truncate(value: Any, limit: int = 80) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"…[{len(value)} chars]"
    if isinstance(value, list):
        return [truncate(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: truncate(v, limit) for k, v in value.items()}
    return value


def tool_entries(body: dict) -> list[dict]:
    out: list[dict] = []
    for t in body.get("tools") or []:
        if "functionDeclarations" in t:
            out.extend(t["functionDeclarations"])
        elif t.get("type") == "function" and "function" in t:
            out.append(t["function"])
        else:
            out.append(t)
    return out


def tool_name(t: dict) -> str:
    return str(t.get("name") or t.get("type"))


def compact_tools(body: dict) -> dict:
    """The body with each tool reduced to its name, type and top-level schema keys."""
    b = dict(body)
    if "tools" in b:
        slim = []
        for t in tool_entries(body):
            schema = t.get("input_schema") or t.get("parameters") or t.get("parametersJsonSchema") or {}
            slim.append({"name": tool_name(t), "type": t.get("type"), "keys": sorted(t),
                         "params": sorted(schema.get("properties") or {})})
        b["tools"] = slim
    return b


def render(agent: str, path: str) -> str:
    lines = [f"## {agent}: captured requests ({path})", ""]
    schemas: dict[str, dict] = {}
    for n, line in enumerate(open(path), 1):
        r = json.loads(line)
        headers = {k: ("<secret>" if k.lower() in SECRET_HEADERS else v) for k, v in r["headers"].items()}
        q = f"?{r['query']}" if r["query"] else ""
        lines += [f"### {agent} request {n}: `{r['method']} {r['path']}{q}`", "", "Headers:", "",
                  "```json", json.dumps(headers, indent=1), "```", ""]
        body = r["body"]
        if isinstance(body, dict):
            lines += [f"Top-level keys: `{', '.join(body)}`", "",
                      f"Tools ({len(tool_entries(body))}): `{', '.join(tool_name(t) for t in tool_entries(body))}`", "",
                      "Body (strings cut at 80 chars, tools summarized):", "", "```json",
                      json.dumps(truncate(compact_tools(body)), indent=1), "```", ""]
            for t in tool_entries(body):
                if tool_name(t) in FULL_SCHEMA_TOOLS:
                    schemas[tool_name(t)] = t
        elif body is not None:
            lines += ["Body (not JSON):", "", "```", str(body)[:400], "```", ""]
    for name, t in schemas.items():
        t = dict(t)
        if isinstance(t.get("description"), str):
            t["description"] = truncate(t["description"], 200)
        lines += [f"### {agent}: full tool definition of `{name}` (description cut at 200 chars)", "",
                  "```json", json.dumps(t, indent=1), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        name, _, p = arg.partition("=")
        print(render(name, p))
