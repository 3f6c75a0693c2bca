"""Personal data and credentials in free text, found with regular expressions and checksums alone: no
model, no network. Each entity has a shape (a regular expression compiled at import) and, where it has
one, a check that a random string of that shape fails: Luhn for card numbers, mod 97 and the country's
length for IBANs, the issuing rules for SSNs and NI numbers, `ipaddress` for IP addresses.

Cost matters more than recall at the margins: this runs on every request. The numeric detectors only
look at windows around runs of digits, the email one only around an '@', the credential ones only where
their fixed prefix or keyword occurs, so plain prose costs a few substring searches."""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence

from unigate.guardrails.detect.findings import Finding

PII_ENTITIES: tuple[str, ...] = ("email", "phone", "credit_card", "iban", "national_id", "ip_address", "secret")

# A span taken by an entity earlier in this order is not offered to a later one: the digits of a card
# number or an IBAN are not also a phone number, a key in an assignment is reported as the key.
_PRIORITY = ("secret", "credit_card", "iban", "national_id", "email", "ip_address", "phone")
# what must run, though not reported, so that a phone number is not found inside one of them
_PHONE_BLOCKERS = frozenset({"credit_card", "iban", "national_id", "ip_address"})

# Every numeric entity has a digit within this many characters of each of its ends (an IBAN's country
# code, an NI number's letters, the word "SSN" before a number), so windows this far around the digits
# see all of them. A window ends only where no digit follows within _REACH, so cutting the text there
# cannot shorten a match of a shape that ends in digits. Each window knows how many digits it holds: a
# detector skips those with fewer than its entity has (most numbers in prose are a year or a count).
_REACH = 48
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


class _Scan:
    """One text and what the detectors share about it, worked out when first asked for."""

    __slots__ = ("text", "_low", "_windows")

    def __init__(self, text: str) -> None:
        self.text = text
        self._low: str | None = None
        self._windows: list[tuple[int, int, int]] | None = None

    @property
    def low(self) -> str | None:
        """The text lower-cased for keyword search, or None when that would move offsets (a few
        characters, such as 'İ', lower-case to two)."""
        if self._low is None:
            low = self.text.lower()
            self._low = low if len(low) == len(self.text) else ""
        return self._low or None

    @property
    def windows(self) -> list[tuple[int, int, int]]:
        """(start, end, digits in it), found with bytes methods: a regex scans a character in ~8 ns."""
        if self._windows is None:
            text = self.text
            spans: list[tuple[int, int, int]] = []
            if any(d in text for d in "0123456789"):
                # one byte per character, whatever the text holds; every digit a b"0"
                raw = text.encode("ascii", "replace").translate(_DIGITS_AS_ZERO)
                first = raw.find(b"0")
                while first != -1:
                    last = first
                    while (k := raw.rfind(b"0", last + 1, last + 1 + 2 * _REACH)) != -1:
                        last = k  # windows this close would overlap: one window
                    spans.append((max(0, first - _REACH), min(len(text), last + 1 + _REACH),
                                  raw.count(b"0", first, last + 1)))
                    first = raw.find(b"0", last + 1 + 2 * _REACH)
            self._windows = spans
        return self._windows

    def has_digits(self, min_digits: int) -> bool:
        return any(digits >= min_digits for _, _, digits in self.windows)

    def finditer(self, pattern: re.Pattern[str], min_digits: int) -> Iterator[re.Match[str]]:
        for lo, hi, digits in self.windows:
            if digits >= min_digits:
                yield from pattern.finditer(self.text, lo, hi)


# --- email -----------------------------------------------------------------------------------------

_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})"
                           r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])")
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tiff"})  # icon@2x.png


def _emails(scan: _Scan) -> Iterator[Finding]:
    text = scan.text
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        # stopped by the length limit or inside a word of non-ASCII letters: not a whole local part
        cut = start > 0 and (text[start - 1] in _EMAIL_LOCAL or text[start - 1].isalnum())
        while start < at and text[start] == ".":  # "...see alice@x.org" ends a sentence; not part of it
            start += 1
        local = text[start:at]
        m = _EMAIL_DOMAIN.match(text, at + 1)
        if (m is not None and local and not cut and local[-1] != "." and ".." not in local
                and m.group(1).lower() not in _FILE_SUFFIXES):
            yield Finding(start, m.end(), "EMAIL", "email")
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)


