"""The MLflow deployments server's API (MLflow AI Gateway), for
`mlflow.deployments.get_deploy_client("http://host:8080")` with `MLFLOW_TRACKING_TOKEN` set to
a unigate token:

    GET  /api/2.0/endpoints/          list_endpoints (what the caller may query; one page)
    GET  /api/2.0/endpoints/{name}    get_endpoint
    POST /endpoints/{name}/invocations, /gateway/{name}/invocations    predict

The client (mlflow/deployments/mlflow/__init__.py) reads `Endpoint`s: name, endpoint_type,
model {name, provider}, endpoint_url (relative: it joins it to the target) and limit. A query
is the serving endpoints' invocations route: the same payloads (chat, completions,
embeddings) with the same answers, which are also the MLflow gateway's shapes."""

from __future__ import annotations

from typing import Any

from unigate.config import EndpointConfig
from unigate.errors import NotFound, PermissionDenied
from unigate.server.admin.common import Caller, json_response
from unigate.server.databricks.invocations import invocations
from unigate.server.databricks.serving_mapping import infer_task
from unigate.server.databricks.serving_route import databricks_route
from unigate.server.http import Request, Response, Router

BASE = "/api/2.0/endpoints"
# unigate's provider types as MLflow's provider names (MLflow's Azure OpenAI is `openai`)
_PROVIDER = {"azure_openai": "openai"}


def _limit(spec: EndpointConfig) -> dict[str, Any] | None:
    """The endpoint-wide requests-per-minute limit, the one kind MLflow's `Limit` describes."""
    for limit in spec.rate_limits:
        if limit.get("key") == "endpoint" and limit.get("requests") is not None \
                and limit.get("renewal_period", "minute") == "minute":
            return {"calls": limit["requests"], "key": None, "renewal_period": "minute"}
    return None


def endpoint_view(caller: Caller, name: str) -> dict[str, Any]:
    """One endpoint as MLflow's `Endpoint`, from the worker's loaded configuration."""
    spec = caller.state.config.endpoints[name]
    first = spec.destinations[0]
    provider = caller.state.config.providers.get(first.provider)
    ptype = provider.type if provider is not None else "custom"
    return {"name": name, "endpoint_type": infer_task(first.model),
            "model": {"name": first.model, "provider": _PROVIDER.get(ptype, ptype)},
            "endpoint_url": f"/endpoints/{name}/invocations", "limit": _limit(spec)}


@databricks_route
async def list_endpoints(request: Request, caller: Caller) -> Response:
    names = sorted(n for n in caller.state.config.endpoints if caller.state.can_query(caller.principal, n))
    return json_response({"endpoints": [endpoint_view(caller, n) for n in names]})


@databricks_route
async def get_endpoint(request: Request, caller: Caller) -> Response:
    name = request.match_info["name"]
    if name not in caller.state.config.endpoints:
        raise NotFound(f"endpoint '{name}' does not exist")
    if not caller.state.can_query(caller.principal, name):
        raise PermissionDenied(f"this operation needs CAN_QUERY on endpoint '{name}'")
    return json_response(endpoint_view(caller, name))


def add_routes(router: Router) -> None:
    for base in (BASE, BASE + "/"):
        router.add_get(base, list_endpoints)
    router.add_get(f"{BASE}/{{name:.+}}", get_endpoint)
    for prefix in ("/endpoints", "/gateway"):
        router.add_post(f"{prefix}/{{name:.+}}/invocations", invocations)
