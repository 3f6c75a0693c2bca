"""Secrets in stored specs, encrypted at rest under a master key.

What is secret: a provider's `api_key` and `headers` values, an MCP service's `headers` and
`env` values, a budget webhook's `headers` values. Everything else in a spec stays readable
(names, URLs, models), so the store can still be inspected and exported.

A sealed value is the string `ugenc:v1:<key id>:<base64url(nonce + AES-256-GCM ciphertext)>`.
Its associated data is where it belongs (`providers/openai-main/api_key`), so a value copied
into another row or field does not open. The nonce is synthetic: an HMAC of that place and
the plaintext. The same secret in the same place therefore seals to the same text, and a
start that re-applies unigate.yaml changes no row (`WHERE spec != excluded.spec`). This
reveals only that a value did not change.

The keyring: `UNIGATE_MASTER_KEY` (base64 of 32 bytes; several, comma-separated: the first
seals, all open), else `<data-dir>/master.key` (one key per line, the first seals), created
0600 at first start. `unigate secrets rotate` seals every stored value under the first key.
A value sealed under a key the keyring lacks raises `SecretsLocked`, naming the key id and
where keys come from. It never yields garbage: GCM authenticates every value."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from unigate.store.base import Store

log = logging.getLogger("unigate.secrets")
ENV = "UNIGATE_MASTER_KEY"
KEY_FILE = "master.key"
PREFIX = "ugenc:v1:"
TABLES = ("providers", "mcp_services", "budgets")


class SecretsLocked(RuntimeError):
    """A stored secret cannot be opened: the key it was sealed under is not in the keyring
    (or the value was altered)."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"unigate secrets: " + purpose, hashlib.sha256).digest()


@dataclass(frozen=True)
class MasterKey:
    kid: str  # 8 hex digits, derived from the key: which key sealed a value, never the key
    cipher: AESGCM
    nonce_key: bytes

    @classmethod
    def of(cls, master: bytes) -> MasterKey:
        return cls(_derive(master, b"key id")[:4].hex(), AESGCM(_derive(master, b"cipher")),
                   _derive(master, b"nonce"))


def parse_key(text: str, where: str) -> bytes:
    """A master key as written: base64 (standard or URL-safe, padding optional) of 32 bytes."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{where}: a master key is 32 random bytes in base64 (make one with "
                         "`unigate secrets generate-key`)")
    return raw


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class Keyring:
    """The master keys: the first seals, every one opens what it sealed."""

    def __init__(self, keys: list[bytes], source: str, path: Path | None = None) -> None:
        self.keys = [MasterKey.of(k) for k in keys]
        self.source = source  # where the keys came from, for messages
        self.path = path  # the key file, re-read when a value names a key it lacks (a rotation)
        self._by_kid = {k.kid: k for k in self.keys}

    def _reread(self) -> bool:
        """The key file again (`secrets rotate --new-key` wrote it while this process ran)."""
        if self.path is None or not self.path.exists():
            return False
        fresh = _read_key_file(self.path)
        self.keys, self._by_kid = fresh.keys, fresh._by_kid
        return True

    @property
    def current(self) -> MasterKey | None:
        return self.keys[0] if self.keys else None

    def seal(self, value: str, place: str) -> str:
        key = self.current
        if key is None or is_sealed(value):
            return value
        aad, data = place.encode(), value.encode()
        nonce = hmac.new(key.nonce_key, aad + b"\0" + data, hashlib.sha256).digest()[:12]
        sealed = nonce + key.cipher.encrypt(nonce, data, aad)
        return f"{PREFIX}{key.kid}:{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"

    def open(self, value: str, place: str) -> str:
        if not is_sealed(value):
            return value  # stored before encryption (or with no keyring): `secrets rotate` seals it
        kid, body = kid_of(value), value[len(PREFIX):].partition(":")[2]
        key = self._by_kid.get(kid)
        if key is None and self._reread():
            key = self._by_kid.get(kid)
        if key is None:
            raise SecretsLocked(f"{place} is encrypted under master key {kid}, which {self.source} does not "
                                f"hold: set {ENV} to the key it was sealed with (the same on every instance)")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return key.cipher.decrypt(raw[:12], raw[12:], place.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretsLocked(f"{place} does not decrypt under master key {kid}: the stored value was "
                                "altered or belongs elsewhere") from None

    def sealed_by_current(self, value: str) -> bool:
        key = self.current
        return key is not None and value.startswith(f"{PREFIX}{key.kid}:")


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def kid_of(sealed: str) -> str:
    """The id of the key a sealed value was sealed under."""
    return sealed[len(PREFIX):].partition(":")[0]


# --- the process's keyring ---------------------------------------------------------------------

_keyring = Keyring([], "no master key")


def keyring() -> Keyring:
    return _keyring


def use(ring: Keyring) -> None:
    """The keyring this process seals and opens with (set once at start, inherited by workers)."""
    global _keyring
    _keyring = ring


def load_keyring(data_dir: Path, create: bool = True, environ: Mapping[str, str] | None = None) -> Keyring:
    """UNIGATE_MASTER_KEY, else the data directory's key file (created, 0600, when `create`)."""
    env = (os.environ if environ is None else environ).get(ENV, "").strip()
    if env:
        return Keyring([parse_key(k, f"{ENV} (key {i + 1})") for i, k in enumerate(env.split(",")) if k.strip()],
                       ENV)
    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            return Keyring([], f"{path} (missing)")
        data_dir.mkdir(parents=True, exist_ok=True)
        write_key_file(path, [new_key()])
        log.warning("created the master key %s: provider keys and other secrets in the store are encrypted "
                    "under it. Back it up apart from the store: without it they cannot be read. Several "
                    "instances on one store need the same key (%s).", path, ENV)
    return _read_key_file(path)


