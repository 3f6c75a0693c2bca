"""`GET /.well-known/databricks-config`: what databricks-sdk asks a host when a client starts.

The SDK (databricks/sdk/config.py `_resolve_host_metadata`, databricks/sdk/oauth.py
`HostMetadata`) fetches it without credentials and reads `oidc_endpoint` (the OIDC root: it
appends /.well-known/oauth-authorization-server for OAuth, served by `oauth`), `workspace_id`
(sent back as X-Databricks-Workspace-Id), `account_id` and `cloud`. A `workspace_id` and no
`account_id` make the host a workspace. A failure here is only a warning to the SDK, but
answering it saves every client a logged failure at start.

databricks-openai needs no discovery: `use_ai_gateway=True` is `{host}/ai-gateway/mlflow/v1`
and `use_ai_gateway_native_api=True` `{host}/ai-gateway/openai/v1`, unigate's own surfaces."""

from __future__ import annotations

import hashlib

from unigate.server.http import Request, Response, Router
from unigate.server.http.response import json_response


def origin(request: Request) -> str:
    """The URL the client reached unigate at (behind a proxy: the scheme it says it used)."""
    scheme = request.headers.get("X-Forwarded-Proto", "http").split(",")[0].strip() or "http"
    host = request.headers.get("X-Forwarded-Host") or request.headers.get("Host") or "localhost"
    return f"{scheme}://{host.split(',')[0].strip()}"


def workspace_id(host: str) -> str:
    """A workspace id that is the same on every worker and every call for one host (Databricks'
    are decimal numbers; clients only send it back)."""
    return str(int.from_bytes(hashlib.sha256(host.encode()).digest()[:6], "big"))


async def databricks_config(request: Request) -> Response:
    base = origin(request)
    return json_response({"oidc_endpoint": f"{base}/oidc", "workspace_id": workspace_id(base)})


def add_routes(router: Router) -> None:
    router.add_get("/.well-known/databricks-config", databricks_config)
