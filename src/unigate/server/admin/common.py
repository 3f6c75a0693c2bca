"""What every admin API handler shares: the caller's rights, JSON in and out, one error shape
(`{"error": {"code", "message", "field"?}}`), and the audit log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from unigate.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    parse_json_object,
)
from unigate.server.auth import authenticate_fresh
from unigate.server.http import AnyResponse, Request, Response
from unigate.server.state import GatewayState, Principal
from unigate.store import identities as db
from unigate.store.base import Duplicate, StoreUnavailable

PREFIX = "/api/v1"  # every admin route is under it
T = TypeVar("T")

log = logging.getLogger("unigate.admin")
STATE_KEY = "state"  # the application value holding the GatewayState
AdminHandler = Callable[[Request, "Caller"], Awaitable[AnyResponse]]


class Conflict(GatewayError):
    status, code = 409, "conflict"


class Caller:
    """An authenticated admin-API caller and what it may do."""

    def __init__(self, state: GatewayState, principal: Principal) -> None:
        self.state = state
        self.principal = principal

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def is_admin(self) -> bool:
        return self.state.is_admin(self.principal)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied("this operation needs an administrator token")

    def require_manage(self, endpoint: str) -> None:
        """Admins, and managers (CAN_MANAGE) of this endpoint."""
        if not self.state.can_manage(self.principal, endpoint):
            raise PermissionDenied(f"this operation needs CAN_MANAGE on endpoint '{endpoint}'")

    def require_some_admin_right(self) -> None:
        """No admin endpoint answers a caller who is neither an admin nor a manager of anything."""
        if not (self.is_admin or self.state.manages_any(self.principal)):
            raise PermissionDenied("the admin API needs an administrator or endpoint-manager token")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(body=orjson.dumps(data), status=status, content_type="application/json")


def error_body(err: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.param:
        body["field"] = err.param
    return {"error": body}


async def read_json(request: Request) -> dict[str, Any]:
    return admin_json(await request.read())


def admin_json(raw: bytes) -> dict[str, Any]:
    """An admin request's JSON object, with no NUL character in any of its strings: the store
    keeps text (PostgreSQL cannot hold NUL at all, SQLite would keep what PostgreSQL refuses).
    JSON can only carry NUL escaped, so bodies without `\\u0000` are not walked."""
    data = parse_json_object(raw)
    if b"\\u0000" in raw:
        _refuse_nul(data, "")
    return data


def _refuse_nul(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "\0" in value:
            raise InvalidRequest(f"{path or 'a value'}: text may not contain NUL characters", param=path or None)
    elif isinstance(value, dict):
        for k, v in value.items():
            _refuse_nul(k, path)
            _refuse_nul(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_nul(v, f"{path}[{i}]")


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    """A field of a JSON body, checked: 400 naming it when missing or of the wrong type."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required", param=name)
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidRequest(f"'{name}' must be of type {names}", param=name)
    return value


def admin_route(handler: AdminHandler) -> Callable[[Request], Awaitable[AnyResponse]]:
    """Authenticates the caller, requires some admin right, and renders errors."""
    return caller_route(handler, admin_rights=True)


def self_service_route(handler: AdminHandler) -> Callable[[Request], Awaitable[AnyResponse]]:
    """Like `admin_route`, for the few routes any signed-in principal may call about itself
    (who am I, my tokens, my usage): the handler narrows what a non-admin sees."""
    return caller_route(handler, admin_rights=False)


def admin_error_response(err: GatewayError) -> Response:
    return Response(body=orjson.dumps(error_body(err)), status=err.status, content_type="application/json",
                    headers=err.headers)


def caller_route(handler: AdminHandler, *, admin_rights: bool,
                 render: Callable[[GatewayError], Response] = admin_error_response,
                 logger: logging.Logger = log) -> Callable[[Request], Awaitable[AnyResponse]]:
    """Authenticates the caller (and, with `admin_rights`, requires some admin right); every
    failure is answered by `render` (the admin API's error shape by default), never a traceback.
    Other management APIs (Databricks') pass their own error shape."""
    async def wrapped(request: Request) -> AnyResponse:
        state = request.app[STATE_KEY]
        try:
            try:
                caller = Caller(state, await authenticate_fresh(request, state))
                if admin_rights:
                    caller.require_some_admin_right()
                return await handler(request, caller)
            except GatewayError:
                raise
            except StoreUnavailable as e:
                logger.warning("request %s %s: %s", request.method, request.path, e)
                raise ServiceUnavailable("the store is not available; retry shortly",
                                         headers={"Retry-After": "2"}) from None
            except Exception:
                logger.exception("request %s %s failed", request.method, request.path)
                raise InternalError("internal error") from None
        except GatewayError as err:
            return render(err)

    return wrapped


def audit(state: GatewayState, caller: Caller, action: str, target: str,
          details: dict[str, Any] | None = None) -> None:
    """Record an admin change (who, what, when). Never include secrets in `details`."""
    state.store.audit(caller.name, action, target, details)


async def run(fn: Callable[..., T], *args: Any) -> T:
    """A store call off the event loop, its lookup and conflict errors turned into 404 and 409."""
    try:
        return await asyncio.to_thread(fn, *args)
    except db.Missing as e:
        raise NotFound(str(e)) from None
    except db.Clash as e:
        raise Conflict(str(e)) from None
    except Duplicate:  # lost a race with a concurrent change of the same object
        raise Conflict("the object was changed concurrently; retry") from None


async def record(caller: Caller, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    await asyncio.to_thread(audit, caller.state, caller, action, target, details)
