"""What Terraform's Databricks provider and databricks-sdk need to manage serving-endpoint
permissions against unigate: SCIM Me (`w.current_user.me()`) for a user, the bootstrap
administrator and an OAuth M2M service principal; Terraform's permissions create, read and
delete replayed request by request (GET Me, GET, PUT with the caller added as CAN_MANAGE under
`user_name`, GET) with its Read filter, showing no diff; unknown principals refused as 400; and
Databricks' 404 ENDPOINT_NOT_FOUND for the paths unigate does not serve, with no served route
shadowed."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from tests.integration.databricks.client_env import client_env, run_client
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import Reply, bearer, call, until_stable
from tests.integration.test_rate_limits import make_user
from unigate.server.app import build_app
from unigate.server.databricks.serving_mapping import endpoint_id
from unigate.server.databricks.unserved import TEMPLATES

RUN = uuid.uuid4().hex[:6]
ME = "/api/2.0/preview/scim/v2/Me"
PERMS = "/api/2.0/permissions/serving-endpoints"
Entry = tuple[str, str, str, str]  # (group_name, user_name, service_principal_name, level), as Terraform keeps it

SDK_ME = """
import json
from databricks.sdk import WorkspaceClient
me = WorkspaceClient().current_user.me(excluded_attributes="entitlements")
print(json.dumps(me.as_dict()))
"""


def api(gw: Gateway, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Reply:
    return call(method, f"{gw.url}{path}", body, bearer(token))


def admin(gw: Gateway, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    r = api(gw, method, f"/api/v1{path}", gw.token, body)
    assert r.status in (200, 201), (method, path, r.status, r.body)
    return r.json()


def new_endpoint(gw: Gateway, name: str) -> str:
    admin(gw, "POST", "/endpoints", {"name": name,
                                     "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini"}]})
    return endpoint_id(name)


def new_sp(gw: Gateway, name: str) -> tuple[str, str]:
    """(application id, a token of its own)."""
    app_id = str(admin(gw, "POST", "/service-principals", {"display_name": name})["application_id"])
    return app_id, str(admin(gw, "POST", "/tokens", {"principal": app_id})["token"])


def grant(gw: Gateway, endpoint: str, entry: dict[str, str]) -> None:
    admin(gw, "PATCH", f"/endpoints/{endpoint}/permissions", {"access_control_list": [entry]})


def manages(gw: Gateway, token: str, key: str) -> None:
    """Waits (bounded) until every worker lets the token manage the endpoint."""
    until_stable(lambda: api(gw, "GET", f"{PERMS}/{key}", token).status == 200)


# --- Terraform's permissions resource, replayed (permissions/resource_permissions.go) -----------

def entry(level: str, user: str = "", sp: str = "", group: str = "") -> Entry:
    return (group, user, sp, level)


def lowered(acl: set[Entry]) -> set[Entry]:
    """What Terraform's Read keeps (names lowercased); its set hash ignores case too."""
    return {(g, u.lower(), sp.lower(), level) for g, u, sp, level in acl}


def request_json(acl: set[Entry]) -> list[dict[str, str]]:
    keys = ("group_name", "user_name", "service_principal_name")
    return [{**{k: v for k, v in zip(keys, e[:3], strict=True) if v}, "permission_level": e[3]} for e in sorted(acl)]


def terraform_me(gw: Gateway, token: str) -> str:
    r = api(gw, "GET", f"{ME}?excludedAttributes=entitlements", token)
    assert r.status == 200, r.body
    return str(r.json()["userName"])


def terraform_read(gw: Gateway, token: str, key: str, existing: set[Entry]) -> set[Entry]:
    """permission_definitions.go prepareResponse: the caller's entry is dropped unless the config
    names it, the admins group and inherited permissions are ignored, names are lowercased."""
    me = terraform_me(gw, token).lower()
    r = api(gw, "GET", f"{PERMS}/{key}", token)
    assert r.status == 200, r.body
    body = r.json()
    assert body["object_type"] == "serving-endpoint"
    mentioned = {e[1].lower() for e in existing} | {e[2].lower() for e in existing}
    out: set[Entry] = set()
    for ac in body["access_control_list"]:
        user, sp, group = ac.get("user_name", ""), ac.get("service_principal_name", ""), ac.get("group_name", "")
        if me in (user.lower(), sp.lower()) and me not in mentioned:
            continue
        if group == "admins":
            continue
        out |= {entry(p["permission_level"], user, sp, group) for p in ac["all_permissions"] if not p.get("inherited")}
    return lowered(out)


