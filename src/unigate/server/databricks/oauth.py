"""OAuth M2M for service principals: what databricks-sdk's `oauth-m2m` auth calls.

The SDK (databricks/sdk/config.py `_resolve_host_metadata`, `databricks_oidc_endpoints`) takes
`oidc_endpoint` from /.well-known/databricks-config (`discovery`), fetches
`{oidc_endpoint}/.well-known/oauth-authorization-server` and reads `token_endpoint`; then
(databricks/sdk/oauth.py `ClientCredentials`, `retrieve_token`) it POSTs a form
`grant_type=client_credentials&scope=all-apis` with the client id and secret as HTTP Basic
auth, reads `access_token`, `token_type` and `expires_in`, and on an error reads `error` and
`error_description` from a JSON body. It refreshes when the token is within min(half its life,
20 minutes) of expiring.

The client id is the service principal's application id, the secret one that unigate issued
(admin API: /api/v1/service-principals/{id}/secrets); the access token is a unigate token of
the service principal (unigate.store.sp_secrets: the same one all hour long)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from unigate.errors import GatewayError
from unigate.server.admin.common import STATE_KEY
from unigate.server.databricks.discovery import origin
from unigate.server.http import Request, Response, Router
from unigate.server.state import GatewayState
from unigate.store import sp_secrets
from unigate.store.base import StoreUnavailable, hash_token

log = logging.getLogger("unigate.oauth")
SCOPES = ("all-apis",)  # every right the service principal has; narrower scopes are not enforced
IGNORED_SCOPES = ("offline_access",)  # no refresh tokens in client credentials: nothing to grant
# A new token row reaches every worker (and instance) within about a second: the answer waits
# until this worker has it and this long after it was written, so that the client's next call,
# on any worker, is accepted. Only the first request of the hour waits.
SETTLE = 1.0
KNOWN_WAIT = 3.0
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _oauth_error(err: OAuthError) -> Response:
    headers = dict(NO_STORE)
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="unigate"'
    return Response(body=orjson.dumps({"error": err.error, "error_description": err.description}),
                    status=err.status, content_type="application/json", headers=headers)


async def authorization_server(request: Request) -> Response:
    """RFC 8414 metadata. No authorization endpoint: only client credentials (no U2M flow)."""
    base = origin(request) + "/oidc"
    return Response(body=orjson.dumps({
        "issuer": base,
        "token_endpoint": f"{base}/v1/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(SCOPES),
        "response_types_supported": [],
    }), content_type="application/json")


def _form(body: bytes, content_type: str) -> dict[str, str]:
    if body and "json" in content_type.lower():  # lenient: some hand-written clients send JSON
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise OAuthError(400, "invalid_request", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise OAuthError(400, "invalid_request", "the body must be a form")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise OAuthError(400, "invalid_request", "the body is not a UTF-8 form") from None


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """From HTTP Basic auth (client_secret_basic) or the form (client_secret_post)."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "malformed HTTP Basic credentials") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise OAuthError(401, "invalid_client", "malformed HTTP Basic credentials")
        # RFC 6749 2.3.1: form-urlencoded before Basic encoding (a no-op for our ids and secrets)
        return unquote(user), unquote(password)
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        raise OAuthError(401, "invalid_client", "client authentication is required: send the service "
                         "principal's application id and a secret as HTTP Basic auth or client_id/client_secret")
    return client_id, secret


def _scope(form: dict[str, str]) -> str:
    asked = form.get("scope", "").split()
    unknown = [s for s in asked if s not in SCOPES and s not in IGNORED_SCOPES]
    if unknown:
        raise OAuthError(400, "invalid_scope", f"unsupported scope {' '.join(unknown)!r}: unigate grants "
                         "'all-apis' (the service principal's own rights)")
    return " ".join(s for s in asked if s in SCOPES) or SCOPES[0]


async def _known_everywhere(state: GatewayState, token: str, created_at: float) -> None:
    """Waits (bounded) until a token written less than SETTLE ago is one every worker accepts:
    until this worker has it, then until SETTLE after it was written."""
    token_hash, deadline = hash_token(token), time.monotonic() + KNOWN_WAIT
    if state.principal_for(token_hash) is None:
        state.poke()
        while state.principal_for(token_hash) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    rest = created_at + SETTLE - time.time()
    if rest > 0:
        await asyncio.sleep(min(rest, SETTLE))


async def token(request: Request) -> Response:
    state: GatewayState = request.app[STATE_KEY]
    try:
        form = _form(await request.read(), request.headers.get("Content-Type", ""))
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "'grant_type' is required")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type",
                             f"grant_type '{grant}' is not supported: use client_credentials")
        client_id, secret = _client_credentials(request, form)
        scope = _scope(form)
        for unsupported in ("authorization_details", "assume_group"):
            if form.get(unsupported):
                raise OAuthError(400, "invalid_request", f"'{unsupported}' is not supported by unigate")
        client = await asyncio.to_thread(sp_secrets.authenticate_client, state.store, client_id, secret)
        if client is None:
            raise OAuthError(401, "invalid_client", "invalid client id or secret (or the secret expired "
                             "or was deleted)")
        issued = await asyncio.to_thread(sp_secrets.access_token, state.store, client, secret)
        await _known_everywhere(state, issued.token, issued.created_at)
    except OAuthError as err:
        return _oauth_error(err)
    except GatewayError as err:  # a body too large
        return _oauth_error(OAuthError(err.status, "invalid_request", err.message))
    except StoreUnavailable as e:
        log.warning("oauth token request: %s", e)
        return _oauth_error(OAuthError(503, "temporarily_unavailable", "the store is not available; retry shortly"))
    except Exception:
        log.exception("oauth token request failed")
        return _oauth_error(OAuthError(500, "server_error", "internal error"))
    answer: dict[str, Any] = {"access_token": issued.token, "token_type": "Bearer",
                              "expires_in": max(int(issued.expires_at - time.time()), 1), "scope": scope}
    return Response(body=orjson.dumps(answer), content_type="application/json", headers=NO_STORE)


def add_routes(router: Router) -> None:
    router.add_get("/oidc/.well-known/oauth-authorization-server", authorization_server)
    router.add_post("/oidc/v1/token", token)
