"""GET /api/v1/openapi.json: the admin API described as OpenAPI 3.1.

Served like every admin route: only to an administrator or an endpoint manager (the issue says
no admin endpoint answers without such a token; the document names no secrets, but it is part
of that API). Written by hand from the request and response shapes, so it stays readable; a
test checks that every registered /api/v1 route is described here."""

from __future__ import annotations

from typing import Any

from unigate import __version__
from unigate.providers import PROVIDER_TYPES
from unigate.server.admin.common import PREFIX, Caller, admin_route, json_response
from unigate.server.http import Request, Response, Router

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Schema], required: tuple[str, ...] = (), extra: bool = True) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


S, INT, B, N = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}
MEMBER = {"oneOf": [obj({"user_name": S}, ("user_name",)),
                    obj({"service_principal_name": S}, ("service_principal_name",)),
                    obj({"group_name": S}, ("group_name",))]}
LEVEL = {"type": "string", "enum": ["CAN_QUERY", "CAN_MANAGE"]}
# The names the configuration accepts (unigate.config, governance.budgets.spec)
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"}
MCP_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
BUDGET_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}
NONEMPTY = {"type": "string", "minLength": 1, "pattern": r"\S"}


def nullable(schema: Schema) -> Schema:
    """A field an answer may give as null (not set)."""
    kind = schema.get("type", "string")
    return {**schema, "type": [kind, "null"]}