def terraform_put(gw: Gateway, token: str, key: str, acl: set[Entry]) -> None:
    """update/customizers.go AddCurrentUserAsManage: the caller, as `user_name`, unless named."""
    me = terraform_me(gw, token)  # sent as Me spelled it (EqualFold only to look for it)
    sent = request_json(acl)
    if not any(me.lower() in (e[1].lower(), e[2].lower()) for e in acl):
        sent.append({"user_name": me, "permission_level": "CAN_MANAGE"})
    r = api(gw, "PUT", f"{PERMS}/{key}", token, {"access_control_list": sent})
    assert r.status == 200, r.body


def terraform_apply(gw: Gateway, token: str, key: str, config: set[Entry]) -> set[Entry]:
    api(gw, "GET", f"{PERMS}/{key}", token)  # Create reads first (readRaw via the plan)
    terraform_put(gw, token, key, config)
    return terraform_read(gw, token, key, config)


def terraform_destroy(gw: Gateway, token: str, key: str) -> None:
    """prepareForDelete: only the admins group's direct entries are kept, plus the caller."""
    body = api(gw, "GET", f"{PERMS}/{key}", token).json()
    kept = {entry(p["permission_level"], group="admins") for ac in body["access_control_list"]
            if ac.get("group_name") == "admins" for p in ac["all_permissions"] if not p.get("inherited")}
    terraform_put(gw, token, key, kept)


def stored(gw: Gateway, endpoint: str) -> set[tuple[str, str]]:
    acl = admin(gw, "GET", f"/endpoints/{endpoint}/permissions")["access_control_list"]
    return {(next(v for k, v in g.items() if k.endswith("_name")), g["permission_level"]) for g in acl}


# --- SCIM Me -------------------------------------------------------------------------------------

def test_me_for_a_user_the_administrator_and_an_oauth_service_principal(dbx_gateway: Gateway) -> None:
    gw, email = dbx_gateway, f"Me-{RUN}@example.com"
    token = make_user(gw, email, "chat-openai")
    admin(gw, "POST", "/groups", {"name": f"team-{RUN}", "members": [{"user_name": email}]})
    admin(gw, "POST", "/groups", {"name": f"org-{RUN}", "members": [{"group_name": f"team-{RUN}"}]})
    until_stable(lambda: len(api(gw, "GET", ME, token).json().get("groups", [])) == 2)
    me = run_client(SDK_ME, client_env(gw.url, token))
    assert me["userName"] == email and me["emails"] == [{"value": email, "type": "work", "primary": True}]
    assert me["active"] is True and me["id"].isdigit() and me["displayName"] == email
    assert me["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User",
                             "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"]
    assert {(g["display"], g["type"]) for g in me["groups"]} == {(f"team-{RUN}", "direct"), (f"org-{RUN}", "indirect")}
    assert all(g["value"].isdigit() for g in me["groups"])
    assert run_client(SDK_ME, client_env(gw.url, token))["id"] == me["id"]  # stable

    boot = run_client(SDK_ME, client_env(gw.url, gw.token))
    assert boot["userName"] == "admin" and "emails" not in boot
    assert [g["display"] for g in boot["groups"]] == ["admins"]

    app_id = str(admin(gw, "POST", "/service-principals", {"display_name": f"tf-{RUN}"})["application_id"])
    secret = admin(gw, "POST", f"/service-principals/{app_id}/secrets")["secret"]
    sp = run_client(SDK_ME, client_env(gw.url, DATABRICKS_CLIENT_ID=app_id, DATABRICKS_CLIENT_SECRET=secret))
    assert sp["userName"] == app_id and sp["displayName"] == f"tf-{RUN}" and "emails" not in sp


def test_me_attributes_and_errors(dbx_gateway: Gateway) -> None:
    gw = dbx_gateway
    body = api(gw, "GET", f"{ME}?attributes=userName", gw.token).json()
    assert set(body) == {"id", "schemas", "userName"}
    body = api(gw, "GET", f"{ME}?excludedAttributes=entitlements,Groups,emails", gw.token).json()
    assert "groups" not in body and body["userName"] == "admin"
    r = api(gw, "GET", ME, "not-a-token")
    assert r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED"


# --- Terraform's permissions sequence -----------------------------------------------------------

