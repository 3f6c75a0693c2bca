"""The wrapper every management route of the serving-endpoints and permissions APIs shares:
authenticate the caller (any unigate token: each handler checks its own rights), and answer
every failure in Databricks' error shape, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from unigate.errors import GatewayError
from unigate.server.admin.common import Caller, caller_route
from unigate.server.databricks.errors import error_response
from unigate.server.http import AnyResponse, Request

log = logging.getLogger("unigate.databricks")
Handler = Callable[[Request, Caller], Awaitable[AnyResponse]]


class AlreadyExists(GatewayError):
    """A name that is taken: the SDK raises ResourceAlreadyExists for it."""

    status, code = 409, "already_exists"


def databricks_route(handler: Handler) -> Callable[[Request], Awaitable[AnyResponse]]:
    return caller_route(handler, admin_rights=False, render=error_response, logger=log)
