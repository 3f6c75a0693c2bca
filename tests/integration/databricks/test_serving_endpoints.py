"""Databricks' serving-endpoints management API with the real databricks-sdk (and mlflow's
deployments client), configured with only a host and a token: endpoints created with
external models become unigate providers and endpoints (checked through unigate's admin API
and by chatting to them through unigate's own surface, answered by the mock), AI Gateway
settings become unigate limits, guardrails, payload logging and fallbacks, and the permissions
API becomes unigate grants."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.integration.databricks.client_env import client_env, run_client
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call
from tests.integration.test_rate_limits import make_user

RUN = uuid.uuid4().hex[:6]

SDK = """
import json
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.serving import *
from databricks.sdk import errors
P = json.loads(%r)
w = WorkspaceClient()
def entity(name, model="gpt-4o-mini", key="sk-mock-openai"):
    return ServedEntityInput(name=name, external_model=ExternalModel(
        provider=ExternalModelProvider.OPENAI, name=model, task="llm/v1/chat",
        openai_config=OpenAiConfig(openai_api_key_plaintext=key, openai_api_base=P["mock"] + "/v1")))
def raised(fn):
    try:
        fn()
    except errors.DatabricksError as e:
        return [type(e).__name__, e.error_code, str(e)]
    return None
"""


def sdk(gw: Gateway, body: str, token: str | None = None, **params: Any) -> Any:
    return run_client(SDK % json.dumps(params) + body, client_env(gw.url, token or gw.token))


def admin_get(gw: Gateway, path: str) -> Any:
    r = call("GET", f"{gw.url}/api/v1{path}", headers=bearer(gw.token))
    assert r.status == 200, r.body
    return r.json()


def chat(gw: Gateway, model: str, token: str, text: str = "hello") -> Any:
    return call("POST", f"{gw.url}/ai-gateway/mlflow/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": text}]}, bearer(token))


def until(check: Any, timeout: float = 5.0) -> Any:
    """Config changes reach every worker within about a second: poll, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_create_get_list_chat_update_delete(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"dbx-chat-{RUN}"
    out = sdk(gw, """
ep = w.serving_endpoints.create_and_wait(name=P["name"], config=EndpointCoreConfigInput(
    name=P["name"], served_entities=[entity("primary")]))
got = w.serving_endpoints.get(P["name"])
names = [e.name for e in w.serving_endpoints.list()]
print(json.dumps({"created": ep.as_dict(), "got": got.as_dict(), "names": names,
                  "dup": raised(lambda: w.serving_endpoints.create(name=P["name"], config=EndpointCoreConfigInput(
                      name=P["name"], served_entities=[entity("primary")]))),
                  "missing": raised(lambda: w.serving_endpoints.get("no-such-" + P["name"])),
                  "secret": raised(lambda: w.serving_endpoints.create(name=P["name"] + "-s",
                      config=EndpointCoreConfigInput(name=P["name"] + "-s", served_entities=[ServedEntityInput(
                          name="x", external_model=ExternalModel(provider=ExternalModelProvider.OPENAI,
                          name="gpt-4o-mini", task="llm/v1/chat",
                          openai_config=OpenAiConfig(openai_api_key="{{secrets/scope/key}}")))])))}))
""", name=name, mock=mock_url)
    got = out["got"]
    assert got["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert got["config"]["served_entities"][0]["name"] == "primary"
    model = got["config"]["served_entities"][0]["external_model"]
    assert model["provider"] == "openai" and model["name"] == "gpt-4o-mini"
    assert model["openai_config"] == {"openai_api_base": f"{mock_url}/v1"}  # never the key
    assert "sk-mock" not in json.dumps(out["created"]) + json.dumps(got)
    assert name in out["names"] and "chat-openai" in out["names"]  # unigate's own endpoints are listed too
    assert out["dup"][0] == "ResourceAlreadyExists"
    assert out["missing"][0] == "ResourceDoesNotExist"
    assert out["secret"][0] == "InvalidParameterValue" and "openai_api_key" in out["secret"][2]

    # the mapping, through unigate's admin API, and a chat answered by the mock
    spec = admin_get(gw, f"/endpoints/{name}")
    assert spec["destinations"] == [{"provider": f"{name}--primary", "model": "gpt-4o-mini",
                                     "traffic_percentage": 100}]
    provider = admin_get(gw, f"/providers/{name}--primary")
    assert provider["type"] == "openai" and provider["api_key_set"] is True
    r = until(lambda: (lambda r: r if r.status == 200 else None)(chat(gw, name, gw.token, "via databricks")))
    assert r and "MOCK-UPSTREAM-OK: via databricks" in r.json()["choices"][0]["message"]["content"]

    # two entities and a split: the stored key is kept for the entity sent without one
    out = sdk(gw, """
ep = w.serving_endpoints.update_config_and_wait(name=P["name"], served_entities=[entity("primary", key=None),
    entity("second", model="gpt-4o", key="sk-mock-openai")], traffic_config=TrafficConfig(routes=[
    Route(served_entity_name="primary", traffic_percentage=60),
    Route(served_entity_name="second", traffic_percentage=40)]))
print(json.dumps(ep.as_dict()))
""", name=name, mock=mock_url)
    assert out["config"]["traffic_config"]["routes"] == [
        {"served_entity_name": "primary", "served_model_name": "primary", "traffic_percentage": 60},
        {"served_entity_name": "second", "served_model_name": "second", "traffic_percentage": 40}]
    spec = admin_get(gw, f"/endpoints/{name}")
    assert [(d["provider"], d["model"], d["traffic_percentage"]) for d in spec["destinations"]] == [
        (f"{name}--primary", "gpt-4o-mini", 60), (f"{name}--second", "gpt-4o", 40)]
    assert admin_get(gw, f"/providers/{name}--primary")["api_key_set"] is True
    r = until(lambda: (lambda r: r if r.status == 200 else None)(chat(gw, name, gw.token)))
    assert r

    # delete takes the providers it made with it
    out = sdk(gw, """
w.serving_endpoints.delete(P["name"])
print(json.dumps(raised(lambda: w.serving_endpoints.get(P["name"]))))
""", name=name, mock=mock_url)
    assert out[0] == "ResourceDoesNotExist"
    assert call("GET", f"{gw.url}/api/v1/providers/{name}--second", headers=bearer(gw.token)).status == 404
    audit = admin_get(gw, f"/audit?target={name}")
    actions = {e["action"] for e in audit["entries"]}
    assert {"endpoint.create", "endpoint.update", "endpoint.delete"} <= actions, audit


def test_ai_gateway_rate_limits_guardrails_payloads_and_fallbacks(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"dbx-gw-{RUN}"
    out = sdk(gw, """
w.serving_endpoints.create_and_wait(name=P["name"], config=EndpointCoreConfigInput(name=P["name"],
    served_entities=[entity("a"), entity("b", model="gpt-4o")], traffic_config=TrafficConfig(routes=[
    Route(served_entity_name="a", traffic_percentage=100), Route(served_entity_name="b", traffic_percentage=0)])))
r = w.serving_endpoints.put_ai_gateway(P["name"],
    usage_tracking_config=AiGatewayUsageTrackingConfig(enabled=True),
    inference_table_config=AiGatewayInferenceTableConfig(enabled=True, catalog_name="c", schema_name="s"),
    rate_limits=[AiGatewayRateLimit(calls=2, key=AiGatewayRateLimitKey.USER,
                                    renewal_period=AiGatewayRateLimitRenewalPeriod.MINUTE)],
    guardrails=AiGatewayGuardrails(input=AiGatewayGuardrailParameters(
        pii=AiGatewayGuardrailPiiBehavior(behavior=AiGatewayGuardrailPiiBehaviorBehavior.BLOCK),
        invalid_keywords=["bluebird"])),
    fallback_config=FallbackConfig(enabled=True))
got = w.serving_endpoints.get(P["name"])
print(json.dumps({"put": r.as_dict(), "got": got.as_dict()["ai_gateway"],
                  "safety": raised(lambda: w.serving_endpoints.put_ai_gateway(P["name"],
                      guardrails=AiGatewayGuardrails(input=AiGatewayGuardrailParameters(safety=True))))}))
""", name=name, mock=mock_url)
    expected = {"usage_tracking_config": {"enabled": True},
                "inference_table_config": {"enabled": True, "catalog_name": "c", "schema_name": "s"},
                "fallback_config": {"enabled": True},
                "rate_limits": [{"calls": 2, "key": "user", "renewal_period": "minute"}],
                "guardrails": {"input": {"pii": {"behavior": "BLOCK"}, "invalid_keywords": ["bluebird"]}}}
    assert out["put"] == expected and out["got"] == expected
    assert out["safety"][0] == "InvalidParameterValue" and "judge" in out["safety"][2]
    assert admin_get(gw, f"/endpoints/{name}/rate-limits")["rate_limits"] == [
        {"key": "user_default", "requests": 2, "renewal_period": "minute"}]
    assert admin_get(gw, f"/endpoints/{name}/inference-table")["enabled"] is True
    guardrails = admin_get(gw, f"/endpoints/{name}/guardrails")["guardrails"]
    assert [(g["type"], g["phase"], g["action"]) for g in guardrails] == [
        ("pii", "input", "block"), ("keywords", "input", "block")]
    assert admin_get(gw, f"/endpoints/{name}")["fallbacks"] == [
        {"provider": f"{name}--a", "model": "gpt-4o-mini"}, {"provider": f"{name}--b", "model": "gpt-4o"}]

    # the guardrail and the limit act: a keyword is refused, the third request of the minute is 429
    token = make_user(gw, f"gw-{RUN}@example.com", name)
    blocked = until(lambda: (lambda r: r if r.status == 400 else None)(chat(gw, name, token, "about bluebird")))
    assert blocked and blocked.json()["error"]["code"] == "guardrail_blocked"
    statuses = [chat(gw, name, token).status for _ in range(3)]
    assert statuses[-1] == 429, statuses

    # a PUT without them turns them off (Databricks' PUT), usage tracking cannot be
    sdk(gw, "w.serving_endpoints.put_ai_gateway(P['name']); print('null')", name=name, mock=mock_url)
    spec = admin_get(gw, f"/endpoints/{name}")
    assert "rate_limits" not in spec and "guardrails" not in spec and "fallbacks" not in spec
    assert not spec.get("inference_table", {}).get("enabled")
    sdk(gw, "w.serving_endpoints.delete(P['name']); print('null')", name=name, mock=mock_url)


def test_permissions_and_rights(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"dbx-perm-{RUN}"
    querier = make_user(gw, f"q-{RUN}@example.com", "chat-openai")  # CAN_QUERY on chat-openai only
    assert call("POST", f"{gw.url}/api/v1/users", {"email": f"m-{RUN}@example.com"}, bearer(gw.token)).status == 201
    out = sdk(gw, """
ep = w.serving_endpoints.create(name=P["name"], config=EndpointCoreConfigInput(name=P["name"],
    served_entities=[entity("a")])).result()
acl = [ServingEndpointAccessControlRequest(user_name=P["q"], permission_level=ServingEndpointPermissionLevel.CAN_QUERY)]
put = w.serving_endpoints.set_permissions(ep.id, access_control_list=acl)
patch = w.serving_endpoints.update_permissions(ep.id, access_control_list=[ServingEndpointAccessControlRequest(
    user_name=P["m"], permission_level=ServingEndpointPermissionLevel.CAN_MANAGE)])
got = w.serving_endpoints.get_permissions(ep.id)
view = raised(lambda: w.serving_endpoints.update_permissions(ep.id, access_control_list=[
    ServingEndpointAccessControlRequest(user_name=P["q"], permission_level=ServingEndpointPermissionLevel.CAN_VIEW)]))
print(json.dumps({"id": ep.id, "put": put.as_dict(), "got": got.as_dict(), "view": view}))
""", name=name, mock=mock_url, q=f"q-{RUN}@example.com", m=f"m-{RUN}@example.com")
    assert out["got"]["object_type"] == "serving-endpoint"
    assert out["got"]["object_id"] == f"/serving-endpoints/{out['id']}"
    acl = out["got"]["access_control_list"]
    levels = {e["user_name"]: e["all_permissions"][0]["permission_level"] for e in acl if "user_name" in e}
    assert levels == {f"q-{RUN}@example.com": "CAN_QUERY", f"m-{RUN}@example.com": "CAN_MANAGE"}
    assert {"group_name": "admins", "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": True,
            "inherited_from_object": ["/serving-endpoints/"]}]} in acl  # as Databricks lists it
    assert out["view"][0] == "InvalidParameterValue" and "CAN_VIEW" in out["view"][2]
    grants = admin_get(gw, f"/endpoints/{name}/permissions")["access_control_list"]
    assert {(g["user_name"], g["permission_level"]) for g in grants} == {
        (f"q-{RUN}@example.com", "CAN_QUERY"), (f"m-{RUN}@example.com", "CAN_MANAGE")}

    # a caller who may query sees the endpoint (and only what it may query); may not create or manage
    out = sdk(gw, """
names = [e.name for e in w.serving_endpoints.list()]
print(json.dumps({"names": names, "get": w.serving_endpoints.get(P["name"]).as_dict()["permission_level"],
    "create": raised(lambda: w.serving_endpoints.create(name=P["name"] + "-x", config=EndpointCoreConfigInput(
        name=P["name"] + "-x", served_entities=[entity("a")]))),
    "manage": raised(lambda: w.serving_endpoints.put_ai_gateway(P["name"])),
    "perms": raised(lambda: w.serving_endpoints.get_permissions(P["id"])),
    "delete": raised(lambda: w.serving_endpoints.delete(P["name"]))}))
""", token=querier, name=name, mock=mock_url, id=out["id"])
    assert sorted(out["names"]) == sorted(["chat-openai", name]) and out["get"] == "CAN_QUERY"
    for what in ("create", "manage", "perms", "delete"):
        assert out[what][0] == "PermissionDenied", (what, out[what])
    r = call("GET", f"{gw.url}/api/2.0/serving-endpoints", headers=bearer("not-a-token"))
    assert r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    sdk(gw, "w.serving_endpoints.delete(P['name']); print('null')", name=name, mock=mock_url)


def test_mlflow_deployments_client(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"dbx-mlflow-{RUN}"
    out = run_client(f"""
import json
from mlflow.deployments import get_deploy_client
c = get_deploy_client("databricks")
name, mock = {name!r}, {mock_url!r}
c.create_endpoint(config={{"name": name, "config": {{"served_entities": [{{"name": "m", "external_model": {{
    "name": "gpt-4o-mini", "provider": "openai", "task": "llm/v1/chat",
    "openai_config": {{"openai_api_key_plaintext": "sk-mock-openai", "openai_api_base": mock + "/v1"}}}}}}]}}}})
got = c.get_endpoint(name)
names = [e["name"] for e in c.list_endpoints()]
c.delete_endpoint(name)
print(json.dumps({{"got": dict(got), "names": names}}))
""", client_env(gw.url, gw.token))
    assert out["got"]["name"] == name and out["got"]["state"]["ready"] == "READY"
    assert name in out["names"]
    assert call("GET", f"{gw.url}/api/v1/endpoints/{name}", headers=bearer(gw.token)).status == 404
