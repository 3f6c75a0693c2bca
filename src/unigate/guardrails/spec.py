"""An endpoint's guardrails as the configuration file, the admin API and `unigate apply` write
them, checked once here so all three refuse the same mistakes:

    guardrails:
      - {name: no-pii, type: pii, phase: input, action: sanitize, restore: true}
      - {name: banned, type: keywords, phase: output, action: block, words: [...], patterns: [...]}
      - {name: on-topic, type: topics, phase: input, allowed: {billing: [invoice, refund]}}
      - {name: jailbreak, type: judge, phase: input, endpoint: judge, template: jailbreak}

`mode: log` records verdicts without acting on them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

GUARDRAIL_TYPES = ("pii", "keywords", "topics", "judge")
PHASES = ("input", "output")
ACTIONS = ("block", "sanitize")
MODES = ("enforce", "log")
JUDGE_TEMPLATES = ("unsafe", "jailbreak", "hallucination", "custom")
ON_ERROR = ("block", "allow")  # a judge that fails: fail closed (block) or open (allow)
BLOCK_RESPONSES = ("error", "content_filter")  # a 400 naming the guardrail, or a filtered answer
MAX_GUARDRAILS = 20
DEFAULT_WINDOW = 128  # characters of streamed text checked at a time (see stream_window)
DEFAULT_JUDGE_TIMEOUT = 10.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COMMON = {"name", "type", "phase", "action", "mode"}
_OPTIONS = {
    "pii": {"entities", "restore"},
    "keywords": {"words", "patterns", "case_sensitive"},
    "topics": {"allowed", "denied"},
    "judge": {"endpoint", "template", "prompt", "threshold", "timeout", "on_error"},
}


class GuardrailSpecError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


@dataclass(frozen=True, slots=True)
class GuardrailSpec:
    name: str
    type: str
    phase: str
    action: str = "block"
    mode: str = "enforce"
    options: dict[str, Any] = field(default_factory=dict)  # the type's own fields, normalised

    @property
    def enforced(self) -> bool:
        return self.mode == "enforce"

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "phase": self.phase, "action": self.action,
                "mode": self.mode, **self.options}


def parse_guardrails(raw: Any) -> list[GuardrailSpec]:
    """The list under `guardrails`; raises GuardrailSpecError naming the entry and field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise GuardrailSpecError("guardrails", "must be a list of guardrails")
    if len(raw) > MAX_GUARDRAILS:
        raise GuardrailSpecError("guardrails", f"at most {MAX_GUARDRAILS} per endpoint")
    specs: list[GuardrailSpec] = []
    for i, entry in enumerate(raw):
        spec = _one(entry, f"guardrails[{i}]")
        if any(s.name == spec.name for s in specs):
            raise GuardrailSpecError(f"guardrails[{i}]", f"name: '{spec.name}' is used twice")
        specs.append(spec)
    return specs


def _choice(d: dict[str, Any], key: str, where: str, choices: tuple[str, ...], default: str | None) -> str:
    value = d.get(key, default)
    if value not in choices:
        got = "missing" if value is None else repr(value)
        raise GuardrailSpecError(where, f"{key}: expected one of {', '.join(choices)}; got {got}")
    return str(value)


def _strings(d: dict[str, Any], key: str, where: str) -> list[str]:
    value = d.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GuardrailSpecError(where, f"{key}: must be a list of non-empty strings")
    return list(value)


def _topics(d: dict[str, Any], key: str, where: str) -> dict[str, list[str]]:
    value = d.get(key) or {}
    if not isinstance(value, dict):
        raise GuardrailSpecError(where, f"{key}: must map topic names to lists of keywords")
    out: dict[str, list[str]] = {}
    for topic, words in value.items():
        if not isinstance(topic, str) or not isinstance(words, list) or not words \
                or not all(isinstance(w, str) and w.strip() for w in words):
            raise GuardrailSpecError(where, f"{key}: topic {topic!r} needs a non-empty list of keywords")
        out[topic] = list(words)
    return out


def _bool(d: dict[str, Any], key: str, where: str) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        raise GuardrailSpecError(where, f"{key}: must be true or false")
    return value


