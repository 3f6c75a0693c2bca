"""Databricks' answer for a path it has no API for, on the paths Databricks clients call:

    any method on /api/2.x/... and /serving-endpoints/... that no route before it serves

is `404 {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for 'GET /unity-catalog/domains'"}`,
as a workspace answers (the path in the message drops the `/api/2.x` prefix, as Databricks'
does). databricks-sdk raises NotFound with that error_code, mlflow its own error with the
message, where unigate's generic answer (`app.not_found`) is OpenAI-shaped.

A served path called with a method it does not serve falls through to here too: Databricks
answers a wrong verb with the same 404. So these routes go after every other Databricks route
(templates match in the order they were added; static paths are looked up first, with the
method, and fall through to the templates when the method does not match)."""

from __future__ import annotations

import orjson

from unigate.server.context import new_request_id
from unigate.server.http import Request, Response, Router

TEMPLATES = ("/api/{version:2\\.[0-9]+}{rest:(?:/.*)?}", "/serving-endpoints{rest:(?:/.*)?}")


def no_api_message(method: str, path: str) -> str:
    return f"No API found for '{method} {path}'"


async def no_api(request: Request) -> Response:
    """The 404 ENDPOINT_NOT_FOUND of a path Databricks (and so unigate) has no API for."""
    version = request.match_info.get("version")
    path = (request.match_info["rest"] or "/") if version else request.path
    body = {"error_code": "ENDPOINT_NOT_FOUND", "message": no_api_message(request.method, path)}
    return Response(body=orjson.dumps(body), status=404, content_type="application/json",
                    headers={"x-request-id": request.headers.get("x-request-id") or new_request_id()})


def add_routes(router: Router) -> None:
    for template in TEMPLATES:
        router.add_route("*", template, no_api)