SN, NN = nullable(S), nullable(N)
LIFETIME = {"type": "number", "exclusiveMinimum": 0, "description": "seconds; absent: does not expire"}

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": obj({"code": S, "message": S, "field": S}, ("code", "message"))}, ("error",)),
    "ProviderSpec": obj({
        "name": NAME, "type": {"type": "string", "enum": list(PROVIDER_TYPES)},
        "base_url": S, "api_key": {"type": "string", "writeOnly": True,
                                   "description": "write-only; omit on PUT to keep the stored key, '' clears"},
        "api_version": S, "supports_responses": B, "headers": {"type": "object", "additionalProperties": S},
        **{name: {**schema, "description": f"type {kind} only: {schema.get('description', '')}".rstrip(": ")}
           for kind, cls in PROVIDER_TYPES.items() for name, schema in cls.OPTIONS.items()},
    }, ("name", "type"), extra=False),
    "Provider": {"allOf": [ref("ProviderSpec"), obj({"api_key_set": B, "created_at": N, "updated_at": N})]},
    "Destination": obj({"provider": S, "model": S,
                        "traffic_percentage": {"type": "integer", "minimum": 0, "maximum": 100}},
                       ("provider", "model")),
    "RateLimit": obj({
        "key": {"type": "string", "enum": ["endpoint", "user_default", "user", "service_principal", "group",
                                           "request_tag"]},
        "principal": {"type": "string", "description": "required for user, service_principal, group, "
                                                       "request_tag (key=value)"},
        "requests": {"type": "integer", "minimum": 0}, "tokens": {"type": "integer", "minimum": 0},
        "renewal_period": {"type": "string", "enum": ["minute", "hour"]},
    }, ("key", "renewal_period"), extra=False),
    "InferenceTable": obj({"enabled": B, "retention_days": {"type": "integer", "minimum": 1}}, ("enabled",)),
    "Guardrail": obj({
        "name": S, "type": {"type": "string", "enum": ["pii", "keywords", "topics", "judge"]},
        "phase": {"type": "string", "enum": ["input", "output"]},
        "action": {"type": "string", "enum": ["block", "sanitize"], "default": "block"},
        "mode": {"type": "string", "enum": ["enforce", "log"], "default": "enforce"},
        "entities": arr(S), "restore": B, "words": arr(S), "patterns": arr(S), "case_sensitive": B,
        "allowed": {"type": "object", "additionalProperties": arr(S)},
        "denied": {"type": "object", "additionalProperties": arr(S)},
        "endpoint": S, "template": {"type": "string", "enum": ["unsafe", "jailbreak", "hallucination", "custom"]},
        "prompt": S, "threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "timeout": {"type": "string", "examples": ["10s"]},
        "on_error": {"type": "string", "enum": ["block", "allow"], "default": "block"},
    }, ("name", "type", "phase"), extra=False),
    "Guardrails": obj({
        "guardrails": arr(ref("Guardrail")),
        "guardrail_response": {"type": "string", "enum": ["error", "content_filter"], "default": "error"},
        "guardrail_window": {"type": "integer", "minimum": 16, "maximum": 65536, "default": 128},
    }),
    "EndpointSpec": obj({
        "name": NAME, "destinations": arr(ref("Destination")),
        "fallbacks": arr(obj({"provider": S, "model": S}, ("provider", "model"))),
        "timeout": {"type": "string", "examples": ["30s", "500ms", "2m"]},
        "first_token_timeout": {"type": "string", "examples": ["10s"]},
        "rate_limits": arr(ref("RateLimit")), "inference_table": ref("InferenceTable"),
        "guardrails": arr(ref("Guardrail")),
        "guardrail_response": {"type": "string", "enum": ["error", "content_filter"], "default": "error"},
        "guardrail_window": {"type": "integer", "minimum": 16, "maximum": 65536, "default": 128},
        "max_attempts": {"type": "integer", "minimum": 1},
        "unsupported_parameters": {
            "type": "string", "enum": ["refuse", "drop"], "default": "refuse",
            "description": "a parameter that changes the answer and that the provider cannot honour: "
                           "refused with a 400, or dropped and named in x-unigate-dropped-parameters"},
        "agent": obj({
            "allow_remote_mcp": {"type": "boolean", "default": False,
                                 "description": "whether requests may name MCP servers by URL"},
            "max_tool_calls": {"type": "integer", "minimum": 0, "default": 20},
            "timeout": {"type": "string", "examples": ["5m"], "description": "a whole agent loop"},
            "max_tokens": {"type": "integer", "minimum": 1,
                           "description": "tokens over all model calls of one loop"},
        }, (), extra=False),
        "description": S, "tags": {"type": "object", "additionalProperties": S,
                                   "description": "the operator's labels; unigate acts on none"},
        "compat": {"type": "object", "additionalProperties": {"type": "object"},
                   "description": "another gateway API's fields unigate keeps but does not act on, by "
                                  "API (databricks: what /api/2.0/serving-endpoints reads back)"},
    }, ("name", "destinations")),
    "Endpoint": {"allOf": [ref("EndpointSpec"), obj({"created_at": N, "updated_at": N})]},
    "McpServiceSpec": obj({
        "name": MCP_NAME, "url": {"type": "string", "description": "a streamable HTTP MCP server (or give command)"},
        "command": {"type": "string", "description": "a stdio MCP server each worker runs; through the API "
                                                     "only with settings.mcp_stdio_from_api in the file"},
        "args": arr(S), "cwd": S,
        "env": {"type": "object", "additionalProperties": S, "writeOnly": True,
                "description": "the process's environment besides PATH, HOME and LANG; reads show '(hidden)'"},
        "headers": {"type": "object", "additionalProperties": S, "writeOnly": True,
                    "description": "sent to the server only; reads show '(hidden)', which a write may "
                                   "send back to keep the stored value"},
        "description": S, "rate_limits": arr(ref("RateLimit")), "inference_table": ref("InferenceTable"),
        "timeout": {"type": "string", "examples": ["60s"], "description": "one call to the server"},
    }, ("name",)),
    "McpService": {"allOf": [ref("McpServiceSpec"), obj({"created_at": N, "updated_at": N})]},
    "McpGrant": {"allOf": [MEMBER, obj({
        "permission_level": {"type": "string", "enum": ["CAN_USE"]},
        "tools": {"type": "array", "items": S, "minItems": 1,
                  "description": "only these tools (absent: every tool)"}})]},
    "McpPermissions": obj({"object_id": S, "object_type": S, "access_control_list": arr(ref("McpGrant"))}),
    "PlanChange": obj({"kind": {"type": "string", "enum": ["provider", "endpoint", "mcp_service", "price",
                                                           "budget"]}, "name": S,
                       "action": {"type": "string", "enum": ["create", "update", "delete"]},
                       "diff": arr(obj({"field": S, "old": {}, "new": {}})),
                       "spec": {"type": "object"}}),
    "Plan": obj({"changes": arr(ref("PlanChange")), "plan_id": S,
                 "summary": obj({"create": INT, "update": INT, "delete": INT})}),
    "User": obj({"email": S, "display_name": SN, "created_at": N}),
    "ServicePrincipal": obj({"application_id": S, "display_name": SN, "created_at": N}),
    "ServicePrincipalSecret": obj({"secret_id": S, "secret": {"type": "string", "description": "on creation only"},
                                   "application_id": S, "create_time": N, "expire_time": NN, "last_used_time": NN,
                                   "status": S}),
    "Member": MEMBER,
    "Group": obj({"name": S, "builtin": B, "members": arr(MEMBER), "created_at": N}),
    "Token": obj({"token_id": S, "principal": S, "principal_type": S, "comment": SN, "created_at": N,
                  "expires_at": NN, "revoked_at": NN, "last_used_at": NN}),
    "AccessControl": {"allOf": [MEMBER, obj({"permission_level": LEVEL}, ("permission_level",))]},
    "Permissions": obj({"object_id": S, "object_type": S, "access_control_list": arr(ref("AccessControl"))}),
    "UsageRow": obj({k: {} for k in (
        "request_id", "event_time", "endpoint_name", "api_type", "url", "requester", "requester_type",
        "user_agent", "destination_provider", "destination_model", "status_code", "error_code", "streaming",
        "latency_ms", "time_to_first_byte_ms", "input_tokens", "output_tokens", "total_tokens",
        "cache_read_input_tokens", "cache_creation_input_tokens", "reasoning_tokens", "usage_estimated",
        "request_tags", "routing_information", "client_name", "client_version", "session_id",
        "dropped_parameters", "emulated_parameters", "mcp_service", "mcp_tool", "guardrails", "cost_usd")}),
    "UsageGroup": obj({
        "key": {"description": "the group's value (also under the group_by name, e.g. endpoint)"},
        "bucket": {"type": "string", "description": "with bucket=: the UTC time bucket, ISO 8601 "
                                                    "(2024-06-10T08:13:00Z, 2024-06-10T08:00:00Z, 2024-06-10)"},
        "requests": INT, "errors": {"type": "integer", "description": "status 400 or above"},
        "estimated": {"type": "integer", "description": "requests whose tokens were estimated"},
        **{k: INT for k in ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
                            "cache_creation_input_tokens", "reasoning_tokens")},
        "cost_usd": N, "unpriced": {"type": "integer", "description": "requests with tokens but no price"},
        "latency_p50_ms": {"type": ["number", "null"],
                           "description": "nearest-rank median of latency_ms over the group's rows that have "
                                          "one (null: none)"},
        "latency_p95_ms": {"type": ["number", "null"], "description": "nearest-rank 95th percentile"},
        "ttfb_p50_ms": {"type": ["number", "null"],
                        "description": "nearest-rank median time to first byte of the group's streams"},
    }),
    "PayloadRow": obj({k: {} for k in ("request_id", "event_time", "endpoint_name", "requester", "status_code",
                                       "latency_ms", "request_body", "response_body", "not_stored_reason")}),
    "AuditEntry": obj({"id": INT, "event_time": N, "actor": S, "action": S, "target": SN,
                       "details": {"type": ["object", "null"]}}),
    "PriceSpec": obj({
        "provider": {"type": "string", "description": "a provider's name (give provider or type, not both)"},
        "type": {"type": "string", "enum": list(PROVIDER_TYPES), "description": "every provider of this type"},
        "model": S,
        "input": {"type": "number", "minimum": 0, "description": "USD per million input tokens (not cached)"},
        "output": {"type": "number", "minimum": 0, "description": "USD per million output tokens"},
        "cached_input": {"type": ["number", "null"], "minimum": 0,
                         "description": "USD per million cache-read tokens (absent: the input price)"},
        "cache_write": {"type": ["number", "null"], "minimum": 0,
                        "description": "USD per million cache-creation tokens (absent: the input price)"},
    }, ("model", "input", "output"), extra=False),
    "Price": {"allOf": [ref("PriceSpec"), obj({
        "origin": {"type": "string", "enum": ["operator", "shipped"]},
        "overridden": {"type": "boolean", "description": "shipped: an operator entry for the type replaces it"}})]},
    "Prices": obj({"as_of": {"type": "string", "description": "date of the shipped list prices"},
                   "source": S, "prices": arr(ref("Price"))}),
    "BudgetSpec": obj({
        "name": BUDGET_NAME,
        "scope": {"description": "absent: every request. One of {endpoint: E}, {principal: email or "
                                 "application id}, {group: G} (members of nested groups too), {tag: {key: value}}",
                  "oneOf": [obj({"endpoint": S}, ("endpoint",), extra=False),
                            obj({"principal": S}, ("principal",), extra=False),
                            obj({"group": S}, ("group",), extra=False),
                            obj({"tag": {"type": "object", "minProperties": 1,
                                         "additionalProperties": {"type": ["string", "number", "boolean"]},
                                         "maxProperties": 1}}, ("tag",), extra=False)]},
        "period": {"type": "string", "enum": ["daily", "monthly"], "description": "UTC calendar day or month"},
        "limit_usd": {"type": "number", "minimum": 0, "maximum": 9_000_000},
        "block": {"type": "boolean", "default": False,
                  "description": "429 (budget_exceeded) once a request's estimated cost no longer fits"},
        "alerts": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                   "description": "percentages of limit_usd; each reached once per period is alerted once"},
        "webhook": {"description": "POSTed a JSON alert (type budget.alert) for each threshold reached",
                    "oneOf": [S, obj({"url": S, "headers": {
                        "type": "object", "additionalProperties": S, "writeOnly": True,
                        "description": "reads show '(hidden)', which a write may send back to keep the value"}},
                        ("url",), extra=False)]},
    }, ("name", "period", "limit_usd"), extra=False),
    "Budget": {"allOf": [ref("BudgetSpec"), obj({
        "created_at": N, "updated_at": N,
        "period_start": {"type": "string", "description": "ISO 8601, UTC"}, "period_end": S,
        "spent_usd": {"type": "number", "description": "finished requests of the current period"},
        "reserved_usd": {"type": "number", "description": "estimated cost of the requests in flight"},
        "remaining_usd": {"type": "number", "description": "limit_usd - spent_usd - reserved_usd, at least 0"},
        "percent_used": NN, "resets_in_seconds": INT,
        "alerts_sent": arr(obj({"threshold_percent": N, "limit_usd": N, "spent_usd": N, "at": N,
                                "delivered_at": N, "attempts": INT, "error": S}))})]},
}


