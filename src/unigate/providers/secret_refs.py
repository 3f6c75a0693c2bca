"""Secret references: a provider's `api_key` given as where the key lives, not the key itself.

    api_key: env:OPENAI_API_KEY          the gateway's environment variable, read at use
    api_key: file:/run/secrets/openai    a file's content (trailing newline dropped), as Docker and
                                         Kubernetes mount secrets; re-read when the file changes

Only the reference is stored (sealed like a key). The value is read when a request needs it.
A file is checked at most once per second (its mtime, size and inode): a rotated Kubernetes
secret is used within a second, with no restart. A reference that does not resolve (variable
unset, file missing) makes the provider refuse with a 502 naming the reference, like a missing key.

Who may write which references: the configuration file any (its author runs the host). The
admin API only those `settings.secret_refs` allows (`env: [NAMES or globs]`, `files: [globs]`;
default: files under /run/secrets and /var/run/secrets). Otherwise an administrator could point
a provider at `env:UNIGATE_MASTER_KEY` or `file:/etc/shadow` and have the gateway send it to
a URL of their choosing."""

from __future__ import annotations

import fnmatch
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_FILE = re.compile(r"^file:(/.+)$")
RECHECK_SECONDS = 1.0
DEFAULT_FILES = ("/run/secrets/*", "/var/run/secrets/*")


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("env:") or value.startswith("file:"))


def ref_problem(value: str) -> str | None:
    """Why `value`, which looks like a reference, is not a valid one (None: it is)."""
    if _ENV.match(value) or _FILE.match(value):
        return None
    if value.startswith("env:"):
        return f"{value!r} is not a reference: env: takes a variable name (env:OPENAI_API_KEY)"
    return f"{value!r} is not a reference: file: takes an absolute path (file:/run/secrets/openai)"


class SecretRef:
    """A reference and its current value."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        env, path = _ENV.match(ref), _FILE.match(ref)
        self.env = env.group(1) if env else None
        self.path = path.group(1) if path else None
        self._value = ""
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._problem: str | None = None
        self._read()

    def _read(self) -> None:
        if self.env is not None:
            self._value = os.environ.get(self.env, "")
            self._problem = None if self._value else f"environment variable {self.env} is not set"
            return
        assert self.path is not None
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._value = f.read().strip()
                self._stamp = stamp
            self._problem = None if self._value else f"file {self.path} is empty"
        except (OSError, UnicodeDecodeError) as e:
            self._value, self._stamp = "", None
            self._problem = f"file {self.path} cannot be read ({type(e).__name__})"

    def value(self) -> str:
        """The key now: a file is looked at again once a second at most (off the request's way
        otherwise: one clock read)."""
        now = time.monotonic()
        if self.path is not None and now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            self._read()
        return self._value

    def problem(self, provider: str) -> str | None:
        self.value()
        if self._problem is None:
            return None
        return f"provider '{provider}' has no key: its api_key {self.ref} does not resolve ({self._problem})"


# --- what the admin API may write ----------------------------------------------------------------

@dataclass(frozen=True)
class RefPolicy:
    env: tuple[str, ...] = ()
    files: tuple[str, ...] = DEFAULT_FILES

    def allows(self, ref: str) -> bool:
        env, path = _ENV.match(ref), _FILE.match(ref)
        if env:
            return any(fnmatch.fnmatchcase(env.group(1), p) for p in self.env)
        if path:
            real = os.path.normpath(path.group(1))  # no /run/secrets/../../etc/shadow
            return any(fnmatch.fnmatchcase(real, p) for p in self.files)
        return False


@dataclass
class PolicyHolder:
    policy: RefPolicy = field(default_factory=RefPolicy)


API_POLICY = PolicyHolder()  # set from the file's settings when the gateway starts


def parse_policy(raw: Any) -> RefPolicy | str:
    """`settings.secret_refs` as a policy, or the error's message."""
    if raw is None:
        return RefPolicy()
    if not isinstance(raw, dict) or set(raw) - {"env", "files"}:
        return "must be a mapping with env and files (lists of names or globs)"
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("env", "files"):
        value = raw.get(key, [] if key == "env" else list(DEFAULT_FILES))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return f"{key}: must be a list of names or globs"
        lists[key] = tuple(value)
    return RefPolicy(lists["env"], lists["files"])


def api_refusal(value: Any) -> str | None:
    """Why the admin API may not write `value` (a reference the policy does not allow), or None."""
    if not is_ref(value):
        return None
    bad = ref_problem(value)
    if bad:
        return bad
    if not API_POLICY.policy.allows(value):
        return (f"{value} is a secret reference the admin API may not write: only those "
                "settings.secret_refs in the configuration file allows (files under /run/secrets by default)")
    return None
