"""Finding the caller's token among the places clients put it.

Clients often send a placeholder in one header and the real token in another (an SDK's
`api_key="unused"` beside a Bearer header), so every candidate is tried in a fixed order and
the first one that is a valid token wins."""

from __future__ import annotations

import base64
import binascii

from unigate.errors import Unauthenticated
from unigate.server.http import Request
from unigate.server.state import GatewayState, Principal
from unigate.store.base import hash_token


def candidate_tokens(request: Request) -> list[str]:
    found: list[str] = []
    headers = request.headers
    auth = headers.get("Authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer" and value:
            found.append(value)
        elif scheme == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, _, password = decoded.partition(":")
            # `curl -u token:<TOKEN>`: the token is the password; accept it as the user too.
            found.extend(t for t in (password, user) if t and t != "token")
    for name in ("x-api-key", "x-goog-api-key"):
        other = headers.get(name)
        if other:
            found.append(other.strip())
    key = request.query.get("key")
    if key:
        found.append(key)
    return found


def authenticate(request: Request, state: GatewayState) -> Principal:
    candidates = candidate_tokens(request)
    for token in candidates:
        principal = state.principal_for(hash_token(token))
        if principal is not None:
            return principal
    if not candidates:
        raise Unauthenticated("missing credentials: send your Unigate token as "
                              "'Authorization: Bearer <token>' (or x-api-key / x-goog-api-key)")
    raise Unauthenticated("invalid or expired token")


async def authenticate_fresh(request: Request, state: GatewayState) -> Principal:
    """`authenticate`, and for a token this worker's snapshot does not hold, once more after
    catching up with the store: a token another worker issued a moment ago works at once."""
    try:
        return authenticate(request, state)
    except Unauthenticated:
        if not candidate_tokens(request) or not await state.catch_up():
            raise
    return authenticate(request, state)