def _answer_shapes(schemas: dict[str, Schema]) -> None:
    """An answer (Provider) is its spec (ProviderSpec) and a few fields of its own; a spec that
    refuses unknown fields cannot be combined with them by allOf, so such answers get a copy of
    the spec's properties with theirs, open to more."""
    for name, schema in schemas.items():
        parts = schema.get("allOf")
        if not parts or "$ref" not in parts[0]:
            continue
        spec = schemas[parts[0]["$ref"].rsplit("/", 1)[1]]
        if spec.get("additionalProperties") is False:
            merged: Schema = {"type": "object", "properties": {**spec["properties"], **parts[1]["properties"]}}
            if "required" in spec:
                merged["required"] = spec["required"]
            schemas[name] = merged


_answer_shapes(SCHEMAS)


def body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def ok(schema: Schema, status: str = "200", csv: bool = False) -> dict[str, Schema]:
    content: Schema = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": S}
    return {status: {"description": "OK" if status == "200" else "Created", "content": content}}


ERRORS = {"400": "malformed or invalid (the error names the field)", "401": "no or invalid token",
          "403": "not allowed for this caller", "404": "unknown object", "409": "conflict"}


def op(summary: str, tag: str, who: str, responses: dict[str, Schema], *, errors: str = "",
       request: Schema | None = None, params: list[Schema] | None = None) -> Schema:
    out: Schema = {"summary": summary, "tags": [tag], "description": f"Allowed: {who}.",
                   "responses": dict(responses)}
    for code in ("401", "403", *errors.split()):
        out["responses"][code] = {"description": ERRORS[code],
                                  "content": {"application/json": {"schema": ref("Error")}}}
    if request is not None:
        out["requestBody"] = body(request)
    if params:
        out["parameters"] = params
    return out