# --- card numbers ----------------------------------------------------------------------------------

# 13-19 digits, compact or in groups (4-4-4-4, 4-6-5, 4-4-4-4-3) with one kind of separator. The first
# digit is matched before the look-behind so the regex engine can skip to digits.
_CARD = re.compile(r"[0-9](?<![\w.,-][0-9])(?:[0-9]{12,18}|[0-9]{3}([ -])[0-9]{4,6}(?:\1[0-9]{3,5}){1,3})"
                   r"(?!\w|[.,][0-9]|\1[0-9])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_brand(digits: str) -> str:
    """The network an issuer number belongs to, "" when none issues that prefix at that length."""
    n = len(digits)
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return "visa" if n in (13, 16, 19) else ""
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard" if n == 16 else ""
    if two in (34, 37):
        return "amex" if n == 15 else ""
    if four == 6011 or two == 65 or 644 <= three <= 649:
        return "discover" if n >= 16 else ""
    if 3528 <= four <= 3589:
        return "jcb" if n >= 16 else ""
    if 300 <= three <= 305 or two in (36, 38):
        return "diners" if n >= 14 else ""
    if two == 62:
        return "unionpay" if n >= 16 else ""
    return ""


def _cards(scan: _Scan) -> Iterator[Finding]:
    for m in scan.finditer(_CARD, 13):
        digits = m.group().replace(" ", "").replace("-", "")
        brand = _card_brand(digits)
        if brand and _luhn_ok(digits):
            yield Finding(m.start(), m.end(), "CREDIT_CARD", brand)


# --- IBAN ------------------------------------------------------------------------------------------

# ISO 13616 registry lengths (characters, country code included): the SEPA area and common others
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
# compact, or in groups of four separated by single spaces (the last group shorter)
_IBAN = re.compile(r"[A-Z]{2}(?<![A-Za-z0-9_][A-Z]{2})[0-9]{2}"
                   r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])")


def _iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans(scan: _Scan) -> Iterator[Finding]:
    text = scan.text
    for m in scan.finditer(_IBAN, 8):  # fewer than any country's IBAN has (most have 14 or more)
        country = text[m.start():m.start() + 2]
        want = _IBAN_LENGTHS.get(country)
        if want is None:
            continue
        # the registered length may end before the match does: "BE68 5390 0754 7034 SENT" ends at 7034
        chars: list[str] = []
        end = m.start()
        while end < m.end() and len(chars) < want:
            if text[end] != " ":
                chars.append(text[end])
            end += 1
        if len(chars) == want and (end == m.end() or text[end] == " ") and _iban_ok("".join(chars)):
            yield Finding(m.start(), end, "IBAN", "iban_" + country.lower())


# --- national identifiers --------------------------------------------------------------------------

_SSN = re.compile(r"[0-9](?<![\w.,/-][0-9])[0-9]{2}-[0-9]{2}-[0-9]{4}(?!\w|-[0-9])")
# without dashes nine digits are too common to take alone: only after a word that says what they are
_SSN_AFTER_WORD = re.compile(r"\b(?:ssn|ss#|social[ -]security(?:[ -](?:number|no\.?))?)[\s:#.]*"
                             r"(?:(?:number|no\.?|is)[\s:#.]*)?([0-9]{3} ?[0-9]{2} ?[0-9]{4})(?![\w-])", re.I)
_SSN_WORDS = ("ssn", "ss#", "social security")
# UK National Insurance: the first letter is never D F I Q U V, the second never D F I O Q U V
_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9_][A-Z])[A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]"
                   r"(?![A-Za-z0-9_])")
_NINO_UNUSED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# French NIR: sex, year, month (20+ for unknown), department (2A/2B: Corsica), commune, order, key
_NIR = re.compile(r"[12](?<![\w.,-][12]) ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?"
                  r"[0-9]{3} ?[0-9]{2}(?!\w|[.,-]?[0-9])")


def _ssn_ok(digits: str) -> bool:
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


def _nir_ok(value: str) -> bool:
    compact = value.replace(" ", "")
    body = compact[:5] + compact[5:7].replace("2A", "19").replace("2B", "18") + compact[7:13]
    return 97 - int(body) % 97 == int(compact[13:])


