"""The mocks' structured-output rule: minimal valid instances, and schemas spelled out in prompts."""

from __future__ import annotations

import json

from tests.mocks.prompt_schema import instance_for_schema, schema_in_prompt
from tests.mocks.replies import Conversation, reply_to

NESTED = {  # what pydantic writes for a model with a nested model and a list
    "$defs": {"Address": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}},
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 18},
        "address": {"$ref": "#/$defs/Address"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "nick": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name", "age", "address", "tags", "nick"],
    "type": "object",
}


def test_instance_follows_refs_and_bounds() -> None:
    assert instance_for_schema(NESTED) == {"name": "Paris", "age": 18, "address": {"city": "Paris"},
                                           "tags": ["Paris", "Paris"], "nick": "Paris"}


def test_self_referencing_schema_stops() -> None:
    tree = {"$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node"}
    assert isinstance(instance_for_schema(tree), dict)


def test_schema_in_prompt_finds_the_last_schema() -> None:
    text = f"Answer as JSON {{not json}} matching {json.dumps({'type': 'object'})} or {json.dumps(NESTED)}."
    assert schema_in_prompt(["plain", text]) == NESTED
    assert schema_in_prompt(["no schema {\"a\": 1}"]) is None


def test_json_mode_reply_follows_the_prompt_schema() -> None:
    prompt = f"Reply in JSON following {json.dumps(NESTED)}"
    reply = reply_to(Conversation(texts=[prompt], last_user_text=prompt, json_schema={}))
    assert json.loads(reply.text) == instance_for_schema(NESTED)
    plain = reply_to(Conversation(texts=["hi"], last_user_text="hi", json_schema={}))
    assert json.loads(plain.text) == {"reply": "MOCK-UPSTREAM-OK: hi"}
