"""Edits to text (spans replaced), and the typed placeholders that stand in for masked values.

A request's placeholders are numbered per kind in order of appearance, the same value getting
the same placeholder everywhere in the conversation (`<EMAIL_1>` twice means one address), so
the model can still refer to it and the answer can be given the original back."""

from __future__ import annotations

import re
from collections.abc import Iterable

Edit = tuple[int, int, str]  # (start, end, replacement) over a text
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)_(\d{1,4})>")
PLACEHOLDER_MAX = 24  # characters: the longest placeholder a stream window must see whole


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    out: list[str] = []
    at = 0
    for start, end, replacement in edits:
        out.append(text[at:start])
        out.append(replacement)
        at = end
    out.append(text[at:])
    return "".join(out)


def non_overlapping(edits: Iterable[Edit]) -> list[Edit]:
    """Sorted by start; of two overlapping edits the earlier (then longer) one wins."""
    kept: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e[0], -e[1])):
        if not kept or edit[0] >= kept[-1][1]:
            kept.append(edit)
    return kept


def edited_slice(text: str, a: int, b: int, edits: list[Edit]) -> str:
    """text[a:b] with the edits applied: an edit that starts in the slice is written whole
    there (its replacement), the part of an edit that started before `a` is left out."""
    out: list[str] = []
    at = a
    for start, end, replacement in edits:
        if end <= at or start >= b:
            continue
        if start < at:  # began in an earlier slice, which wrote the replacement
            at = end
            continue
        out.append(text[at:start])
        out.append(replacement)
        at = end
    if at < b:
        out.append(text[at:b])
    return "".join(out)


class Placeholders:
    __slots__ = ("_by_value", "_counts", "_values")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}  # placeholder -> original
        self._counts: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, kind: str, value: str, restorable: bool = True) -> str:
        """The value's placeholder. Only input values are `restorable`: a value the model wrote,
        masked on its way out, must not be given back by the restore step after it."""
        key = (kind, value)
        found = self._by_value.get(key)
        if found is None:
            n = self._counts[kind] = self._counts.get(kind, 0) + 1
            found = self._by_value[key] = f"<{kind}_{n}>"
            if restorable:
                self._values[found] = value
        return found

    def restore_edits(self, text: str) -> list[Edit]:
        """Where this request's placeholders occur in `text`, and their originals."""
        if not self._values or "<" not in text:
            return []
        return [(m.start(), m.end(), self._values[m.group(0)]) for m in _PLACEHOLDER.finditer(text)
                if m.group(0) in self._values]

    def restore(self, text: str) -> str:
        return apply_edits(text, self.restore_edits(text))
