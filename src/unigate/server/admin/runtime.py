"""GET /api/v1/runtime: this worker's live counts (tasks, upstream connections, sockets), for
operators and for the tests that check nothing leaks after faults and disconnects."""

from __future__ import annotations

import asyncio
import os

from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response
from unigate.server.http import Request, Response, Router


def _socket_fds() -> int:
    """Open sockets of this process (-1 where /proc is not available)."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return -1
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return count


@admin_route
async def runtime(request: Request, caller: Caller) -> Response:
    caller.require_admin()
    session = caller.state.session
    in_use, idle = session.stats() if session is not None else (0, 0)
    return json_response({
        "pid": os.getpid(),
        "tasks": len(asyncio.all_tasks()),
        "upstream_connections_in_use": in_use,
        "upstream_connections_idle": idle,
        "socket_fds": _socket_fds(),
        "config_version": caller.state.snap.version,
    })


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/runtime", runtime)
