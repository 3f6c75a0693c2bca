"""OAuth M2M client secrets of service principals (migration 0011) and the access tokens they
buy (rows of `tokens`, so every rights check, rate limit and usage row applies to the SP).

A secret is shown once; only its hash is kept. An access token is derived from the secret and
the current hour (an HMAC keyed by the secret): every request in the same hour gets the same
token, so a burst of token requests (many processes starting, the SDK refreshing early) makes
one `tokens` row per secret per hour, and a token already issued is one every worker already
knows. Each lives until the end of the next hour (1 to 2 hours), never past its secret; expired
ones are purged when new ones are issued, and deleting a secret revokes its tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from unigate.store.base import TOKEN_PREFIX, Store, hash_token, new_token
from unigate.store.identities import Missing

SECRET_PREFIX = "ugs_"  # not a token: refused wherever a token is expected
WINDOW = 3600.0  # an access token is valid until the end of the next window
PURGE_AFTER = 86400.0  # expired access tokens are kept this long (last use, audit), then deleted
COMMENT = "oauth m2m"
COLUMNS = ("secret_id", "application_id", "create_time", "expire_time", "last_used_time")


def _token_id_prefix(secret_id: str) -> str:
    return f"oauth-{secret_id}-"


def _status(row: dict[str, Any], now: float) -> str:
    return "EXPIRED" if row["expire_time"] is not None and row["expire_time"] <= now else "ACTIVE"


def create_secret(store: Store, application_id: str, lifetime_seconds: float | None) -> dict[str, Any]:
    """A new secret for the service principal; the secret itself is in the result only."""
    if not store.execute("SELECT 1 FROM service_principals WHERE application_id = ?", (application_id,)):
        raise Missing(f"service principal '{application_id}' does not exist")
    secret, secret_id, now = SECRET_PREFIX + secrets.token_urlsafe(32), secrets.token_hex(8), time.time()
    expires = now + lifetime_seconds if lifetime_seconds else None
    store.transaction([("INSERT INTO service_principal_secrets (secret_id, application_id, secret_hash,"
                        " create_time, expire_time) VALUES (?, ?, ?, ?, ?)",
                        (secret_id, application_id, hash_token(secret), now, expires))], bump=False)
    return {"secret_id": secret_id, "secret": secret, "application_id": application_id,
            "create_time": now, "expire_time": expires, "status": "ACTIVE"}


def list_secrets(store: Store, application_id: str) -> list[dict[str, Any]]:
    """The service principal's secrets: never the secret or its hash."""
    if not store.execute("SELECT 1 FROM service_principals WHERE application_id = ?", (application_id,)):
        raise Missing(f"service principal '{application_id}' does not exist")
    rows = store.execute(f"SELECT {', '.join(COLUMNS)} FROM service_principal_secrets "
                         "WHERE application_id = ? ORDER BY create_time", (application_id,))
    now = time.time()
    out = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    return [{**r, "status": _status(r, now)} for r in out]


def delete_secret(store: Store, application_id: str, secret_id: str) -> int:
    """Deletes the secret and revokes the access tokens it bought; returns how many."""
    if not store.execute("SELECT 1 FROM service_principal_secrets WHERE secret_id = ? AND application_id = ?",
                         (secret_id, application_id)):
        raise Missing(f"secret '{secret_id}' of service principal '{application_id}' does not exist")
    now, prefix = time.time(), _token_id_prefix(secret_id)
    live = store.execute("SELECT COUNT(*) FROM tokens WHERE token_id LIKE ? AND revoked_at IS NULL "
                         "AND (expires_at IS NULL OR expires_at > ?)", (prefix + "%", now))[0][0]
    store.transaction([
        ("DELETE FROM service_principal_secrets WHERE secret_id = ?", (secret_id,)),
        ("UPDATE tokens SET revoked_at = ? WHERE token_id LIKE ? AND revoked_at IS NULL", (now, prefix + "%")),
    ])
    return int(live)


@dataclass(frozen=True, slots=True)
class Client:
    """A service principal that presented a valid secret."""
    application_id: str
    secret_id: str
    expire_time: float | None


def authenticate_client(store: Store, client_id: str, secret: str) -> Client | None:
    """The secret's service principal if `secret` is a live secret of `client_id` (which still
    exists), else None."""
    rows = store.execute(
        "SELECT s.secret_id, s.application_id, s.expire_time FROM service_principal_secrets s "
        "JOIN service_principals p ON p.application_id = s.application_id WHERE s.secret_hash = ?",
        (hash_token(secret),))
    if not rows:
        return None
    secret_id, application_id, expire_time = rows[0]
    # the hash matched: the comparison of ids is not secret-dependent
    if application_id != client_id or (expire_time is not None and expire_time <= time.time()):
        return None
    return Client(application_id, secret_id, expire_time)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_at: float
    created_at: float  # when its row was written (workers learn it within about a second)


def _derived(secret: str, secret_id: str, window: int) -> str:
    mac = hmac.new(secret.encode(), f"unigate-oauth-m2m:{secret_id}:{window}".encode(), hashlib.sha256)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def access_token(store: Store, client: Client, secret: str) -> AccessToken:
    """This hour's access token of the secret: the stored one, or a new row (with a purge of
    long-expired oauth tokens). A token of this hour that an admin revoked is replaced by a
    random one (its own row), valid as long."""
    now = time.time()
    window = int(now // WINDOW)
    expires = (window + 2) * WINDOW
    if client.expire_time is not None:
        expires = min(expires, client.expire_time)
    token_id = f"{_token_id_prefix(client.secret_id)}{window}"
    token = _derived(secret, client.secret_id, window)
    rows = store.execute("SELECT created_at, revoked_at FROM tokens WHERE token_id = ?", (token_id,))
    if rows and rows[0][1] is None:
        return AccessToken(token, expires, float(rows[0][0]))
    if rows:  # revoked: a fresh random token for this request
        token_id, token = f"{token_id}-{secrets.token_hex(4)}", new_token()
    store.transaction([
        ("INSERT INTO tokens (token_id, token_hash, principal, principal_type, comment, created_at, expires_at)"
         " VALUES (?, ?, ?, 'service_principal', ?, ?, ?) ON CONFLICT DO NOTHING",
         (token_id, hash_token(token), client.application_id, COMMENT, now, expires)),
        ("DELETE FROM tokens WHERE token_id LIKE 'oauth-%' AND comment = ? AND expires_at < ?",
         (COMMENT, now - PURGE_AFTER)),
        ("UPDATE service_principal_secrets SET last_used_time = ? WHERE secret_id = ?", (now, client.secret_id)),
    ])
    # a concurrent request may have written the same row first: its time is the one that counts
    created = store.execute("SELECT created_at FROM tokens WHERE token_id = ?", (token_id,))
    return AccessToken(token, expires, float(created[0][0]) if created else now)
