"""The local guardrail detectors: personal data and credentials (exact spans, checksums, and a corpus
of ordinary text that must give nothing), keywords and topics, and what they cost."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from unigate.guardrails.detect import PII_ENTITIES, Finding, KeywordMatcher, PiiDetector, TopicMatcher, merge

DETECTOR = PiiDetector()


def found(text: str, detector: PiiDetector = DETECTOR) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start:f.end]) for f in detector.find(text)]


def labels(text: str) -> list[str]:
    return [f.label for f in DETECTOR.find(text)]


# --- findings --------------------------------------------------------------------------------------

def test_merge_sorts_and_keeps_the_earliest_then_longest() -> None:
    a, b, c, d = Finding(5, 9, "X"), Finding(0, 3, "X"), Finding(5, 12, "X"), Finding(10, 14, "X")
    assert merge([a, b, c, d]) == [b, c]
    assert merge([Finding(2, 4, "X"), Finding(4, 6, "X")]) == [Finding(2, 4, "X"), Finding(4, 6, "X")]
    assert merge([]) == []


def test_unknown_entity_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'emails'.*email, phone, credit_card, iban, national_id"):
        PiiDetector(["emails"])
    assert PiiDetector(list(PII_ENTITIES)).find("alice@example.com") == [Finding(0, 17, "EMAIL", "email")]


def test_only_the_configured_entities_are_reported() -> None:
    text = "Mail alice@example.com or call +44 20 7946 0958."
    assert found(text, PiiDetector(["phone"])) == [("PHONE", "+44 20 7946 0958")]
    assert found(text, PiiDetector(["email"])) == [("EMAIL", "alice@example.com")]
    # a phone-only detector still knows an IBAN when it sees one: its digits are not a phone number
    assert found("IBAN DE89 3704 0044 0532 0130 00", PiiDetector(["phone"])) == []


# --- email -----------------------------------------------------------------------------------------

def test_emails_in_sentences() -> None:
    text = ("Write to alice.smith+news@example.co.uk, cc bob_99@mail.example.com. "
            "Old one: (carol-x@sub.domain.org)... and <dave@example.io>")
    assert found(text) == [("EMAIL", "alice.smith+news@example.co.uk"), ("EMAIL", "bob_99@mail.example.com"),
                           ("EMAIL", "carol-x@sub.domain.org"), ("EMAIL", "dave@example.io")]


@pytest.mark.parametrize("text", ["foo@bar", "ping @handle now", "ssh user@localhost", "x = a @ b",
                                  "@property\ndef name(self): ...", "icon@2x.png", "npm i react@18.2.0",
                                  "a..b@example.com", "@scope/pkg@1.0.0"])
def test_not_emails(text: str) -> None:
    assert [k for k, _ in found(text) if k == "EMAIL"] == []


# --- phone -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", ["(415) 555-0132", "415-555-0132", "415.555.0132", "415 555 0132",
                                    "1-800-555-0199", "+1 (415) 555-0132", "+14155550132", "+44 20 7946 0958",
                                    "+44 (0)20 7946 0958", "+49 30 123456", "0044 20 7946 0958", "020 7946 0958",
                                    "01 23 45 67 89", "+33 1 23 45 67 89", "030 123456", "+49-30-1234567"])
def test_phone_numbers(number: str) -> None:
    text = f"You can reach me on {number}, any day."
    assert found(text) == [("PHONE", number)]


def test_phone_length_limits() -> None:
    assert found("call +1 555 12") == []  # too short
    assert found("call +44 20 7946 0958 1234 5678") == []  # longer than E.164 allows


# --- credit cards ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("number", "brand"), [
    ("4111 1111 1111 1111", "visa"), ("4111-1111-1111-1111", "visa"), ("4111111111111111", "visa"),
    ("5555 5555 5555 4444", "mastercard"), ("2223003122003222", "mastercard"), ("3782 822463 10005", "amex"),
    ("6011111111111117", "discover"), ("3530111333300000", "jcb"), ("30569309025904", "diners"),
    ("6200000000000005", "unionpay"), ("4222222222222", "visa"),
])
def test_card_numbers(number: str, brand: str) -> None:
    text = f"My card is {number}. Expires 12/27."
    assert found(text) == [("CREDIT_CARD", number)]
    assert labels(text) == [brand]


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "4111111111111112", "5555555555554445",
                                    "9111111111111111",  # passes Luhn, no network issues 9
                                    "4111 1111-1111 1111",  # mixed separators
                                    "1714559400123"])  # a timestamp in milliseconds
def test_not_card_numbers(number: str) -> None:
    assert found(f"Number {number} here") == []


# --- IBAN ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000",
                                  "GB29 NWBK 6016 1331 9268 19", "FR14 2004 1010 0505 0001 3M02 606",
                                  "NL91ABNA0417164300", "ES9121000418450200051332", "IT60X0542811101000000123456",
                                  "BE68 5390 0754 7034", "CH9300762011623852957", "AT611904300234573201",
                                  "PL61109010140000071219812874", "NO9386011117947", "SE4550000000058398257466"])
def test_ibans(iban: str) -> None:
    text = f"Please transfer it to {iban} by Friday."
    assert found(text) == [("IBAN", iban)]
    assert labels(text) == ["iban_" + iban[:2].lower()]


def test_iban_stops_at_its_registered_length() -> None:
    text = "Account BE68 5390 0754 7034 SENT yesterday"
    assert found(text) == [("IBAN", "BE68 5390 0754 7034")]


@pytest.mark.parametrize("text", ["DE88 3704 0044 0532 0130 00",  # wrong check digits
                                  "DE89 3704 0044 0532 0130 0",  # one character short for DE
                                  "GB29NWBK60161331926818",  # wrong checksum
                                  "ZZ89370400440532013000",  # no such country
                                  "XX12 ABCD 0123 4567 89"])
def test_not_ibans(text: str) -> None:
    assert found(f"IBAN: {text}.") == []


# --- national identifiers --------------------------------------------------------------------------

def test_us_ssn() -> None:
    assert found("My SSN is 123-45-6789.") == [("NATIONAL_ID", "123-45-6789")]
    assert labels("My SSN is 123-45-6789.") == ["us_ssn"]
    # without dashes only after a word that says what it is
    assert found("ssn: 078051120") == [("NATIONAL_ID", "078051120")]
    assert found("Social Security Number 078 05 1120 on file") == [("NATIONAL_ID", "078 05 1120")]
    assert found("order 078051120 shipped") == []


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "900-12-3456", "987-65-4321", "123-00-4567",
                                 "123-45-0000"])
def test_ssn_ranges_never_issued(ssn: str) -> None:
    assert found(f"SSN {ssn}") == []


def test_uk_national_insurance_number() -> None:
    for nino in ("AB 12 34 56 C", "AB123456C", "JG 103759 A"):
        text = f"NI number {nino}, thanks"
        assert found(text) == [("NATIONAL_ID", nino)]
        assert labels(text) == ["uk_nino"]
    for bad in ("GB123456A", "DA123456A", "AO123456A", "AB123456E", "QQ123456C"):
        assert found(f"NI number {bad}") == []


def test_french_nir() -> None:
    assert found("NIR 1 85 05 78 006 084 91") == [("NATIONAL_ID", "1 85 05 78 006 084 91")]
    assert labels("n° 185057800608491") == ["fr_nir"]
    assert labels("Corsica 2 69 02 2A 341 732 14") == ["fr_nir"]
    assert found("NIR 1 85 05 78 006 084 92") == []  # wrong key


# --- IP addresses ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "label"), [
    ("192.168.1.20", "ipv4"), ("8.8.8.8", "ipv4"), ("255.255.255.0", "ipv4"),
    ("2001:db8::8a2e:370:7334", "ipv6"), ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ipv6"),
    ("fe80::1", "ipv6"), ("::ffff:192.0.2.128", "ipv6"),
])
def test_ip_addresses(address: str, label: str) -> None:
    text = f"The request came from {address}, twice."
    assert found(text) == [("IP_ADDRESS", address)]
    assert labels(text) == [label]


@pytest.mark.parametrize("text", ["256.1.1.1", "version 1.2.3.4.5", "10.0.0", "01.02.03.04", "a[10::20]",
                                  "x[::-1]", "dead::beef", "12:30:45", "00:1A:2B:3C:4D:5E"])
def test_not_ip_addresses(text: str) -> None:
    assert found(f"see {text} ok") == []


# --- secrets ---------------------------------------------------------------------------------------

# made up, with the shapes of the real ones
OPENAI = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345"
ANTHROPIC = "sk-ant-api03-Xy7Zab9Cde1Fgh2Ijk3Lmn4Opq5Rst6"
AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_PAT = "github_pat_11ABCDEFG0123456789_abcdefghijKLMNOP"
SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"
GOOGLE = "AIza" + "SyB1c2D3e4F5g6H7i8J9k0L1m2N3o4P5q6R"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\nbase64body==\n"
       "-----END RSA PRIVATE KEY-----")


@pytest.mark.parametrize(("secret", "label"), [
    (OPENAI, "openai_api_key"), ("sk-" + "T3BlbkFJ" * 5 + "x1Y", "openai_api_key"), (ANTHROPIC, "anthropic_api_key"),
    (AWS, "aws_access_key"), ("ASIAY34FZKBOKMUTVV7A", "aws_access_key"), (GITHUB, "github_token"),
    ("gho_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2", "github_token"), (GITHUB_PAT, "github_token"),
    (SLACK, "slack_token"), (GOOGLE, "google_api_key"), (STRIPE, "stripe_secret_key"),
    ("rk_live_" + "51HqLyjWDarjtT1zdp7dcXyz", "stripe_secret_key"), (JWT, "jwt"), (PEM, "private_key"),
])
def test_keys_and_tokens(secret: str, label: str) -> None:
    assert len(GOOGLE) == 39 and len(AWS) == 20
    text = f"here it is:\n{secret}\nkeep it safe"
    assert found(text) == [("SECRET", secret)]
    assert labels(text) == [label]


def test_private_key_without_its_end_line() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIEvQIBAD"
    assert found(text) == [("SECRET", text)]


@pytest.mark.parametrize(("text", "value", "label"), [
    ('password = "correct horse battery staple"', "correct horse battery staple", "password_assignment"),
    ('{"api_key": "Zx81kLmQ0pW3aa"}', "Zx81kLmQ0pW3aa", "api_key_assignment"),
    ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2", "password_assignment"),
    ("secret: 's3cr3t-v4lue'", "s3cr3t-v4lue", "secret_assignment"),
    ("clientSecret: 'Qm9vZ2llV29vZ2ll'", "Qm9vZ2llV29vZ2ll", "secret_assignment"),
    ("--passwd=Tr0ub4dor&3", "Tr0ub4dor&3", "password_assignment"),
    ("auth_token => 'abc123def456ghi'", "abc123def456ghi", "token_assignment"),
    ("x-api-key: 9f8e7d6c5b4a3210", "9f8e7d6c5b4a3210", "api_key_assignment"),
])
def test_credential_assignments_give_the_value(text: str, value: str, label: str) -> None:
    assert found(f"config:\n{text}\n") == [("SECRET", value)]
    assert labels(f"config:\n{text}\n") == [label]


@pytest.mark.parametrize("text", ['password = "short"', "password = self.password",
                                  'api_key = os.environ["OPENAI_API_KEY"]', "password: ********",
                                  'api_key = "<your-api-key>"', "token = tokenizer.encode(text)",
                                  'key = "cache-key-1234"', "monkey = 12345678x", "bypass = enabled_always",
                                  "secret = ${SECRET_VALUE}", "The password is strong; token: see-the-docs-page",
                                  "passport: AB1234567"])
def test_not_credential_assignments(text: str) -> None:
    assert [k for k, _ in found(text) if k == "SECRET"] == []


def test_key_in_an_assignment_is_reported_once_as_the_key() -> None:
    text = f'OPENAI_API_KEY="{OPENAI}"'
    assert found(text) == [("SECRET", OPENAI)]
    assert labels(text) == ["openai_api_key"]


# --- ordinary text ---------------------------------------------------------------------------------

BENIGN = [
    "The meeting is on 2024-05-01 at 10:30, and the follow-up on 01/06/2024 at 14:45:30.",
    "On 05.06.2024 we met; the deadline is 31-12-2024 or 31.12.24. ISO: 2024-05-01T10:30:00Z.",
    "Released v1.2.3 today; it needs Python 3.11.4 and Node 18.17.0; semver 2.0.0-rc.1+build.5.",
    "Chrome 120.0.6099.109, Firefox 121.0, Windows build 10.0.19045.3693, kernel 6.5.0-35-generic.",
    "It costs $1,299.00, or €1.299,00, or £12.50 a month; 1,000,000 users; 10 000 000 views; ¥ 123456789.",
    "ids 123e4567-e89b-12d3-a456-426614174000 and 550e8400-e29b-41d4-a716-446655440000",
    "commit 9b127a2 and 07b121e3f5c0a1b2c3d4e5f60718293a4b5c6d7e, tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "colours #ff0000, #0a0b0c, #123456 and rgb(12, 34, 56)",
    "Order #12345, ticket JIRA-4521, invoice INV-2024-0042, PO 4500012345, SKU 0001-2345, room 101.",
    "2 + 2 = 4, 3 * 7 = 21, x^2 + 3x - 10 = 0, 1/3 ≈ 0.333, e = 2.71828, π = 3.14159265358979.",
    "x = a @ b  # matrix product\n@property\ndef name(self) -> str: ...\nssh user@localhost",
    "for i in range(10):\n    print(arr[1::2], arr[::-1], 0x7fff5fbff8a8)\nstd::vector<int> v; port = 8080",
    "See https://example.com/docs/v2/page?id=12345&lang=en#section-3 or http://localhost:8080/health "
    "and https://github.com/org/repo/pull/1234.",
    "# Title\n\n- item 1\n- item 2\n\n| col | 2 |\n|---|---|\n| a | 3 |\n\n**bold** _it_ `code` [link](/a/b)",
    "The committee reviewed the proposal and agreed that the new schedule would suit most members, "
    "although a few asked for more time to read the draft before the vote.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.",
    '{"id": 42, "count": 3, "price": 9.99, "tags": ["a", "b"], "ratio": 0.75, "year": 2024, "ok": true}',
    "a risk-averse, task-based, desk-bound, whisk-like sk-learn-compatible-estimators-are-fine approach",
    "from 10:30-11:45, at 9.30 am, 12:00:00, in 1999, 2000, 2024 and 2025, or 2023 2024 2025",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2; timestamp 1714559400 and 1714559400123",
    "MAC 00:1A:2B:3C:4D:5E, lat 48.8566, lon 2.3522, scores 98.6 99.1 100.0, 24/7, 365 days",
    "The password is strong. Press the key. The token bucket refills. Keep your secrets.",
    "Call extension 4521 or dial 0 for the operator; top 10 list; 3-2-1 go; 555 people",
    "user@example has no domain; email me @home; 5 @ 10 each",
]


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_text_has_no_findings(text: str) -> None:
    assert found(text) == []


def test_mixed_text_finds_each_once_with_exact_spans() -> None:
    text = (f"Hi, I'm Ann (ann.lee@example.org, +1 415-555-0132). Card 4111 1111 1111 1111, IBAN "
            f"GB29 NWBK 6016 1331 9268 19, SSN 123-45-6789, from 10.0.0.7, key {AWS}. Released 2024-05-01.")
    assert found(text) == [("EMAIL", "ann.lee@example.org"), ("PHONE", "+1 415-555-0132"),
                           ("CREDIT_CARD", "4111 1111 1111 1111"), ("IBAN", "GB29 NWBK 6016 1331 9268 19"),
                           ("NATIONAL_ID", "123-45-6789"), ("IP_ADDRESS", "10.0.0.7"), ("SECRET", AWS)]


def test_non_ascii_text() -> None:
    text = "Écrivez à josé.garcía@example.com ou zoë@example.fr — merci “bob@example.com”"
    assert found(text) == [("EMAIL", "bob@example.com")]  # local parts are ASCII only
    assert found("İstanbul ofisi: +90 212 555 01 32") == [("PHONE", "+90 212 555 01 32")]
    # 'İ' lower-cases to two characters: the keyword searches take the slower way, offsets still exact
    assert found("İİ password = 'hunter2hunter2', SSN 078051120") == [("SECRET", "hunter2hunter2"),
                                                                     ("NATIONAL_ID", "078051120")]
    assert found("") == []


def test_entities_at_the_ends_and_far_from_other_digits() -> None:
    filler = "word " * 400
    text = f"4111111111111111 {filler} 1 {filler}+44 20 7946 0958"
    assert found(text) == [("CREDIT_CARD", "4111111111111111"), ("PHONE", "+44 20 7946 0958")]


def test_repetitive_input_stays_linear() -> None:
    """Inputs that would make a careless pattern quadratic; these finish in milliseconds."""
    for text in ("1" * 50000, "12-" * 20000, "a@" * 20000, "::1:" * 10000, "sk-" + "a-" * 20000,
                 "AB12 " * 10000, "password=" * 5000, "+1 " * 20000, "0044 20 " * 5000):
        assert found(text) == []
    assert len(found("-----BEGIN PRIVATE KEY-----" * 2000)) == 2000


# --- keywords --------------------------------------------------------------------------------------

def test_keywords_literals_and_patterns() -> None:
    m = KeywordMatcher(["ass", "New York", "c++", "secret plan"], [r"\bproject-\d{3}\b"])
    text = "A class in new  york about C++ and PROJECT-042, the Secret Plan; ass."
    hits = [(f.label, text[f.start:f.end]) for f in m.find(text)]
    assert hits == [("New York", "new  york"), ("c++", "C++"), (r"\bproject-\d{3}\b", "PROJECT-042"),
                    ("secret plan", "Secret Plan"), ("ass", "ass")]
    assert all(f.kind == "KEYWORD" for f in m.find(text))
    assert m.longest_literal == len("secret plan")


def test_keywords_whole_words_and_case() -> None:
    assert KeywordMatcher(["ass"]).find("class assessment bass") == []
    assert [f.label for f in KeywordMatcher(["ass"], whole_words=False).find("class")] == ["ass"]
    sensitive = KeywordMatcher(["Secret"], case_sensitive=True)
    assert sensitive.find("a secret") == [] and len(sensitive.find("a Secret")) == 1
    assert len(KeywordMatcher(["secret"]).find("a SECRET, a Secret")) == 2
    assert len(KeywordMatcher(["straße"]).find("Die STRAßE ist lang")) == 1
    assert len(KeywordMatcher(["kill"]).find("“kill”—now")) == 1  # non-ASCII punctuation around it
    assert len(KeywordMatcher(["secret"]).find("ſecret")) == 1  # long s: re.IGNORECASE matches it to s
    text = "Visit İstanbul and ıstanbul"  # 'İ' lower-cases to two characters: offsets must not move
    assert [(f.label, text[f.start:f.end]) for f in KeywordMatcher(["istanbul"]).find(text)] == [
        ("istanbul", "İstanbul"), ("istanbul", "ıstanbul")]


def test_keywords_longest_first_and_bad_pattern() -> None:
    m = KeywordMatcher(["new york", "new york city"])
    text = "I love New York City."
    assert [(f.label, text[f.start:f.end]) for f in m.find(text)] == [("new york city", "New York City")]
    with pytest.raises(ValueError, match=r"bad pattern '\(unclosed': missing \)"):
        KeywordMatcher(patterns=["(unclosed"])
    with pytest.raises(ValueError, match="empty"):
        KeywordMatcher([" "])
    assert KeywordMatcher().find("anything") == [] and KeywordMatcher().longest_literal == 0


# --- topics ----------------------------------------------------------------------------------------

TOPICS = TopicMatcher({"billing": ["invoice", "refund", "payment"], "shipping": ["delivery", "tracking number"]},
                      {"politics": ["election", "senator"], "medical": ["diagnosis"]})


def test_denied_topics() -> None:
    assert TOPICS.check("Who will win the Election?") == (True, "denied topic 'politics'")
    assert TOPICS.check("My refund and my diagnosis") == (True, "denied topic 'medical'")
    text = "The senator and the ELECTION"
    assert [(f.label, text[f.start:f.end]) for f in TOPICS.find(text)] == [("politics", "senator"),
                                                                          ("politics", "ELECTION")]


def test_allowed_topics_and_short_texts() -> None:
    assert TOPICS.check("Where is my refund for order 12?") == (False, "")
    assert TOPICS.check("What is my Tracking Number, please?") == (False, "")
    assert TOPICS.check("Tell me a joke about cats") == (True, "off topic (allowed: billing, shipping)")
    assert TOPICS.check("hi there") == (False, "")  # too short to be off topic
    assert TOPICS.check("thanks!") == (False, "")
    assert TopicMatcher({"billing": ["invoice"]}, min_words=6).check("tell me a joke") == (False, "")
    assert TopicMatcher(denied={"x": ["y"]}).check("anything at all here") == (False, "")


def test_topics_need_keywords() -> None:
    with pytest.raises(ValueError, match="allowed or denied"):
        TopicMatcher({}, {})
    with pytest.raises(ValueError, match="denied topic 'x'"):
        TopicMatcher(denied={"x": []})


# --- cost ------------------------------------------------------------------------------------------

PROSE = ("The committee reviewed the proposal on Monday and agreed that the new schedule would suit most "
         "members, although a few asked for more time to read the draft. We shipped the release in March "
         "and customers say the pages feel faster; the support team closed 40 tickets in the first week. ")


def _per_call(call: Callable[[str], object], text: str, n: int = 2000) -> float:
    t = time.perf_counter()
    for _ in range(n):
        call(text)
    return (time.perf_counter() - t) / n


def test_cost_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the cost of a call on 2 KB of text; timings are not asserted."""
    benign = (PROSE * 8)[:2048]
    plain = benign.replace("40", "forty")
    pii = (PROSE[:300] + " Mail ann.lee@example.org or call +44 20 7946 0958. " + PROSE[:300]
           + f" Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, key {AWS}. " + PROSE * 5)[:2048]
    assert len(DETECTOR.find(pii)) == 5 and DETECTOR.find(benign) == []
    words = [f"forbidden{i}" for i in range(40)] + ["scam", "fraud", "casino", "weapon", "exploit", "malware",
                                                    "phishing", "launder", "bribe", "secret plan"]
    keywords = KeywordMatcher(words)
    hit = benign[:1000] + " a casino " + benign[1000:2038]
    assert keywords.find(benign) == [] and len(keywords.find(hit)) == 1
    figures = {"pii, 2 KB prose without digits": _per_call(DETECTOR.find, plain),
               "pii, 2 KB prose with a few numbers": _per_call(DETECTOR.find, benign),
               "pii, 2 KB with 5 PII items": _per_call(DETECTOR.find, pii),
               "keywords (50 words), 2 KB, no match": _per_call(keywords.find, benign),
               "keywords (50 words), 2 KB, one match": _per_call(keywords.find, hit)}
    with capsys.disabled():
        print("\nguardrail detectors: " + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in figures.items()))
