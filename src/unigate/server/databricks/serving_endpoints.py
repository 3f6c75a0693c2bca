"""(being written in this session)"""

from __future__ import annotations

from unigate.server.http import Router


def add_routes(router: Router) -> None:
    return None
