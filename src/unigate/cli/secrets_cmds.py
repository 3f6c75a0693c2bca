"""`unigate secrets`: the master key that encrypts stored provider keys and other secrets.

    unigate secrets generate-key                   a new key, for UNIGATE_MASTER_KEY
    unigate secrets status                         where the keys come from, what is sealed under which
    unigate secrets rotate [--new-key] [--drop-old]
                                                   seal every stored secret under the current key

Rotation without downtime, with UNIGATE_MASTER_KEY: set it to `NEW,OLD` on every instance
(a rolling restart: each then opens both), run `unigate secrets rotate`, then drop OLD.
With the data directory's key file: `rotate --new-key` writes a new first key, keeps the old
ones after it and re-seals; running workers re-read the file when they meet the new key.
`--drop-old` then removes the old keys. See docs/security.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from unigate.cli.store_cmds import _store, _unavailable, _where
from unigate.store import secrets_at_rest as sar
from unigate.store.base import StoreUnavailable


def generate_key_cmd(a: argparse.Namespace) -> int:
    print(sar.new_key())
    return 0


def _keyring(a: argparse.Namespace, create: bool) -> sar.Keyring | None:
    try:
        ring = sar.load_keyring(Path(a.data_dir), create=create)
    except (ValueError, OSError) as e:
        print(f"unigate secrets: the master key: {e}", file=sys.stderr)
        return None
    sar.use(ring)
    return ring


def status_cmd(a: argparse.Namespace) -> int:
    ring = _keyring(a, create=False)
    if ring is None:
        return 1
    try:
        store = _store(a)
    except StoreUnavailable as e:
        return _unavailable("secrets status", e)
    try:
        counts: dict[str, int] = {}
        for table in sar.TABLES:
            for (text,) in store.execute(f"SELECT spec FROM {table}"):
                for value in sar.secret_values(table, json.loads(text)):
                    if not sar.is_sealed(value):
                        state = "in clear"
                    else:
                        kid = sar.kid_of(value)
                        known = any(k.kid == kid for k in ring.keys)
                        state = f"sealed under {kid}" + ("" if known else " (a key this keyring lacks)")
                    counts[state] = counts.get(state, 0) + 1
    finally:
        store.close()
    current = ring.current.kid if ring.current else "none"
    out = {"source": ring.source, "current_key": current, "keys": [k.kid for k in ring.keys], "values": counts}
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"master keys from {ring.source}: {', '.join(out['keys']) or 'none'} (seals with {current})")
        for state, n in sorted(counts.items()) or [("no secrets stored", 0)]:
            print(f"  {n:6d}  {state}")
    return 0


def rotate_cmd(a: argparse.Namespace) -> int:
    env = bool(os.environ.get(sar.ENV, "").strip())
    if (a.new_key or a.drop_old) and env:
        print(f"unigate secrets rotate: --new-key and --drop-old change the key file; the keys come from "
              f"{sar.ENV}: put the new key first there (NEW,OLD) on every instance, run rotate, then "
              "remove OLD", file=sys.stderr)
        return 2
    path = Path(a.data_dir) / sar.KEY_FILE
    ring = _keyring(a, create=True)
    if ring is None:
        return 1
    if a.new_key:
        sar.write_key_file(path, [sar.new_key(), *sar.key_file_keys(path)])
        ring = _keyring(a, create=False)
        assert ring is not None
    try:
        store = _store(a)
    except StoreUnavailable as e:
        return _unavailable("secrets rotate", e)
    try:
        count = sar.reseal(store)
    except sar.SecretsLocked as e:
        print(f"unigate secrets rotate: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    current = ring.current.kid if ring.current else "none"
    print(f"{count.values} stored secret value(s); {count.sealed} sealed anew under {current} "
          f"in {count.rows} row(s)")
    if a.drop_old and not env:
        kept = sar.key_file_keys(path)[:1]
        sar.write_key_file(path, kept)
        print(f"{path} now holds only {current}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    secrets = sub.add_parser("secrets", help="the master key that encrypts stored secrets")
    actions = secrets.add_subparsers(dest="action", required=True)
    p = actions.add_parser("generate-key", help="print a new master key (for UNIGATE_MASTER_KEY)")
    p.set_defaults(func=generate_key_cmd)
    p = actions.add_parser("status", help="the keys, and what is sealed under which")
    _where(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status_cmd)
    p = actions.add_parser("rotate", help="seal every stored secret under the current (first) key")
    _where(p)
    p.add_argument("--new-key", action="store_true",
                   help="first put a new key at the head of the data directory's key file")
    p.add_argument("--drop-old", action="store_true",
                   help="after sealing, keep only the current key in the key file")
    p.set_defaults(func=rotate_cmd)