def test_terraform_as_a_service_principal_shows_no_diff(dbx_gateway: Gateway) -> None:
    gw, name = dbx_gateway, f"tf-sp-{RUN}"
    key = new_endpoint(gw, name)
    app_id, token = new_sp(gw, f"tf-runner-{RUN}")
    grant(gw, name, {"service_principal_name": app_id, "permission_level": "CAN_MANAGE"})
    querier = f"tf-q-{RUN}@example.com"
    admin(gw, "POST", "/users", {"email": querier})
    admin(gw, "POST", "/groups", {"name": f"tf-g-{RUN}"})
    manages(gw, token, key)

    config = {entry("CAN_QUERY", user=querier), entry("CAN_QUERY", group=f"tf-g-{RUN}")}
    assert terraform_apply(gw, token, key, config) == lowered(config)
    # the `user_name: <application id>` Terraform added is the service principal, still a manager
    assert stored(gw, name) == {(querier, "CAN_QUERY"), (f"tf-g-{RUN}", "CAN_QUERY"), (app_id, "CAN_MANAGE")}
    assert terraform_read(gw, token, key, config) == lowered(config)  # a plan after apply: no diff

    # a change, then destroy: the caller keeps CAN_MANAGE, nothing else stays
    changed = {entry("CAN_MANAGE", user=querier)}
    assert terraform_apply(gw, token, key, changed) == lowered(changed)
    terraform_destroy(gw, token, key)
    assert stored(gw, name) == {(app_id, "CAN_MANAGE")}
    assert terraform_read(gw, token, key, set()) == set()


def test_terraform_as_a_user_and_as_the_administrator(dbx_gateway: Gateway) -> None:
    gw, name = dbx_gateway, f"tf-user-{RUN}"
    key = new_endpoint(gw, name)
    runner = f"TF-Runner-{RUN}@example.com"
    token = make_user(gw, runner, name)
    grant(gw, name, {"user_name": runner, "permission_level": "CAN_MANAGE"})
    app_id, _ = new_sp(gw, f"tf-app-{RUN}")
    manages(gw, token, key)

    config = {entry("CAN_QUERY", sp=app_id)}
    assert terraform_apply(gw, token, key, config) == lowered(config)
    assert stored(gw, name) == {(app_id, "CAN_QUERY"), (runner, "CAN_MANAGE")}
    # the config may name the runner itself (Terraform then adds nothing), in any case
    named = config | {entry("CAN_MANAGE", user=runner.lower())}
    assert terraform_apply(gw, token, key, named) == lowered(named)

    # the bootstrap administrator: `user_name: admin` is accepted and not stored
    assert terraform_apply(gw, gw.token, key, config) == lowered(config)
    assert stored(gw, name) == {(app_id, "CAN_QUERY")}
    terraform_destroy(gw, gw.token, key)
    assert stored(gw, name) == set()


def test_the_inherited_admins_entry_and_levels(dbx_gateway: Gateway) -> None:
    gw, name = dbx_gateway, f"tf-levels-{RUN}"
    key = new_endpoint(gw, name)
    body = api(gw, "GET", f"{PERMS}/{key}", gw.token).json()
    admins = {"group_name": "admins", "all_permissions": [{
        "permission_level": "CAN_MANAGE", "inherited": True, "inherited_from_object": ["/serving-endpoints/"]}]}
    assert body == {"object_id": f"/serving-endpoints/{key}", "object_type": "serving-endpoint",
                    "access_control_list": [admins]}
    levels = api(gw, "GET", f"{PERMS}/{key}/permissionLevels", gw.token).json()["permission_levels"]
    assert [lv["permission_level"] for lv in levels] == ["CAN_QUERY", "CAN_MANAGE"]


# --- unknown principals --------------------------------------------------------------------------

