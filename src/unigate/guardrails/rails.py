"""Guardrails compiled once per configuration (regular expressions, keyword alternations): what
each checks a text for, and what it writes in place of what it found."""

from __future__ import annotations

from dataclasses import dataclass, field

from unigate.guardrails.detect.findings import Finding
from unigate.guardrails.detect.keywords import KeywordMatcher
from unigate.guardrails.detect.pii import PiiDetector
from unigate.guardrails.detect.topics import TopicMatcher
from unigate.guardrails.edits import PLACEHOLDER_MAX, Edit, Placeholders
from unigate.guardrails.spec import DEFAULT_WINDOW, GuardrailSpec, GuardrailSpecError

REDACTED = "[REDACTED]"
MIN_MARGIN = 64  # characters a stream window keeps back: a value split across deltas is seen whole


@dataclass(slots=True)
class Check:
    flagged: bool
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)


class LocalRail:
    """A guardrail that runs in the gateway itself (pii, keywords, topics): microseconds."""

    # whether it needs the whole text at once (an off-topic test cannot judge a fragment)
    whole_text = False
    margin = MIN_MARGIN

    def __init__(self, spec: GuardrailSpec) -> None:
        self.spec = spec

    def check(self, text: str) -> Check:
        raise NotImplementedError

    def replacement(self, finding: Finding, text: str, placeholders: Placeholders) -> str:
        return REDACTED

    def edits(self, text: str, check: Check, placeholders: Placeholders) -> list[Edit]:
        return [(f.start, f.end, self.replacement(f, text, placeholders)) for f in check.findings]


class PiiRail(LocalRail):
    def __init__(self, spec: GuardrailSpec) -> None:
        super().__init__(spec)
        self.detector = PiiDetector(spec.options.get("entities"))

    def check(self, text: str) -> Check:
        found = self.detector.find(text)
        if not found:
            return Check(False)
        kinds = sorted({f.kind for f in found})
        return Check(True, f"found {', '.join(kinds)}", found)

    def replacement(self, finding: Finding, text: str, placeholders: Placeholders) -> str:
        return placeholders.mask(finding.kind, text[finding.start:finding.end], self.spec.phase == "input")


class KeywordRail(LocalRail):
    def __init__(self, spec: GuardrailSpec) -> None:
        super().__init__(spec)
        o = spec.options
        try:
            self.matcher = KeywordMatcher(o.get("words", ()), o.get("patterns", ()),
                                          case_sensitive=o.get("case_sensitive", False))
        except ValueError as e:
            raise GuardrailSpecError(spec.name, f"patterns: {e}") from None  # (indexed by the caller)
        self.margin = max(MIN_MARGIN, self.matcher.longest_literal + 1)

    def check(self, text: str) -> Check:
        found = self.matcher.find(text)
        if not found:
            return Check(False)
        labels = sorted({f.label for f in found})
        return Check(True, "matched " + ", ".join(repr(label) for label in labels[:5]), found)


class TopicRail(LocalRail):
    def __init__(self, spec: GuardrailSpec) -> None:
        super().__init__(spec)
        self.matcher = TopicMatcher(spec.options.get("allowed"), spec.options.get("denied"))
        self.whole_text = bool(spec.options.get("allowed"))

    def check(self, text: str) -> Check:
        flagged, reason = self.matcher.check(text)
        return Check(flagged, reason)


_LOCAL: dict[str, type[LocalRail]] = {"pii": PiiRail, "keywords": KeywordRail, "topics": TopicRail}


@dataclass(slots=True)
class PhaseRails:
    local: list[LocalRail] = field(default_factory=list)
    judges: list[GuardrailSpec] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.local or self.judges)


class EndpointGuardrails:
    """An endpoint's guardrails, compiled; shared by every request to it until the next reload."""

    def __init__(self, specs: list[GuardrailSpec], response: str = "error", window: int = DEFAULT_WINDOW) -> None:
        self.specs = specs
        self.response = response  # "error" (400) or "content_filter" (a filtered answer)
        self.window = window
        self.input, self.output = PhaseRails(), PhaseRails()
        for i, spec in enumerate(specs):
            phase = self.input if spec.phase == "input" else self.output
            if spec.type == "judge":
                phase.judges.append(spec)
                continue
            try:
                phase.local.append(_LOCAL[spec.type](spec))
            except (GuardrailSpecError, ValueError) as e:  # a pattern that does not compile
                message = e.message if isinstance(e, GuardrailSpecError) else str(e)
                raise GuardrailSpecError(f"guardrails[{i}] ({spec.name})", message) from None
        # input placeholders given back in the answer (the answer is then read, as output rails do)
        self.restore = any(r.spec.options.get("restore") and r.spec.enforced for r in self.input.local)
        self.margin = max([PLACEHOLDER_MAX + 1] + [r.margin for r in self.output.local])
        # an enforcing judge or off-topic test of the answer sees it whole: a stream is held to its end
        self.holds_whole_stream = any(j.enforced for j in self.output.judges) or any(
            r.whole_text and r.spec.enforced for r in self.output.local)
