"""Databricks compatibility: the routes that clients written for Databricks' serving endpoints
and AI Gateway call (databricks-sdk, databricks-openai, mlflow's databricks deployments client,
databricks-langchain), mapped onto unigate's endpoints, identities and admin API.

- `discovery`: /.well-known/databricks-config and what databricks-openai asks to find the gateway;
- `oauth`: OAuth M2M for service principals (/oidc/...);
- `invocations`: /serving-endpoints/{name}/invocations and the OpenAI-shaped /serving-endpoints/...;
- `serving_endpoints`: /api/2.0/serving-endpoints (create, get, list, update, delete, ai-gateway);
- `permissions`: /api/2.0/permissions/serving-endpoints/{id};
- `mlflow_deployments`: the MLflow deployments server's /api/2.0/endpoints and /endpoints/{name}/invocations;
- `scim`: /api/2.0/preview/scim/v2/Me (who the caller is, for Terraform and the SDK);
- `unserved`: Databricks' 404 ENDPOINT_NOT_FOUND for every other /api/2.x/... and
  /serving-endpoints/... path: added last, so it shadows none of the routes above.
See docs/databricks.md."""

from __future__ import annotations

from unigate.server.databricks import (
    discovery,
    invocations,
    mlflow_deployments,
    oauth,
    permissions,
    scim,
    serving_endpoints,
    unserved,
)
from unigate.server.http import Router


def add_routes(router: Router) -> None:
    for module in (discovery, oauth, invocations, serving_endpoints, permissions, mlflow_deployments, scim):
        module.add_routes(router)
    unserved.add_routes(router)  # last: the catch-all of the paths above
