"""Topics as lists of keywords: a text is flagged when it touches a denied topic, or when it is long
enough to have a subject and touches none of the allowed ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from unigate.guardrails.detect.findings import Finding, merge
from unigate.guardrails.detect.keywords import KeywordMatcher


def _compile(topics: Mapping[str, Sequence[str]] | None, which: str) -> tuple[tuple[str, KeywordMatcher], ...]:
    compiled: list[tuple[str, KeywordMatcher]] = []
    for name, words in (topics or {}).items():
        if isinstance(words, str) or not words:
            raise ValueError(f"{which} topic '{name}': give a list of keywords or phrases")
        compiled.append((name, KeywordMatcher(words)))  # whole words, any case: one alternation per topic
    return tuple(compiled)


class TopicMatcher:
    __slots__ = ("_allowed", "_denied", "_off_topic", "min_words")

    def __init__(self, allowed: Mapping[str, Sequence[str]] | None = None,
                 denied: Mapping[str, Sequence[str]] | None = None, min_words: int = 3) -> None:
        self._allowed = _compile(allowed, "allowed")
        self._denied = _compile(denied, "denied")
        if not self._allowed and not self._denied:
            raise ValueError("give allowed or denied topics (or both)")
        self._off_topic = f"off topic (allowed: {', '.join(name for name, _ in self._allowed)})"
        self.min_words = min_words  # a greeting or "thanks!" has no subject to be off

    def check(self, text: str) -> tuple[bool, str]:
        """(True, why) when the text touches a denied topic or strays from the allowed ones."""
        for name, matcher in self._denied:
            if matcher.find(text):
                return True, f"denied topic '{name}'"
        if (self._allowed and len(text.split(maxsplit=self.min_words)) >= self.min_words
                and not any(matcher.find(text) for _, matcher in self._allowed)):
            return True, self._off_topic
        return False, ""

    def find(self, text: str) -> list[Finding]:
        """Where the text touches denied topics, labelled with the topic."""
        return merge(Finding(f.start, f.end, "KEYWORD", name)
                     for name, matcher in self._denied for f in matcher.find(text))