def path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": S}


def query(name: str, schema: Schema = S, description: str = "") -> Schema:
    out: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


ADMIN, MANAGER = "administrators", "administrators and managers (CAN_MANAGE) of the endpoint"
ANY = "administrators and endpoint managers"
TOKEN_OWNERS = ("every signed-in principal (non-administrators: their own tokens only; only administrators "
                "create or revoke tokens for someone else)")
USAGE_READERS = ("every signed-in principal: administrators see all rows, endpoint managers the rows of "
                 "their endpoints (another endpoint: 403), anyone else its own requests (another "
                 "requester: 403)")
EP = [path_param("name")]


def limit(most: int) -> Schema:
    return query("limit", {"type": "integer", "minimum": 1, "maximum": most})


OFFSET = query("offset", {"type": "integer", "minimum": 0, "maximum": 10**12})
PAGE = [limit(1000), OFFSET]  # payload rows
USAGE_QUERY = [query("start", description="unix seconds or ISO 8601"), query("end"), query("endpoint"),
               query("requester"), query("tag", description="key=value or key; repeatable"),
               query("status", {"type": "integer", "minimum": 100, "maximum": 599}),
               query("client", description="client name, e.g. claude-code"),
               query("session", description="a client's session id"),
               query("mcp_service", description="tool calls on this registered MCP service"),
               limit(100_000), OFFSET,
               query("format", {"type": "string", "enum": ["json", "csv"]})]


