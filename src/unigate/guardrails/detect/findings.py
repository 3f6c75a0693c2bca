"""What a detector reports: a span of the text and what kind of thing is there (never the thing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    start: int  # offset in the text (str indices)
    end: int  # exclusive
    kind: str  # upper-case entity kind used in placeholders: "EMAIL", "PHONE", ..., "SECRET", "KEYWORD"
    label: str = ""  # finer detail for reasons and logs ("us_ssn", "aws_access_key", a keyword); never the value


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted by start, without overlaps: of two that overlap the earlier-starting one stays, and of two
    starting together the longer (a replacement can only be made once per character)."""
    kept: list[Finding] = []
    end = -1
    for f in sorted(findings, key=lambda f: (f.start, f.start - f.end)):
        if f.start >= end:
            kept.append(f)
            end = f.end
    return kept
