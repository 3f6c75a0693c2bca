"""Gemini's `Schema` (an OpenAPI 3.0 subset with uppercase types) → standard JSON schema.

Gemini also takes plain JSON schema (`parametersJsonSchema`, `responseJsonSchema`), which
passes through unchanged; only the OpenAPI-style fields (`parameters`, `responseSchema`) go
through here. The encoder always sends the JSON-schema fields, so no reverse is needed."""

from __future__ import annotations

from typing import Any

from unigate.errors import InvalidRequest

# snake_case spellings the REST API accepts, to their camelCase (= JSON schema) names
_RENAME = {
    "any_of": "anyOf", "min_items": "minItems", "max_items": "maxItems",
    "min_length": "minLength", "max_length": "maxLength",
    "min_properties": "minProperties", "max_properties": "maxProperties",
    "property_ordering": "propertyOrdering",
}
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def openapi_to_json_schema(schema: Any, path: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{path}: expected a schema object", param=path)
    out: dict[str, Any] = {}
    nullable = False
    fields: dict[str, Any] = schema
    for raw_key, value in fields.items():
        key = _RENAME.get(raw_key, raw_key)
        if key == "type":
            if not isinstance(value, str):
                raise InvalidRequest(f"{path}.type: expected a string", param=path)
            if value.upper() != "TYPE_UNSPECIFIED":
                out["type"] = value.lower()
        elif key == "nullable":
            nullable = value is True
        elif key == "propertyOrdering":
            continue  # an output-order hint with no JSON schema counterpart
        elif key == "example":
            out["examples"] = [value]
        elif key == "properties":
            if not isinstance(value, dict):
                raise InvalidRequest(f"{path}.properties: expected an object", param=path)
            out[key] = {
                name: openapi_to_json_schema(sub, f"{path}.properties.{name}")
                for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = openapi_to_json_schema(value, f"{path}.{key}")
        elif key in _SCHEMA_LISTS:
            if not isinstance(value, list):
                raise InvalidRequest(f"{path}.{key}: expected an array", param=path)
            out[key] = [openapi_to_json_schema(s, f"{path}.{key}[{i}]")
                        for i, s in enumerate(value)]
        else:
            out[key] = value
    if nullable:
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]  # else the enum would still forbid null
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out