def _national_ids(scan: _Scan) -> Iterator[Finding]:
    for m in scan.finditer(_SSN, 9):
        if _ssn_ok(m.group().replace("-", "")):
            yield Finding(m.start(), m.end(), "NATIONAL_ID", "us_ssn")
    if scan.has_digits(9) and (scan.low is None or any(w in scan.low for w in _SSN_WORDS)):
        for m in scan.finditer(_SSN_AFTER_WORD, 9):
            if _ssn_ok(m.group(1).replace(" ", "")):
                yield Finding(m.start(1), m.end(1), "NATIONAL_ID", "us_ssn")
    for m in scan.finditer(_NINO, 6):
        if m.group()[:2] not in _NINO_UNUSED_PREFIXES:
            yield Finding(m.start(), m.end(), "NATIONAL_ID", "uk_nino")
    for m in scan.finditer(_NIR, 13):
        if _nir_ok(m.group()):
            yield Finding(m.start(), m.end(), "NATIONAL_ID", "fr_nir")


# --- IP addresses ----------------------------------------------------------------------------------

# not part of a longer dotted number (a version such as 1.2.3.4.5)
_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?!\w|\.[0-9])")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?![\w:]|\.[0-9])")


def _ipv6_ok(value: str) -> bool:
    # "dead::beef" and slices such as a[10::20] are valid addresses too; real ones have digits and more body
    groups = [g for g in value.replace(".", ":").split(":") if g]
    if not any(c.isdigit() for c in value) or (len(groups) < 3 and max(map(len, groups), default=0) < 3):
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _ip_addresses(scan: _Scan) -> Iterator[Finding]:
    text = scan.text
    if scan.windows and ("::" in text or text.count(":") >= 7):
        for m in scan.finditer(_IPV6, 1):
            if _ipv6_ok(m.group()):
                yield Finding(m.start(), m.end(), "IP_ADDRESS", "ipv6")
    for m in scan.finditer(_IPV4, 4):
        try:
            ipaddress.IPv4Address(m.group())  # octets up to 255, no leading zeros ("01.02.03.04" is not one)
        except ValueError:
            continue
        yield Finding(m.start(), m.end(), "IP_ADDRESS", "ipv4")


# --- phone numbers ---------------------------------------------------------------------------------

# Either international (+CC, digits grouped any way) or a national shape that plain numbers rarely take:
# US 3-3-4, (area) number, or a trunk 0 prefix with separated groups. Not after a word, a number, a
# currency sign or '#', nor followed by more digits: dates (2024-05-01), versions, prices, "#12345".
# Unseparated national numbers (4155550132) are left alone: they look like any other identifier.
# The first character is matched before anything else, so the engine skips to [+(0-9]; the look-behinds
# then check what precedes it (nor a group of digits: an IBAN that failed its check) and which it was.
_PHONE = re.compile(r"""
    [+(0-9](?<![\w+#$€£¥.,/-].)(?<![0-9][ .-].)
    (?: (?<=\+)[1-9][0-9]{0,2}(?:[ .-]?\([0-9]{1,4}\)[ .-]?[0-9]{1,8}|[ .-]?[0-9]{1,14})(?:[ .-][0-9]{1,8}){0,5}
      | (?<=\()[0-9]{2,5}\)[ .-]?[0-9]{2,4}(?:[ .-][0-9]{2,5}){1,3}
      | (?<=1)[ .-][0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4}
      | (?<=[0-9])[0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}
      | (?<=0)[0-9]{1,4}[ .-][0-9]{2,8}(?:[ .-][0-9]{2,8}){0,4}
    )
    (?![\w+]|[.,/-]?[0-9]|\([0-9])
""", re.X)
_DATE_LIKE = re.compile(r"[0-9]{1,2}[ .-][0-9]{1,2}[ .-](?:[0-9]{2}|[0-9]{4})")  # 01.05.2024 starts with 0 too
_DIGIT_GROUPS = re.compile(r"[0-9]+")
# the groups before it are the start of an IBAN-shaped string (one that failed its check): not a phone
_IBAN_LEAD = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4})* \Z")


