"""JSON that fits a schema: what a model answers when it is asked for structured output.

`instance_for_schema` builds a minimal valid instance of a JSON schema (strings "Paris", numbers 1,
booleans true), following `$ref`s into `$defs`/`definitions` as pydantic writes them for nested
models. `schema_in_prompt` finds a schema that the prompt itself spells out: JSON mode carries no
schema in the request, so clients (instructor's JSON mode, LangChain's json_mode) put it in a
message, and a real model would follow it."""

from __future__ import annotations

import json
from typing import Any

MAX_PROMPT_CHARS = 200_000  # do not scan huge prompts for a schema
MAX_DEPTH = 12  # self-referencing models ($ref to itself) stop here


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for key in ref.removeprefix("#/").split("/") if ref.startswith("#") else []:
        node = node.get(key.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def instance_for_schema(schema: dict[str, Any], root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value valid for `schema` (whose `$ref`s point into `root`, by default the schema)."""
    root = schema if root is None else root
    if depth > MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str):
        return instance_for_schema(_resolve(schema["$ref"], root), root, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return instance_for_schema(schema[key][0], root, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):  # ["string", "null"]
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()  # Gemini's OpenAPI subset spells types in capitals
    if kind == "object":
        props: dict[str, Any] = schema.get("properties") or {}
        wanted = schema.get("required", list(props))  # no "required" list: fill everything
        return {name: instance_for_schema(props.get(name, {}), root, depth + 1) for name in wanted}
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [instance_for_schema(items, root, depth + 1)] * max(1, int(schema.get("minItems") or 1))
    if kind in ("number", "integer"):
        low = schema.get("minimum")  # 1 unless the schema asks for more
        return max(1, int(low)) if isinstance(low, int) and not isinstance(low, bool) else 1
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "Paris"


def _looks_like_schema(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("properties"), dict) and (
        value.get("type") in (None, "object") or "$defs" in value)


def schema_in_prompt(texts: list[str]) -> dict[str, Any] | None:
    """The last JSON schema of an object spelled out in the prompt's texts, if any."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    for text in texts:
        if not text or len(text) > MAX_PROMPT_CHARS or '"properties"' not in text:
            continue
        start = text.find("{")
        while start != -1:
            try:
                value, end = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if _looks_like_schema(value):
                found = value
            start = text.find("{", end)
    return found
