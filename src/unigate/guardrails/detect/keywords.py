"""Configured words and regular expressions, found in a text.

The words are compiled into one alternation, written as a trie ("sca(?:m|r)" rather than "scam|scar"):
Python's regex engine tries every alternative at every position, so fifty flat alternatives over 2 KB
cost milliseconds, a trie tens of microseconds. Without case, the trie runs over the lower-cased text
(a case-insensitive regex is several times slower). And before any of it, a cheap test over the text's
words (C string methods only) tells whether any configured word can match at all."""

from __future__ import annotations

import re
from collections.abc import Sequence

from unigate.guardrails.detect.findings import Finding, merge

# ASCII characters \w does not match, as spaces: split() then yields the words \b sees (as bytes:
# lower-cased too, for a matcher that ignores case)
_NON_WORD_TO_SPACE = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})
_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))
_WORDS_AS_IS = bytes(c if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32 for c in range(256))
_WORDS_LOWER = _WORDS_AS_IS.translate(_LOWER)
# the only non-ASCII characters that re.IGNORECASE matches to ASCII letters (İ ı ~ i, ſ ~ s, Kelvin ~ k)
_ASCII_LOOKALIKES = ("\u0130", "\u0131", "\u017f", "\u212a")


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"  # what \w matches


class _Node(dict[str, "_Node"]):
    end = False  # a configured word ends here


def _trie_pattern(words: Sequence[str], whole_words: bool) -> str:
    root = _Node()
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, _Node())
        node.end = True

    def emit(node: _Node, last: str) -> str:
        alternatives = []
        for ch, child in node.items():
            head = r"\s+" if ch == " " else re.escape(ch)  # a phrase matches across any run of white space
            if node is root and whole_words and _is_word_char(ch):
                head += r"(?<!\w.)"  # after the first character, so the engine can skip to first characters
            alternatives.append(head + emit(child, ch))
        if node.end:  # last: a longer word through this node is tried first
            alternatives.append(r"\b" if whole_words and _is_word_char(last) else "")
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return emit(root, "")


class KeywordMatcher:
    """`find` gives a KEYWORD finding per match, labelled with the word or pattern as configured."""

    __slots__ = ("_words", "_exact", "_any_case", "_labels", "_required", "_patterns", "_case_sensitive",
                 "_whole_words", "_longest")

    def __init__(self, words: Sequence[str] = (), patterns: Sequence[str] = (), case_sensitive: bool = False,
                 whole_words: bool = True) -> None:
        self._case_sensitive = case_sensitive
        self._whole_words = whole_words
        self._labels: dict[str, str] = {}  # word as matched (lower-cased, single spaces) -> as configured
        for word in words:
            key = self._key(word)
            if not key:
                raise ValueError("an empty keyword would match everywhere")
            self._labels.setdefault(key, word)
        self._words = tuple(self._labels)
        self._longest = max(map(len, words), default=0)
        pattern = _trie_pattern(self._words, whole_words) if self._words else ""
        self._exact = re.compile(pattern) if pattern else None  # over the text, or the text lower-cased
        self._any_case = re.compile(pattern, re.IGNORECASE) if pattern and not case_sensitive else None
        self._required = self._required_tokens()
        compiled: list[tuple[str, re.Pattern[str]]] = []
        for pattern in patterns:
            try:
                compiled.append((pattern, re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)))
            except re.error as e:
                raise ValueError(f"bad pattern {pattern!r}: {e}") from None
        self._patterns = tuple(compiled)

    @property
    def longest_literal(self) -> int:
        """The longest configured word, in characters (a stream must keep this much back to see it whole)."""
        return self._longest

    def _key(self, word: str) -> str:
        word = " ".join(word.split())
        return word if self._case_sensitive else word.lower()

    def _required_tokens(self) -> frozenset[bytes] | None:
        """For each word, something the text must contain for the word to match: one of its words (whole
        words) or the word itself. None when some word has nothing the cheap test can check."""
        if not all(word.isascii() for word in self._words):
            return None
        if not self._whole_words:
            return frozenset(word.encode("ascii") for word in self._words)
        required: set[bytes] = set()
        for word in self._words:
            tokens = word.translate(_NON_WORD_TO_SPACE).split()
            if not tokens:
                return None
            required.add(max(tokens, key=len).encode("ascii"))
        return frozenset(required)

    def _may_match_words(self, text: str) -> bool:
        required = self._required
        if required is None:
            return True
        if not self._case_sensitive and any(c in text for c in _ASCII_LOOKALIKES):
            return True
        raw = text.encode("ascii", "replace")  # an ASCII word never matches across a non-ASCII character
        if not self._whole_words:
            folded = raw if self._case_sensitive else raw.translate(_LOWER)
            return any(word in folded for word in required)
        # A whole-word match of an ASCII word has non-word characters (or the ends) around each of its
        # words: with all non-word bytes as spaces, split() still yields those words.
        return not required.isdisjoint(raw.translate(_WORDS_AS_IS if self._case_sensitive else _WORDS_LOWER).split())

    def _literal_matches(self, text: str) -> list[Finding]:
        assert self._exact is not None
        if self._any_case is None:  # case-sensitive
            return [Finding(m.start(), m.end(), "KEYWORD", self._labels[self._key(m.group())])
                    for m in self._exact.finditer(text)]
        low = text.lower()
        if len(low) == len(text) and not any(c in text for c in _ASCII_LOOKALIKES):
            return [Finding(m.start(), m.end(), "KEYWORD", self._labels[self._key(m.group())])
                    for m in self._exact.finditer(low)]
        # lower-casing would move offsets ('İ' becomes two characters) or miss 'ſ' ~ 's': the slow way
        return [Finding(m.start(), m.end(), "KEYWORD", self._label_any_case(m.group()))
                for m in self._any_case.finditer(text)]

    def _label_any_case(self, matched: str) -> str:
        label = self._labels.get(self._key(matched))
        if label is not None:
            return label
        return next(label for key, label in self._labels.items()  # 'ſecret' lower-cases to itself
                    if re.fullmatch(_trie_pattern([key], False), matched, re.IGNORECASE))

    def find(self, text: str) -> list[Finding]:
        found = self._literal_matches(text) if self._exact is not None and self._may_match_words(text) else []
        if not self._patterns:
            return found  # one alternation's matches are already sorted and disjoint
        for label, pattern in self._patterns:
            found.extend(Finding(m.start(), m.end(), "KEYWORD", label)
                         for m in pattern.finditer(text) if m.end() > m.start())
        return merge(found)