def test_unknown_principals_are_400_naming_them(dbx_gateway: Gateway) -> None:
    gw, name = dbx_gateway, f"tf-unknown-{RUN}"
    key = new_endpoint(gw, name)
    out = run_client(f"""
import json
from databricks.sdk import WorkspaceClient, errors
from databricks.sdk.service.serving import ServingEndpointAccessControlRequest as A, ServingEndpointPermissionLevel as L
w = WorkspaceClient()
def raised(fn):
    try:
        fn()
    except errors.DatabricksError as e:
        return [type(e).__name__, e.error_code, str(e)]
print(json.dumps([raised(lambda: w.serving_endpoints.set_permissions({key!r}, access_control_list=[a]))
    for a in (A(user_name="nobody@example.com", permission_level=L.CAN_QUERY),
              A(group_name="no-group", permission_level=L.CAN_QUERY),
              A(service_principal_name="no-sp", permission_level=L.CAN_QUERY))]))
""", client_env(gw.url, gw.token))
    for (cls, code, message), named in zip(out, ("user 'nobody@example.com'", "group 'no-group'",
                                               "service principal 'no-sp'"), strict=True):
        assert (cls, code) == ("InvalidParameterValue", "INVALID_PARAMETER_VALUE"), (cls, code, message)
        assert named in message and "access_control_list[0]" in message
    app_id, _ = new_sp(gw, f"tf-twice-{RUN}")
    twice = [{"user_name": app_id, "permission_level": "CAN_QUERY"},
             {"service_principal_name": app_id, "permission_level": "CAN_MANAGE"}]
    r = api(gw, "PATCH", f"{PERMS}/{key}", gw.token, {"access_control_list": twice})
    assert r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and "twice" in r.json()["message"]
    assert stored(gw, name) == set()  # nothing written by a refused request
    r = api(gw, "PUT", f"{PERMS}/no-such-endpoint", gw.token, {"access_control_list": []})
    assert r.status == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


# --- paths unigate does not serve ----------------------------------------------------------------

def test_unserved_paths_answer_endpoint_not_found(dbx_gateway: Gateway) -> None:
    gw = dbx_gateway
    out = run_client("""
import json
from databricks.sdk import WorkspaceClient, errors
try:
    WorkspaceClient().api_client.do("GET", "/api/2.1/unity-catalog/catalogs")
    print("null")
except errors.NotFound as e:
    print(json.dumps([type(e).__name__, e.error_code, str(e)]))
""", client_env(gw.url, gw.token))
    assert out == ["NotFound", "ENDPOINT_NOT_FOUND", "No API found for 'GET /unity-catalog/catalogs'"]
    for method, path, message in (
            ("POST", "/api/2.0/sql/statements/execute", "POST /sql/statements/execute"),
            ("GET", "/api/2.2/jobs/list", "GET /jobs/list"),
            ("DELETE", "/api/2.0/serving-endpoints", "DELETE /serving-endpoints"),  # a served path, wrong verb
            ("POST", f"{PERMS}/x", "POST /permissions/serving-endpoints/x"),
            ("GET", "/serving-endpoints/chat-openai/invocations", "GET /serving-endpoints/chat-openai/invocations"),
            ("GET", "/serving-endpoints/chat/completions", "GET /serving-endpoints/chat/completions"),
            ("PUT", "/serving-endpoints", "PUT /serving-endpoints")):
        r = api(gw, method, path, gw.token, {} if method in ("POST", "PUT") else None)
        assert (r.status, r.json()) == (404, {"error_code": "ENDPOINT_NOT_FOUND",
                                              "message": f"No API found for '{message}'"}), (method, path, r.body)
        assert r.headers.get("x-request-id")
    r = api(gw, "GET", "/no-such-path", gw.token)  # elsewhere, unigate's own answer
    assert r.status == 404 and "no such route" in r.json()["error"]["message"]


def test_served_databricks_routes_are_not_shadowed(dbx_gateway: Gateway) -> None:
    gw, token = dbx_gateway, dbx_gateway.token
    chat = {"model": "chat-openai", "messages": [{"role": "user", "content": "hi"}]}
    for method, path, body in (
            ("GET", "/api/2.0/serving-endpoints", None), ("GET", "/api/2.0/serving-endpoints/chat-openai", None),
            ("GET", "/api/2.0/serving-endpoints/chat-openai/openapi", None),
            ("GET", f"{PERMS}/chat-openai", None), ("GET", "/api/2.0/endpoints/", None),
            ("GET", "/api/2.0/endpoints/chat-openai", None), ("GET", ME, None),
            ("GET", "/serving-endpoints/models", None), ("POST", "/serving-endpoints/chat/completions", chat),
            ("POST", "/serving-endpoints/chat-openai/invocations", {"messages": chat["messages"]})):
        r = api(gw, method, path, token, body)
        assert r.status == 200, (method, path, r.status, r.body)


def test_no_databricks_route_is_added_after_the_catch_all() -> None:
    app = build_app(SimpleNamespace(config=SimpleNamespace(max_body_bytes=1)))  # type: ignore[arg-type]
    routes = app.router.routes()
    first = routes.index(("*", TEMPLATES[0]))
    late = [r for r in routes[first:] if r[1] not in TEMPLATES and r[1].startswith(("/api/2", "/serving-endpoints"))]
    assert not late, f"routes the Databricks catch-all shadows: {late}"
