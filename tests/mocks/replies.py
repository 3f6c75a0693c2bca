"""Deterministic reply logic shared by every mock provider.

Each provider module turns its request into a `Conversation`, asks `reply_to` for a `Reply`
and renders that in its own wire format, so tests can compare answers across dialects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from .prompt_schema import instance_for_schema, schema_in_prompt

REPLY_PREFIX = "MOCK-UPSTREAM-OK: "
MAX_ECHO_CHARS = 200


@dataclass
class ToolSpec:
    name: str
    schema: dict[str, Any]


@dataclass
class Conversation:
    """What the reply rule needs to know, whatever the dialect."""

    texts: list[str]  # every text in the prompt (system, messages, tool results): for usage
    last_user_text: str
    tool_result: str | None = None  # text of the trailing tool result, if the prompt ends in one
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: str | None = None  # None/"auto", "none", "required", or a tool name
    json_schema: dict[str, Any] | None = None  # {} means "any JSON object"
    stop: list[str] = field(default_factory=list)
    max_tokens: int | None = None
    thinking: bool = False


@dataclass
class ToolCall:
    key: str  # deterministic suffix; providers add their own id prefix
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass
class Reply:
    text: str
    tool_calls: list[ToolCall]
    thought: str | None
    finish: str  # "stop" | "length" | "stop_sequence" | "tool_calls"
    stop_sequence: str | None
    input_tokens: int
    text_tokens: int  # words of visible output (text, or tool-call arguments)
    reasoning_tokens: int

    @property
    def output_tokens(self) -> int:
        """Visible plus reasoning tokens, as OpenAI and Anthropic count them."""
        return self.text_tokens + self.reasoning_tokens


def count_words(text: str) -> int:
    return len(text.split())


value_for_schema = instance_for_schema  # the reply rule's name for it


def sign(text: str, kind: str = "sig") -> str:
    """A deterministic, base64-looking signature that the mocks can verify when echoed back."""
    digest = hashlib.sha256(f"mock-{kind}:{text}".encode()).digest()
    return base64.b64encode(b"MOCK" + digest * 2).decode()


def _short_key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _choose_tools(conv: Conversation) -> list[ToolCall]:
    if not conv.tools or conv.tool_choice == "none" or conv.tool_result is not None:
        return []
    forced = conv.tool_choice not in (None, "auto")
    if not forced and "weather" not in conv.last_user_text.lower():
        return []
    by_name = {t.name: t for t in conv.tools}
    if conv.tool_choice in by_name:
        first = second = by_name[conv.tool_choice]
    else:
        first = conv.tools[0]
        second = conv.tools[1] if len(conv.tools) > 1 else first
    chosen = [first, second] if "both" in conv.last_user_text.lower() else [first]
    return [
        ToolCall(_short_key(conv.last_user_text, str(i), t.name), t.name,
                 value_for_schema(t.schema))
        for i, t in enumerate(chosen)
    ]


def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    hits = [(text.find(s), s) for s in stops if s and s in text]
    if not hits:
        return text, None
    index, stop = min(hits)
    return text[:index], stop


# A guardrail judge (unigate's evaluator prompt): the mock plays a classifier that flags texts
# holding one of these phrases (a jailbreak judge only the first, a safety judge only the second),
# and answers garbage for JUDGE-GARBAGE (an evaluator error).
JUDGE_MARKER = "You are a guardrail judge"
JUDGE_TRIGGERS = ("unsafe-content", "ignore previous instructions", "flag-me")
_JUDGED = re.compile(r"<<<(?:TEXT|ANSWER)\n(.*?)\n(?:TEXT|ANSWER)>>>", re.S)


def _judge_verdict(conv: Conversation) -> str | None:
    if not any(JUDGE_MARKER in t for t in conv.texts):
        return None
    found = _JUDGED.findall(conv.last_user_text)
    judged = found[-1] if found else conv.last_user_text
    if "JUDGE-GARBAGE" in judged:
        return "I would rather not say."
    rules = " ".join(conv.texts[:-1]).lower()  # the judge's instructions: what it looks for
    triggers = JUDGE_TRIGGERS
    if "jailbreak" in rules:
        triggers = ("ignore previous instructions", "flag-me")
    elif "content safety" in rules:
        triggers = ("unsafe-content", "flag-me")
    hits = [t for t in triggers if t in judged.lower()]
    verdict: dict[str, Any] = {"flagged": bool(hits), "confidence": 0.9 if hits else 0.05,
                               "reason": f"contains {hits[0]}" if hits else "nothing found"}
    if hits and any("sanitized_text" in t for t in conv.texts):
        clean = judged
        for t in hits:
            clean = re.sub(re.escape(t), "[removed]", clean, flags=re.I)
        verdict["sanitized_text"] = clean
    return "```json\n" + json.dumps(verdict) + "\n```"


def reply_to(conv: Conversation) -> Reply:
    input_tokens = sum(count_words(t) for t in conv.texts) + 3
    verdict = _judge_verdict(conv)
    if verdict is not None:
        return Reply(verdict, [], None, "stop", None, input_tokens, count_words(verdict), 0)
    thought = None
    if conv.thinking:
        thought = "Thinking about: " + (conv.tool_result or conv.last_user_text)[:MAX_ECHO_CHARS]
    reasoning_tokens = count_words(thought) if thought else 0
    calls = _choose_tools(conv)
    if calls:
        tokens = sum(count_words(json.dumps(c.arguments)) for c in calls)
        return Reply("", calls, thought, "tool_calls", None, input_tokens, tokens, reasoning_tokens)
    if conv.tool_result is not None:
        text = REPLY_PREFIX + "tool said " + conv.tool_result
    elif conv.json_schema is not None:
        # JSON mode ({}) has no schema in the request: follow one the prompt spells out, if any
        schema = conv.json_schema or schema_in_prompt(conv.texts)
        value = value_for_schema(schema) if schema else {
            "reply": REPLY_PREFIX + conv.last_user_text[:MAX_ECHO_CHARS]
        }
        text = json.dumps(value)
    else:
        text = REPLY_PREFIX + conv.last_user_text[:MAX_ECHO_CHARS]
    text, stop = _cut_at_stop(text, conv.stop)
    finish = "stop_sequence" if stop else "stop"
    words = text.split()
    if conv.max_tokens is not None and len(words) > conv.max_tokens:
        text, finish, stop = " ".join(words[: conv.max_tokens]), "length", None
    return Reply(text, [], thought, finish, stop, input_tokens, count_words(text), reasoning_tokens)


def split_words(text: str) -> list[str]:
    """Stream pieces: one word plus its trailing space each; joined they give `text` back."""
    return [piece for piece in re.findall(r"\s*\S+\s*|\s+", text) if piece]


def split_fixed(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit-length vector seeded by the text: same text, same vector, on every run."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    raw = [rng.uniform(-1.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    # Round-trip through float32 so the float and base64 encodings decode to equal numbers.
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in raw]


def embedding_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def dated_model(model: str, suffix: str) -> str:
    """Providers answer with the pinned snapshot of an alias (gpt-4o-mini -> …-2024-07-18)."""
    if re.search(r"\d{4}-?\d{2}-?\d{2}$", model):
        return model
    return f"{model}-{suffix}"
