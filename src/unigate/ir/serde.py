"""IR objects to and from plain dicts: for golden test vectors and readable debugging.

Parts and stream events carry a "type" key (the class name); `None` fields are left out."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from unigate.ir import parameters, parts, request, response, stream, usage

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for module in (parameters, parts, request, response, stream, usage)
    for cls in vars(module).values()
    if dataclasses.is_dataclass(cls) and isinstance(cls, type)
}
_OMIT_EMPTY = frozenset({"extra", "advisory", "emulate", "estimated"})
_TAGGED = {c.__name__ for c in typing.get_args(parts.Part) + typing.get_args(stream.StreamEvent)}


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        if type(obj).__name__ in _TAGGED:
            out["type"] = type(obj).__name__
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None or (f.name in _OMIT_EMPTY and not value):
                continue
            if f.name == "report" and value == parameters.ParameterReport():
                continue
            out[f.name] = to_dict(value)
        return out
    if isinstance(obj, list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, frozenset):
        return sorted(obj)
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: Any, data: Any) -> Any:
    """Build `cls` (a class or its name) from `to_dict` output."""
    if isinstance(cls, str):
        cls = _CLASSES[cls]
    if isinstance(data, dict) and "type" in data and data["type"] in _TAGGED:
        cls = _CLASSES[data["type"]]
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key == "type" and cls.__name__ in _TAGGED:
            continue
        kwargs[key] = _convert(hints[key], value)
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        dc = [a for a in args if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and dc:
            if "type" in value and value["type"] in _TAGGED:
                return from_dict(value["type"], value)
            return from_dict(dc[0], value)
        lists = [a for a in args if typing.get_origin(a) is list]
        if isinstance(value, list) and lists:
            return _convert(lists[0], value)
        return value
    if origin is list and isinstance(value, list):
        return [_convert(args[0], v) for v in value]
    if origin is frozenset and isinstance(value, list):
        return frozenset(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value)
    if isinstance(value, dict) and "type" in value and value["type"] in _TAGGED:
        return from_dict(value["type"], value)
    return value