def _phones(scan: _Scan) -> Iterator[Finding]:
    for m in scan.finditer(_PHONE, 7):
        value = m.group()
        digits = "".join(c for c in value if c.isdigit())
        international = digits.startswith("00")  # 0044... is +44...: a country code follows, never 0
        significant = len(digits) - 2 if international else len(digits)
        pairs_only = max(map(len, _DIGIT_GROUPS.findall(value))) <= 2  # 01 23 45 67 89 is one, 01.02.03.04 not
        if (7 <= significant <= 15 and not (international and digits[2] == "0") and len(set(digits)) > 1
                and not (pairs_only and len(digits) < 10) and not _DATE_LIKE.fullmatch(value)
                and not _IBAN_LEAD.search(scan.text, max(0, m.start() - 40), m.start())):
            yield Finding(m.start(), m.end(), "PHONE", "phone")


# --- credentials -----------------------------------------------------------------------------------

# Fixed prefixes first, so each search skips straight to its prefix; the look-behind after the prefix
# keeps "risk-" or "task-" from starting a key.
_TOKENS = tuple((label, re.compile(pattern)) for label, pattern in (
    ("jwt", r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # a group marks a body that must look random (sk- also starts phrases such as sk-learn-compatible-...)
    ("anthropic_api_key", r"sk-ant-(?<![A-Za-z0-9_-]sk-ant-)([A-Za-z0-9_-]{20,})"),
    ("openai_api_key", r"sk-(?<![A-Za-z0-9_-]sk-)(?:proj-|svcacct-|admin-)?([A-Za-z0-9_-]{20,})"),
    ("aws_access_key", r"A(?:KIA|SIA)(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ("github_token", r"gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)[A-Za-z0-9]{36,255}"),
    ("github_token", r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,255}"),
    ("slack_token", r"xox[abpors]-(?<![A-Za-z0-9_-]xox[abpors]-)[A-Za-z0-9-]{10,}"),
    ("google_api_key", r"AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    ("stripe_secret_key", r"sk_live_(?<![A-Za-z0-9_]sk_live_)[0-9A-Za-z]{16,}"),
    ("stripe_secret_key", r"rk_live_(?<![A-Za-z0-9_]rk_live_)[0-9A-Za-z]{16,}"),
))
# every token above starts with one of these: one scan tells whether any pattern can match at all
_TOKEN_PREFIXES = re.compile(r"eyJ|sk-|[sr]k_live_|A[KS]IA|gh[pousr]_|github_pat_|xox[abpors]-|AIza")
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\s]*")


def _mixed(body: str) -> bool:
    """Upper, lower and digits: what a random key body has and a hyphenated phrase does not."""
    return any(c.isdigit() for c in body) and any(c.isupper() for c in body) and any(c.islower() for c in body)


# `password = "..."`, `"api_key": "..."`, `SECRET=...`: matched from the keyword on (found by substring
# search); what comes before it is checked in Python (_name_label). The value alone is the finding.
_ASSIGN_HINTS = ("pass", "secret", "token", "key")
_ASSIGN = re.compile(r"""
    (passw(?:or)?d|passphrase|pass|secret(?:[_-]?key)?|token|key)
    ["']?[ \t]*(?::=|=>|[:=])[ \t]*
    (?:"([^"\r\n]{8,512})"|'([^'\r\n]{8,512})'|([^\s"'`,;(){}\[\]<>]{8,512})(?![^\s"'`,;)}\]>]))
""", re.I | re.X)  # bounded, so that "password=" repeated costs each occurrence little
_ASSIGN_HINT_RE = re.compile("|".join(_ASSIGN_HINTS), re.I)  # when lower-casing would move offsets
_KEY_PREFIX = re.compile(r"(api|secret|access|private|signing|encryption|master|client)[_-]?\Z", re.I)
_PLACEHOLDER = re.compile(r"<.*>|\$\{?\w+\}?|\{\{.*\}\}|%\(\w+\)s|[*x.•]+|your[\w -]*", re.I)
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")  # self.password, os.environ.get


def _name_label(text: str, i: int, hint: str) -> str:
    """What the name that has `hint` at i names ("password", "api_key", ...), "" when `hint` is inside
    another word (bypass, monkey) or, for "key" alone, any dictionary key."""
    if hint == "key":
        prefix = _KEY_PREFIX.search(text, max(0, i - 12), i)
        return prefix.group(1).lower() + "_key" if prefix else ""
    label = "password" if hint == "pass" else hint
    if i == 0 or not text[i - 1].isalnum():  # db_password, --password, "token"
        return label
    return label if text[i].isupper() and text[i - 1].islower() else ""  # dbPassword, clientSecret


def _assigned_value_ok(value: str, quoted: bool) -> bool:
    if _PLACEHOLDER.fullmatch(value):
        return False
    if quoted:
        return True
    # unquoted, it may be code (a variable, an attribute): take only what looks generated
    return (not _DOTTED_NAME.fullmatch(value) and value[0] not in "$%"
            and (any(c.isdigit() for c in value) or (any(c.isupper() for c in value)
                                                      and any(c.islower() for c in value))))


def _assignments(scan: _Scan) -> Iterator[Finding]:
    text, low = scan.text, scan.low
    if "=" not in text and ":" not in text:
        return
    if low is None:
        starts: Iterator[tuple[int, str]] = ((m.start(), m.group().lower()) for m in _ASSIGN_HINT_RE.finditer(text))
    else:
        starts = ((i, hint) for hint in _ASSIGN_HINTS for i in _occurrences(low, hint))
    for i, hint in starts:
        label = _name_label(text, i, hint)
        m = _ASSIGN.match(text, i) if label else None
        if m is None:
            continue
        group = 2 if m.group(2) is not None else 3 if m.group(3) is not None else 4
        if _assigned_value_ok(m.group(group), group != 4):
            yield Finding(m.start(group), m.end(group), "SECRET", label + "_assignment")


def _occurrences(haystack: str, needle: str) -> Iterator[int]:
    i = haystack.find(needle)
    while i != -1:
        yield i
        i = haystack.find(needle, i + 1)


def _private_keys(text: str) -> Iterator[Finding]:
    """From a BEGIN line through the next END line, or through the base64 after it when the text was cut
    short. Each END is looked for once: many BEGIN lines without one stay linear."""
    pos = 0
    end: re.Match[str] | None = None
    no_end_after = len(text) + 1  # where an END search found none
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        if (end is None or end.start() < begin.end()) and begin.end() < no_end_after:
            end = _PEM_END.search(text, begin.end())
            if end is None:
                no_end_after = begin.end()
        if end is not None and end.start() >= begin.end():
            stop = end.end()
        else:
            body = _PEM_BODY.match(text, begin.end())
            stop = begin.end() + len(body.group().rstrip()) if body else begin.end()
        yield Finding(begin.start(), stop, "SECRET", "private_key")
        pos = stop


def _secrets(scan: _Scan) -> Iterator[Finding]:
    text = scan.text
    if "-----BEGIN " in text:
        yield from _private_keys(text)
    for label, pattern in (_TOKENS if _TOKEN_PREFIXES.search(text) else ()):
        for m in pattern.finditer(text):
            if pattern.groups and not _mixed(m.group(1)):
                continue
            yield Finding(m.start(), m.end(), "SECRET", label)
    yield from _assignments(scan)


_DETECTORS: dict[str, Callable[[_Scan], Iterator[Finding]]] = {
    "email": _emails, "phone": _phones, "credit_card": _cards, "iban": _ibans,
    "national_id": _national_ids, "ip_address": _ip_addresses, "secret": _secrets,
}


class PiiDetector:
    """Finds the configured entities; `find` gives sorted, non-overlapping findings."""

    __slots__ = ("entities", "_run", "_report")

    def __init__(self, entities: Sequence[str] | None = None) -> None:
        chosen = PII_ENTITIES if entities is None else tuple(entities)
        unknown = [e for e in chosen if e not in PII_ENTITIES]
        if unknown:
            raise ValueError(f"unknown PII entity {unknown[0]!r} (expected some of: {', '.join(PII_ENTITIES)})")
        self.entities: frozenset[str] = frozenset(chosen)
        run = set(self.entities) | (_PHONE_BLOCKERS if "phone" in self.entities else set())
        self._run = tuple(_DETECTORS[name] for name in _PRIORITY if name in run)
        self._report = frozenset(e.upper() for e in self.entities)

    def find(self, text: str) -> list[Finding]:
        if not text:
            return []
        scan = _Scan(text)
        starts: list[int] = []  # the kept findings, sorted and disjoint: each new one is checked by bisection
        kept: list[Finding] = []
        for detect in self._run:
            for f in detect(scan):
                i = bisect.bisect_right(starts, f.start)
                if (i and kept[i - 1].end > f.start) or (i < len(kept) and kept[i].start < f.end):
                    continue
                starts.insert(i, f.start)
                kept.insert(i, f)
        return [f for f in kept if f.kind in self._report]