def _seconds(value: Any, where: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", str(value))
    if not m or float(m.group(1)) <= 0 or isinstance(value, bool):
        raise GuardrailSpecError(where, f"timeout: must be a positive duration such as 500ms or 5s, got {value!r}")
    return float(m.group(1)) * (0.001 if m.group(2) == "ms" else 1.0)


def _one(entry: Any, where: str) -> GuardrailSpec:
    if not isinstance(entry, dict):
        raise GuardrailSpecError(where, "must be a mapping with name, type and phase")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise GuardrailSpecError(where, "name: use letters, digits and . _ - (at most 64)")
    where = f"{where} ({name})"
    kind = _choice(entry, "type", where, GUARDRAIL_TYPES, None)
    known = _COMMON | _OPTIONS[kind]
    for key in entry:
        if key not in known:
            raise GuardrailSpecError(where, f"unknown field '{key}' (a {kind} guardrail takes: "
                                            f"{', '.join(sorted(known))})")
    phase = _choice(entry, "phase", where, PHASES, None)
    action = _choice(entry, "action", where, ACTIONS, "block")
    mode = _choice(entry, "mode", where, MODES, "enforce")
    options: dict[str, Any] = {}
    if kind == "pii":
        from unigate.guardrails.detect.pii import PII_ENTITIES
        entities = _strings(entry, "entities", where) or list(PII_ENTITIES)
        unknown = [e for e in entities if e not in PII_ENTITIES]
        if unknown:
            raise GuardrailSpecError(where, f"entities: unknown {unknown[0]!r} (expected some of: "
                                            f"{', '.join(PII_ENTITIES)})")
        options["entities"] = entities
        if _bool(entry, "restore", where):
            if phase != "input" or action != "sanitize":
                raise GuardrailSpecError(where, "restore: only an input guardrail that sanitizes has "
                                                "placeholders to restore in the answer")
            options["restore"] = True
    elif kind == "keywords":
        options["words"] = _strings(entry, "words", where)
        options["patterns"] = _strings(entry, "patterns", where)
        if not options["words"] and not options["patterns"]:
            raise GuardrailSpecError(where, "words: give at least one word or pattern")
        if _bool(entry, "case_sensitive", where):
            options["case_sensitive"] = True
    elif kind == "topics":
        allowed, denied = _topics(entry, "allowed", where), _topics(entry, "denied", where)
        if not allowed and not denied:
            raise GuardrailSpecError(where, "allowed: give allowed or denied topics (or both)")
        if action != "block":
            raise GuardrailSpecError(where, "action: a topics guardrail can only block")
        options.update({k: v for k, v in (("allowed", allowed), ("denied", denied)) if v})
    else:
        options.update(_judge(entry, where, phase))
    return GuardrailSpec(name, kind, phase, action, mode, options)


def _judge(entry: dict[str, Any], where: str, phase: str) -> dict[str, Any]:
    endpoint = entry.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise GuardrailSpecError(where, "endpoint: missing (the endpoint that evaluates the prompt)")
    template = _choice(entry, "template", where, JUDGE_TEMPLATES, None)
    prompt = entry.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        raise GuardrailSpecError(where, "prompt: must be a non-empty string")
    if template == "custom" and prompt is None:
        raise GuardrailSpecError(where, "prompt: a custom judge needs the rule to evaluate")
    if template == "hallucination" and phase != "output":
        raise GuardrailSpecError(where, "phase: a hallucination judge reads the answer: use phase output")
    threshold = entry.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise GuardrailSpecError(where, f"threshold: must be a number between 0 and 1, got {threshold!r}")
    out: dict[str, Any] = {"endpoint": endpoint, "template": template}
    if prompt is not None:
        out["prompt"] = prompt
    if threshold != 0.5:
        out["threshold"] = float(threshold)
    if "timeout" in entry:
        out["timeout"] = f"{_seconds(entry['timeout'], where):g}s"
    on_error = _choice(entry, "on_error", where, ON_ERROR, "block")
    if on_error != "block":
        out["on_error"] = on_error
    return out


def judge_timeout(spec: GuardrailSpec) -> float:
    value = spec.options.get("timeout")
    return DEFAULT_JUDGE_TIMEOUT if value is None else _seconds(value, spec.name)