def _read_key_file(path: Path) -> Keyring:
    lines = [line.strip() for line in path.read_text().splitlines()]
    keys = [parse_key(line, f"{path} line {i + 1}") for i, line in enumerate(lines)
            if line and not line.startswith("#")]
    return Keyring(keys, str(path), path)


def key_file_keys(path: Path) -> list[str]:
    """The key file's keys as written, the first first."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def write_key_file(path: Path, keys: list[str]) -> None:
    """The key file, replaced atomically and created 0600 (the first key seals)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# unigate master keys: the first encrypts, all decrypt. Keep a copy apart from the store.\n")
        f.write("".join(k + "\n" for k in keys))
    os.replace(tmp, path)


# --- which fields of a spec are secret ---------------------------------------------------------

def _map(spec: dict[str, Any], table: str, fn: Callable[[str, str], str]) -> dict[str, Any]:
    """`spec` with `fn(value, place)` applied to each secret value (a copy; the rest shared)."""
    name = str(spec.get("name", ""))
    out = dict(spec)

    def values(container: dict[str, Any], key: str, place: str) -> None:
        d = container.get(key)
        if isinstance(d, dict):
            container[key] = {k: fn(v, f"{place}/{k}") if isinstance(v, str) else v for k, v in d.items()}

    base = f"{table}/{name}"
    if table == "providers":
        if isinstance(out.get("api_key"), str) and out["api_key"]:
            out["api_key"] = fn(out["api_key"], f"{base}/api_key")
        values(out, "headers", f"{base}/headers")
    elif table == "mcp_services":
        values(out, "headers", f"{base}/headers")
        values(out, "env", f"{base}/env")
    elif table == "budgets" and isinstance(out.get("webhook"), dict):
        out["webhook"] = dict(out["webhook"])
        values(out["webhook"], "headers", f"{base}/webhook/headers")
    return out


def seal_spec(table: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _map(spec, table, _keyring.seal)


def open_spec(table: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _map(spec, table, _keyring.open)


def spec_json(table: str, spec: dict[str, Any]) -> str:
    """A spec as its row stores it: secrets sealed, keys sorted (so equal specs are equal text)."""
    return json.dumps(seal_spec(table, spec), sort_keys=True)


def spec_of(table: str, text: str) -> dict[str, Any]:
    """A stored row's spec with its secrets opened."""
    spec: dict[str, Any] = json.loads(text)
    return open_spec(table, spec)


def secret_values(table: str, spec: dict[str, Any]) -> list[str]:
    """The secret values of a spec as stored (sealed or not)."""
    found: list[str] = []

    def note(value: str, _place: str) -> str:
        found.append(value)
        return value
    _map(spec, table, note)
    return found


# --- sealing what is stored ----------------------------------------------------------------------

@dataclass
class ResealCount:
    values: int = 0  # secret values stored
    sealed: int = 0  # values newly sealed under the current key (plaintext or another key before)
    rows: int = 0  # rows rewritten


def reseal(store: Store, plain_only: bool = False) -> ResealCount:
    """Opens every stored secret (SecretsLocked if one cannot be) and seals it under the
    keyring's current key: every value (`secrets rotate`), or only those stored in clear
    (`plain_only`: at start, for stores written before encryption). One transaction; the
    workers reload within a second."""
    count = ResealCount()
    current = _keyring.current
    statements: list[tuple[str, tuple[Any, ...]]] = []
    for table in TABLES:
        for name, text in store.execute(f"SELECT name, spec FROM {table} ORDER BY name"):
            stored: dict[str, Any] = json.loads(text)
            values = secret_values(table, stored)
            count.values += len(values)
            opened = open_spec(table, stored)  # raises SecretsLocked for a value it cannot open
            stale = [v for v in values if not is_sealed(v) or not (plain_only or _keyring.sealed_by_current(v))]
            if current is None or not stale:
                continue
            resealed = spec_json(table, opened)
            if resealed != text:
                count.sealed += len(stale)
                count.rows += 1
                statements.append((f"UPDATE {table} SET spec = ? WHERE name = ?", (resealed, name)))
    if statements:
        store.transaction(statements, bump=True)
    return count
