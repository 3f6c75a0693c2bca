"""The wrapper every management route of the serving-endpoints and permissions APIs shares:
authenticate the caller (any unigate token: each handler checks its own rights), and answer
every failure in Databricks' error shape, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from unigate.errors import GatewayError, InternalError, ServiceUnavailable
from unigate.server.admin.common import STATE_KEY, Caller
from unigate.server.auth import authenticate
from unigate.server.databricks.errors import error_response
from unigate.server.http import AnyResponse, Request
from unigate.store.base import StoreUnavailable

log = logging.getLogger("unigate.databricks")
Handler = Callable[[Request, Caller], Awaitable[AnyResponse]]


class AlreadyExists(GatewayError):
    """A name that is taken: the SDK raises ResourceAlreadyExists for it."""

    status, code = 409, "already_exists"


def databricks_route(handler: Handler) -> Callable[[Request], Awaitable[AnyResponse]]:
    async def wrapped(request: Request) -> AnyResponse:
        state = request.app[STATE_KEY]
        try:
            try:
                return await handler(request, Caller(state, authenticate(request, state)))
            except GatewayError:
                raise
            except StoreUnavailable as e:
                log.warning("databricks request %s %s: %s", request.method, request.path, e)
                raise ServiceUnavailable("the store is not available; retry shortly",
                                         headers={"Retry-After": "2"}) from None
            except Exception:
                log.exception("databricks request %s %s failed", request.method, request.path)
                raise InternalError("internal error") from None
        except GatewayError as err:
            return error_response(err)

    return wrapped
