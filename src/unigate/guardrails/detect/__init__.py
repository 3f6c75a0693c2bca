"""Local detectors (regular expressions and checksums, no model): personal data and credentials,
configured keywords and topics. Each reports findings: spans of the text, never the values."""

from unigate.guardrails.detect.findings import Finding, merge
from unigate.guardrails.detect.keywords import KeywordMatcher
from unigate.guardrails.detect.pii import PII_ENTITIES, PiiDetector
from unigate.guardrails.detect.topics import TopicMatcher

__all__ = ["PII_ENTITIES", "Finding", "KeywordMatcher", "PiiDetector", "TopicMatcher", "merge"]