def paths() -> dict[str, Schema]:
    p = PREFIX
    return {
        f"{p}/openapi.json": {"get": op("This document", "meta", ANY, ok({"type": "object"}))},
        f"{p}/me": {"get": op("Who the caller is: principal, groups, admin or not, the endpoints it may manage "
                              "and query", "meta", "every signed-in principal", ok(obj({
                                  "principal": S, "principal_type": S, "token_id": S, "is_admin": B,
                                  "groups": arr(S), "can_manage": arr(S), "can_query": arr(S), "version": S})))},
        f"{p}/runtime": {"get": op("This worker's live counts: tasks, upstream connections, sockets",
                                   "meta", ADMIN, ok({"type": "object"}))},
        f"{p}/providers": {
            "get": op("List providers (api_key never shown)", "providers", ADMIN,
                      ok(obj({"providers": arr(ref("Provider"))}))),
            "post": op("Create a provider", "providers", ADMIN, ok(ref("Provider"), "201"),
                       errors="400 409", request=ref("ProviderSpec"))},
        f"{p}/providers/{{name}}": {
            "parameters": EP,
            "get": op("Get a provider", "providers", ADMIN, ok(ref("Provider")), errors="404"),
            "put": op("Replace a provider (without api_key: the stored key is kept)", "providers", ADMIN,
                      ok(ref("Provider")), errors="400 404", request=ref("ProviderSpec")),
            "delete": op("Delete a provider (409 naming the endpoints that still use it)", "providers", ADMIN,
                         ok(obj({"deleted": S})), errors="404 409")},
        f"{p}/endpoints": {
            "get": op("List endpoints (managers see the ones they manage)", "endpoints", ANY,
                      ok(obj({"endpoints": arr(ref("Endpoint"))}))),
            "post": op("Create an endpoint", "endpoints", ADMIN, ok(ref("Endpoint"), "201"),
                       errors="400 409", request=ref("EndpointSpec"))},
        f"{p}/endpoints/{{name}}": {
            "parameters": EP,
            "get": op("Get an endpoint", "endpoints", MANAGER, ok(ref("Endpoint")), errors="404"),
            "put": op("Replace an endpoint", "endpoints", MANAGER, ok(ref("Endpoint")), errors="400 404",
                      request=ref("EndpointSpec")),
            "patch": op("Change some fields (JSON merge patch: null removes a field)", "endpoints", MANAGER,
                        ok(ref("Endpoint")), errors="400 404", request={"type": "object"}),
            "delete": op("Delete an endpoint and its grants", "endpoints", ADMIN, ok(obj({"deleted": S})),
                         errors="404")},
        f"{p}/endpoints/{{name}}/rate-limits": {
            "parameters": EP,
            "get": op("The endpoint's rate limits", "endpoints", MANAGER,
                      ok(obj({"rate_limits": arr(ref("RateLimit"))})), errors="404"),
            "put": op("Replace the endpoint's rate limits", "endpoints", MANAGER,
                      ok(obj({"rate_limits": arr(ref("RateLimit"))})), errors="400 404",
                      request=obj({"rate_limits": arr(ref("RateLimit"))}, ("rate_limits",)))},
        f"{p}/endpoints/{{name}}/guardrails": {
            "parameters": EP,
            "get": op("The endpoint's guardrails (docs/guardrails.md)", "endpoints", MANAGER, ok(ref("Guardrails")),
                      errors="404"),
            "put": op("Replace the endpoint's guardrails", "endpoints", MANAGER, ok(ref("Guardrails")),
                      errors="400 404", request=ref("Guardrails"))},
        f"{p}/endpoints/{{name}}/inference-table": {
            "parameters": EP,
            "get": op("Payload logging settings", "endpoints", MANAGER, ok(ref("InferenceTable")), errors="404"),
            "put": op("Turn payload logging on or off", "endpoints", MANAGER, ok(ref("InferenceTable")),
                      errors="400 404", request=ref("InferenceTable"))},
        f"{p}/endpoints/{{name}}/permissions": {
            "parameters": EP,
            "get": op("The endpoint's grants", "permissions", MANAGER, ok(ref("Permissions")), errors="404"),
            "put": op("Replace the endpoint's grants", "permissions", MANAGER, ok(ref("Permissions")),
                      errors="400 404", request=obj({"access_control_list": arr(ref("AccessControl"))},
                                                    ("access_control_list",))),
            "patch": op("Add or change grants", "permissions", MANAGER, ok(ref("Permissions")),
                        errors="400 404", request=obj({"access_control_list": arr(ref("AccessControl"))},
                                                      ("access_control_list",)))},
        f"{p}/endpoints/{{name}}/payloads": {
            "parameters": EP,
            "get": op("The endpoint's inference-table rows, newest first", "payloads", MANAGER,
                      ok(obj({"endpoint": S, "payloads": arr(ref("PayloadRow"))})), errors="400 404",
                      params=[*PAGE, query("start"), query("end"), query("request_id")])},
        f"{p}/apply": {
            "post": op("Apply a configuration file's providers, endpoints, MCP services, prices and "
                       "budgets (unigate apply)", "apply", ADMIN,
                       ok(obj({"plan": ref("Plan"), "applied": B})), errors="400 409",
                       request=obj({"providers": arr(ref("ProviderSpec")), "endpoints": arr(ref("EndpointSpec")),
                                    "mcp_services": arr(ref("McpServiceSpec")),
                                    "prices": {**arr(ref("PriceSpec")),
                                               "description": "absent: the stored prices stay as they are"},
                                    "budgets": {**arr(ref("BudgetSpec")),
                                                "description": "absent: the stored budgets stay as they are"},
                                    "prune": B, "dry_run": B,
                                    "expect_plan": {"type": "string",
                                                    "description": "plan_id of a dry run; 409 if it changed"}}))},
        f"{p}/mcp-services": {
            "get": op("List MCP services (header values hidden)", "mcp", ADMIN,
                      ok(obj({"mcp_services": arr(ref("McpService"))}))),
            "post": op("Register an MCP service", "mcp", ADMIN, ok(ref("McpService"), "201"),
                       errors="400 409", request=ref("McpServiceSpec"))},
        f"{p}/mcp-services/{{name}}": {
            "parameters": EP,
            "get": op("Get an MCP service", "mcp", ADMIN, ok(ref("McpService")), errors="404"),
            "put": op("Replace an MCP service", "mcp", ADMIN, ok(ref("McpService")), errors="400 404",
                      request=ref("McpServiceSpec")),
            "delete": op("Delete an MCP service and its grants", "mcp", ADMIN, ok(obj({"deleted": S})),
                         errors="404")},
        f"{p}/mcp-services/{{name}}/permissions": {
            "parameters": EP,
            "get": op("Who may use the service (CAN_USE)", "mcp", ADMIN, ok(ref("McpPermissions")), errors="404"),
            "put": op("Replace the service's grants", "mcp", ADMIN, ok(ref("McpPermissions")), errors="400 404",
                      request=obj({"access_control_list": arr(ref("McpGrant"))}, ("access_control_list",))),
            "patch": op("Add or change grants", "mcp", ADMIN, ok(ref("McpPermissions")), errors="400 404",
                        request=obj({"access_control_list": arr(ref("McpGrant"))}, ("access_control_list",)))},
        f"{p}/mcp-services/{{name}}/payloads": {
            "parameters": EP,
            "get": op("The service's logged tool calls (inference_table enabled), newest first", "mcp", ADMIN,
                      ok(obj({"mcp_service": S, "payloads": arr(ref("PayloadRow"))})), errors="400 404",
                      params=[*PAGE, query("start"), query("end"), query("request_id")])},
        f"{p}/users": {
            "get": op("List users", "identities", ANY, ok(obj({"users": arr(ref("User"))}))),
            "post": op("Create a user", "identities", ADMIN, ok(ref("User"), "201"), errors="400 409",
                       request=obj({"email": {"type": "string", "pattern": r"^[^@\s/]+@[^@\s/]+$"},
                                    "display_name": nullable(NONEMPTY)}, ("email",)))},
        f"{p}/users/{{email}}": {
            "parameters": [path_param("email")],
            "get": op("Get a user", "identities", ANY, ok(ref("User")), errors="404"),
            "delete": op("Delete a user (revokes its tokens, removes memberships and grants)", "identities",
                         ADMIN, ok(obj({"deleted": S, "tokens_revoked": INT})), errors="404")},
        f"{p}/service-principals": {
            "get": op("List service principals", "identities", ANY,
                      ok(obj({"service_principals": arr(ref("ServicePrincipal"))}))),
            "post": op("Create a service principal (returns its application_id)", "identities", ADMIN,
                       ok(ref("ServicePrincipal"), "201"), errors="400",
                       request=obj({"display_name": NONEMPTY}, ("display_name",)))},
        f"{p}/service-principals/{{application_id}}/secrets": {
            "parameters": [path_param("application_id")],
            "get": op("List a service principal's OAuth secrets (never the secret)", "identities", ADMIN,
                      ok(obj({"secrets": arr(ref("ServicePrincipalSecret"))})), errors="404"),
            "post": op("Create an OAuth M2M secret (shown once)", "identities", ADMIN,
                       ok(ref("ServicePrincipalSecret"), "201"), errors="400 404",
                       request=obj({"lifetime_seconds": LIFETIME}))},
        f"{p}/service-principals/{{application_id}}/secrets/{{secret_id}}": {
            "parameters": [path_param("application_id"), path_param("secret_id")],
            "delete": op("Delete a secret (revokes its access tokens)", "identities", ADMIN,
                         ok(obj({"deleted": S, "tokens_revoked": INT})), errors="404")},
        f"{p}/service-principals/{{application_id}}": {
            "parameters": [path_param("application_id")],
            "get": op("Get a service principal", "identities", ANY, ok(ref("ServicePrincipal")), errors="404"),
            "delete": op("Delete a service principal", "identities", ADMIN,
                         ok(obj({"deleted": S, "tokens_revoked": INT})), errors="404")},
        f"{p}/groups": {
            "get": op("List groups", "groups", ANY, ok(obj({"groups": arr(ref("Group"))}))),
            "post": op("Create a group", "groups", ADMIN, ok(ref("Group"), "201"), errors="400 404 409",
                       request=obj({"name": {"type": "string", "pattern": r"^\s*[^/\s][^/]*$"},
                                    "members": arr(ref("Member"))}, ("name",)))},
        f"{p}/groups/{{name}}": {
            "parameters": EP,
            "get": op("Get a group", "groups", ANY, ok(ref("Group")), errors="404"),
            "patch": op("Add or remove members", "groups", ADMIN, ok(ref("Group")), errors="400 404 409",
                        request=obj({"add": arr(ref("Member")), "remove": arr(ref("Member"))})),
            "delete": op("Delete a group (not the built-in admins)", "groups", ADMIN, ok(obj({"deleted": S})),
                         errors="404 409")},
        f"{p}/groups/{{name}}/members": {
            "parameters": EP,
            "put": op("Replace a group's members", "groups", ADMIN, ok(ref("Group")), errors="400 404 409",
                      request=obj({"members": arr(ref("Member"))}, ("members",)))},
        f"{p}/tokens": {
            "get": op("List tokens (never their values)", "tokens", TOKEN_OWNERS,
                      ok(obj({"tokens": arr(ref("Token"))})), errors="400",
                      params=[query("principal"), query("include_revoked", B)]),
            "post": op("Create a token; the token is in this answer only", "tokens", TOKEN_OWNERS,
                       ok({"allOf": [ref("Token"), obj({"token": S})]}, "201"), errors="400 404",
                       request=obj({"principal": S, "lifetime_seconds": LIFETIME,
                                    "comment": {"type": "string", "maxLength": 1000}}, ("principal",)))},
        f"{p}/tokens/{{token_id}}": {
            "parameters": [path_param("token_id")],
            "get": op("Get a token's metadata", "tokens", TOKEN_OWNERS, ok(ref("Token")), errors="404"),
            "delete": op("Revoke a token", "tokens", TOKEN_OWNERS, ok(ref("Token")), errors="404 409")},
        f"{p}/usage": {
            "get": op("Usage rows (JSON, or CSV with format=csv / Accept: text/csv)", "usage", USAGE_READERS,
                      ok(obj({"rows": arr(ref("UsageRow")), "limit": INT, "offset": INT}), csv=True),
                      errors="400", params=USAGE_QUERY)},
        f"{p}/prices": {
            "get": op("The effective price catalogue: shipped list prices and the operator's entries",
                      "prices", ANY, ok(ref("Prices"))),
            "put": op("Replace the operator's prices (workers use them within a second)", "prices", ADMIN,
                      ok({"allOf": [ref("Prices"), obj({"changed": INT})]}), errors="400",
                      request=obj({"prices": arr(ref("PriceSpec"))}, ("prices",), extra=False))},
        f"{p}/usage/aggregate": {
            "get": op("Sums of requests, tokens and cost_usd and latency percentiles by a key (group: by "
                      "the requester's groups, a request counting in each); with bucket, per key and time "
                      "bucket", "usage", USAGE_READERS,
                      ok(obj({"group_by": S, "bucket": {"type": "string", "description": "when asked for"},
                              "groups": arr(ref("UsageGroup"))}), csv=True), errors="400",
                      params=[{**query("group_by", {"type": "string", "enum": [
                          "all", "endpoint", "requester", "group", "tag", "minute", "hour", "day", "status", "model",
                          "client", "session", "mcp_service", "mcp_tool"]}), "required": True},
                          query("tag_key", description="with group_by=tag: only this tag's values"),
                          query("bucket", {"type": "string", "enum": ["minute", "hour", "day"]},
                                "also split each group by this UTC time bucket (not with a time group_by); "
                                "ordered by bucket, then requests"),
                          *USAGE_QUERY])},
        f"{p}/budgets": {
            "get": op("List spend budgets with their current period's figures", "budgets", ADMIN,
                      ok(obj({"budgets": arr(ref("Budget"))}))),
            "post": op("Create a budget", "budgets", ADMIN, ok(ref("Budget"), "201"), errors="400 409",
                       request=ref("BudgetSpec"))},
        f"{p}/budgets/{{name}}": {
            "parameters": EP,
            "get": op("Get a budget, its spend and the alerts of its current period", "budgets", ADMIN,
                      ok(ref("Budget")), errors="404"),
            "put": op("Replace a budget, or create it (201)", "budgets", ADMIN, ok(ref("Budget")), errors="400",
                      request=ref("BudgetSpec")),
            "delete": op("Delete a budget (and its alert records)", "budgets", ADMIN, ok(obj({"deleted": S})),
                         errors="404")},
        f"{p}/audit": {
            "get": op("The audit log: who changed what, when", "audit", ADMIN,
                      ok(obj({"entries": arr(ref("AuditEntry")), "limit": INT, "offset": INT})), errors="400",
                      params=[limit(10_000), OFFSET, query("actor"),
                              query("action", description="exact, or a prefix ending in '.' or '*'"),
                              query("target"), query("start", description="unix seconds or ISO 8601"),
                              query("end")])},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Unigate admin API", "version": __version__,
                 "description": "Providers, endpoints, identities, tokens, permissions, prices, budgets, "
                                "usage and payloads. "
                                "Every route needs an administrator or endpoint-manager token "
                                "(Authorization: Bearer ...), except the few any signed-in principal may "
                                "call about itself (/me, its tokens, its usage). "
                                "Errors: {\"error\": {\"code\", \"message\", \"field\"?}}."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@admin_route
async def openapi_json(request: Request, caller: Caller) -> Response:
    return json_response(document())


def add_routes(router: Router) -> None:
    router.add_get(f"{PREFIX}/openapi.json", openapi_json)
