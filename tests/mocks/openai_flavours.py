"""Auth and error bodies of the OpenAI family: OpenAI itself, Azure OpenAI, compat servers.

OpenAI: {"error": {"message", "type", "param", "code"}}, key in `Authorization: Bearer`.
Azure:  {"error": {"code": "401", "message"}} for gateway-level errors, key in `api-key`
        (the v1 surface also takes `Authorization: Bearer <key>`).
Compat: vLLM-style {"error": {"message", "type": "BadRequestError", "param", "code": 400}};
        any key, or none, is accepted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .openai_chat import OpenAIInvalid
from .state import MockKeys

OPENAI_STATUS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found",
          "The model does not exist or you do not have access to it."),
    409: ("invalid_request_error", None, "Conflict."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}

COMPAT_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError",
                429: "RateLimitError", 503: "ServiceUnavailableError"}


def openai_headers(request_id: str) -> dict[str, str]:
    return {"x-request-id": request_id, "openai-version": "2020-10-01",
            "openai-processing-ms": "42", "openai-organization": "org-mock",
            "x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms"}


def _retry_headers(retry_after: str | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    seconds = float(retry_after)
    return {"retry-after": retry_after, "retry-after-ms": str(int(seconds * 1000)),
            "x-ratelimit-reset-requests": f"{retry_after}s"}


def error_response(flavour: str, status: int, message: str | None = None,
                   retry_after: str | None = None, param: str | None = None,
                   code: str | None = None) -> web.Response:
    headers = _retry_headers(retry_after)
    body: dict[str, Any]
    if flavour == "compat":
        kind = COMPAT_TYPES.get(status, "InternalServerError")
        body = {"error": {"message": message or kind, "type": kind, "param": param,
                          "code": status}}
    elif flavour == "azure" and status != 400:
        body = {"error": {"code": str(status), "message": message or _azure_message(status,
                                                                                    retry_after)}}
    else:
        kind, default_code, default_message = OPENAI_STATUS.get(
            status, ("server_error", None, "Unexpected error."))
        body = {"error": {"message": message or default_message, "type": kind, "param": param,
                          "code": code if code is not None or message else default_code}}
    return web.Response(status=status, text=json.dumps(body), headers=headers,
                        content_type="application/json")


def _azure_message(status: int, retry_after: str | None) -> str:
    if status == 401:
        return ("Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.")
    if status == 429:
        return ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing "
                f"tier. Please retry after {retry_after or 60} seconds.")
    if status == 404:
        return "Resource not found"
    return "The service is temporarily unable to process your request. Please try again later."


def invalid_response(flavour: str, error: OpenAIInvalid) -> web.Response:
    return error_response(flavour, 400, error.message, param=error.param, code=error.code)


def check_auth(flavour: str, request: web.Request, keys: MockKeys) -> web.Response | None:
    """None when the key is right, else the provider's own 401."""
    bearer = request.headers.get("Authorization", "")
    given = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
    if flavour == "compat":
        return None
    if flavour == "azure":
        key = request.headers.get("api-key") or given
        return None if key == keys.azure else error_response("azure", 401)
    if given is None:
        return error_response(
            "openai", 401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as "
            "the password field (with blank username) if you're accessing the API from your "
            "browser and are prompted for a username and password. You can obtain an API key "
            "from https://platform.openai.com/account/api-keys.")
    if given != keys.openai:
        shown = given[:3] + "*" * 4 + given[-4:] if len(given) > 8 else given
        return error_response(
            "openai", 401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    return None


API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def check_azure_api_version(request: web.Request) -> web.Response | None:
    """The deployments surface needs ?api-version=YYYY-MM-DD[-preview]; the v1 surface does not."""
    version = request.query.get("api-version")
    if version is None:
        return error_response("azure", 404, "Resource not found")
    if not API_VERSION.match(version):
        return web.json_response(
            {"error": {"code": "BadRequest", "message": "API version not supported"}}, status=400)
    return None


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OpenAIInvalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.")
    return body
