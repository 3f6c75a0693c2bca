"""The sealing of stored secrets, without a store: round trips, where a value belongs, keys."""
from __future__ import annotations

from pathlib import Path

import pytest

from unigate.store import secrets_at_rest as sar


def ring(*keys: str) -> sar.Keyring:
    return sar.Keyring([sar.parse_key(k, "test") for k in keys], "the test keyring")


def test_seal_and_open_round_trip_deterministically() -> None:
    r = ring(sar.new_key())
    sealed = r.seal("sk-real-key", "providers/p/api_key")
    assert sealed.startswith(sar.PREFIX) and "sk-real-key" not in sealed
    assert r.seal("sk-real-key", "providers/p/api_key") == sealed  # same place, same text
    assert r.seal("sk-real-key", "providers/q/api_key") != sealed  # elsewhere: different
    assert r.open(sealed, "providers/p/api_key") == "sk-real-key"
    assert r.seal(sealed, "providers/p/api_key") == sealed  # never sealed twice
    assert r.open("plain", "providers/p/api_key") == "plain"  # stored before encryption


def test_a_value_moved_altered_or_under_another_key_does_not_open() -> None:
    key = sar.new_key()
    sealed = ring(key).seal("secret", "providers/p/api_key")
    with pytest.raises(sar.SecretsLocked, match="does not decrypt"):
        ring(key).open(sealed, "providers/other/api_key")
    with pytest.raises(sar.SecretsLocked, match="does not decrypt"):
        ring(key).open(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), "providers/p/api_key")
    with pytest.raises(sar.SecretsLocked, match="encrypted under master key .* does not hold"):
        ring(sar.new_key()).open(sealed, "providers/p/api_key")
    assert ring(sar.new_key(), key).open(sealed, "providers/p/api_key") == "secret"  # an older key opens


def test_specs_seal_only_their_secret_fields() -> None:
    sar.use(ring(sar.new_key()))
    try:
        spec = {"name": "p", "type": "openai", "base_url": "https://x", "api_key": "k", "headers": {"H": "v"}}
        sealed = sar.seal_spec("providers", spec)
        assert sealed["base_url"] == "https://x" and sealed["api_key"] != "k" and sealed["headers"]["H"] != "v"
        assert sar.open_spec("providers", sealed) == spec and spec["api_key"] == "k"  # the input untouched
        mcp = {"name": "m", "command": "x", "env": {"E": "1"}, "headers": {"A": "2"}, "args": ["a"]}
        assert sar.secret_values("mcp_services", mcp) == ["2", "1"]
        budget = {"name": "b", "webhook": {"url": "https://h", "headers": {"K": "3"}}}
        assert sar.seal_spec("budgets", budget)["webhook"]["url"] == "https://h"
        assert sar.seal_spec("budgets", {"name": "b", "webhook": "https://h"})["webhook"] == "https://h"
        endpoint = {"name": "e", "api_key": "not a secret here"}
        assert sar.seal_spec("endpoints", endpoint) == endpoint
    finally:
        sar.use(sar.Keyring([], "no master key"))


def test_keys_parse_and_the_key_file(tmp_path: Path) -> None:
    for bad in ("", "short", "!" * 43):
        with pytest.raises(ValueError, match="32 random bytes"):
            sar.parse_key(bad, "X")
    import base64
    import os
    raw = os.urandom(32)
    assert sar.parse_key(base64.b64encode(raw).decode(), "X") == raw  # standard base64, padded
    first = sar.load_keyring(tmp_path, environ={})
    assert (tmp_path / sar.KEY_FILE).stat().st_mode & 0o777 == 0o600 and len(first.keys) == 1
    sealed = first.seal("s", "providers/p/api_key")
    # a rotation writes a new first key: a keyring loaded before re-reads the file when it meets it
    sar.write_key_file(tmp_path / sar.KEY_FILE, [sar.new_key(), *sar.key_file_keys(tmp_path / sar.KEY_FILE)])
    newer = sar.load_keyring(tmp_path, environ={}).seal("s", "providers/p/api_key")
    assert newer != sealed and first.open(newer, "providers/p/api_key") == "s"
    env = sar.load_keyring(tmp_path / "none", create=False, environ={sar.ENV: f"{sar.new_key()}, {sar.new_key()}"})
    assert len(env.keys) == 2 and env.source == sar.ENV and not (tmp_path / "none").exists()
