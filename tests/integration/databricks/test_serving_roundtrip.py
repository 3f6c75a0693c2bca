"""What a serving endpoint is written with reads back the same (no secrets), as Terraform's
databricks_model_serving compares it: tags, description, route_optimized, notifications, each
entity's task and model name, custom auth blocks, limits with calls and tokens, only the
ai_gateway blocks written. Also the smaller management routes (tags, the older rate-limits,
notifications), the routes unigate does not serve (501), endpoints from unigate.yaml updated
with the entities their read shows, and wrong types (400s, never 500s). With the real
databricks-sdk and raw REST, as Terraform sends it."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.databricks.client_env import client_env, run_client
from tests.integration.databricks.test_serving_endpoints import RUN, admin_get, sdk
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call

API = "/api/2.0/serving-endpoints"


def rest(gw: Gateway, method: str, path: str, body: Any = None) -> Any:
    return call(method, f"{gw.url}{path}", body, bearer(gw.token))


def written(name: str, mock: str) -> dict[str, Any]:
    """A create body as Terraform sends it for a resource with most fields set."""
    return {
        "name": name, "description": "team chat", "route_optimized": True, "budget_policy_id": "bp-1",
        "tags": [{"key": "team", "value": "search"}, {"key": "tier"}],
        "email_notifications": {"on_update_failure": ["ops@example.com"]},
        "config": {
            "served_entities": [
                {"name": "instruct", "external_model": {
                    "provider": "openai", "name": "gpt-3.5-turbo-instruct", "task": "llm/v1/completions",
                    "openai_config": {"openai_api_type": "openai", "openai_api_base": f"{mock}/v1",
                                      "openai_api_key_plaintext": "sk-mock-openai"}}},
                {"name": "az", "external_model": {
                    "provider": "openai", "name": "gpt-4o", "task": "llm/v1/chat",
                    "openai_config": {"openai_api_type": "azure", "openai_api_base": mock,
                                      "openai_deployment_name": "my-deploy", "openai_api_version": "2024-06-01",
                                      "openai_api_key_plaintext": "sk-mock-azure"}}},
                {"name": "plain", "scale_to_zero_enabled": True, "external_model": {  # the default base URL
                    "provider": "openai", "name": "gpt-4o-mini", "task": "llm/v1/chat",
                    "openai_config": {"openai_api_key_plaintext": "sk-mock-openai"}}},
                {"name": "own", "external_model": {
                    "provider": "custom", "name": "bge-small", "task": "llm/v1/embeddings",
                    "custom_provider_config": {"custom_provider_url": f"{mock}/v1",
                                               "bearer_token_auth": {"token_plaintext": "sk-mock-openai"}}}}],
            "traffic_config": {"routes": [{"served_entity_name": "instruct", "traffic_percentage": 100},
                                          {"served_entity_name": "az", "traffic_percentage": 0},
                                          {"served_entity_name": "plain", "traffic_percentage": 0},
                                          {"served_entity_name": "own", "traffic_percentage": 0}]}},
        "ai_gateway": {
            "usage_tracking_config": {"enabled": True},
            "inference_table_config": {"enabled": True, "catalog_name": "main", "schema_name": "logs",
                                       "table_name_prefix": "chat"},
            "rate_limits": [{"calls": 50, "tokens": 100000, "key": "user", "renewal_period": "minute"},
                            {"calls": 500, "renewal_period": "minute"}],  # no key: the endpoint's
            "guardrails": {"input": {"pii": {"behavior": "BLOCK"}}, "output": {"pii": {"behavior": "NONE"}}}},
    }


def without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not k.endswith("_plaintext")}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def test_a_read_gives_back_what_was_written_without_secrets(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"tf-{RUN}"
    body = written(name, mock_url)
    created = rest(gw, "POST", API, body)
    assert created.status == 200, created.body
    got = rest(gw, "GET", f"{API}/{name}").json()
    assert "sk-mock" not in json.dumps(got)
    sent = without_secrets(body)
    for field in ("description", "route_optimized", "budget_policy_id", "tags", "email_notifications",
                  "ai_gateway"):
        assert got[field] == sent[field], field
    assert [e["external_model"] for e in got["config"]["served_entities"]] == \
        [e["external_model"] for e in sent["config"]["served_entities"]]
    assert [e.get("scale_to_zero_enabled") for e in got["config"]["served_entities"]] == [None, None, True, None]
    routes = got["config"]["traffic_config"]["routes"]
    assert [{**r, "served_model_name": r["served_entity_name"]} for r in sent["config"]["traffic_config"]["routes"]] \
        == routes  # with both names, as Databricks answers
    assert got["task"] == "llm/v1/completions" and got["creator"]
    assert got["endpoint_url"] == f"{gw.url}/serving-endpoints/{name}/invocations"

    # the SDK parses it, and a second read is the same (nothing drifts)
    out = sdk(gw, "print(json.dumps(w.serving_endpoints.get(P['name']).as_dict()))", name=name)
    assert out["tags"] == sent["tags"] and out["ai_gateway"] == sent["ai_gateway"]
    assert rest(gw, "GET", f"{API}/{name}").json() == got

    # Terraform's update of a changed tag, notifications, and ai_gateway sent back as read
    out = sdk(gw, """
from databricks.sdk.service.serving import EndpointTag, EmailNotifications
tags = w.serving_endpoints.patch(P['name'], add_tags=[EndpointTag(key="tier", value="gold")],
                                 delete_tags=["team"])
notes = w.serving_endpoints.update_notifications(P['name'],
    email_notifications=EmailNotifications(on_update_success=["dev@example.com"]))
print(json.dumps({"tags": tags.as_dict(), "notes": notes.as_dict()}))
""", name=name)
    assert out["tags"] == {"tags": [{"key": "tier", "value": "gold"}]}
    assert out["notes"]["email_notifications"] == {"on_update_success": ["dev@example.com"]}
    again = rest(gw, "PUT", f"{API}/{name}/ai-gateway", got["ai_gateway"])
    assert again.status == 200 and again.json() == sent["ai_gateway"]
    spec = admin_get(gw, f"/endpoints/{name}")
    assert spec["tags"] == {"tier": "gold"} and spec["description"] == "team chat"
    assert [(lim["key"], lim.get("requests") or lim.get("tokens")) for lim in spec["rate_limits"]] == [
        ("user_default", 50), ("user_default", 100000), ("endpoint", 500)]
    assert rest(gw, "DELETE", f"{API}/{name}").status == 200


def test_the_older_rate_limits_route_and_create_field(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"legacy-{RUN}"
    out = sdk(gw, """
from databricks.sdk.service.serving import RateLimit, RateLimitKey, RateLimitRenewalPeriod
config = EndpointCoreConfigInput(name=P["name"], served_entities=[entity("a")])
w.serving_endpoints.create(name=P["name"], config=config,
    rate_limits=[RateLimit(calls=7, key=RateLimitKey.ENDPOINT, renewal_period=RateLimitRenewalPeriod.MINUTE)])
first = w.serving_endpoints.get(P["name"]).as_dict().get("ai_gateway")
put = w.serving_endpoints.put(P["name"], rate_limits=[
    RateLimit(calls=3, key=RateLimitKey.USER, renewal_period=RateLimitRenewalPeriod.MINUTE)])
print(json.dumps({"first": first, "put": put.as_dict()}))
""", name=name, mock=mock_url)
    assert out["first"] is None  # the older API's limits are not read back as ai_gateway's (Terraform)
    assert out["put"] == {"rate_limits": [{"calls": 3, "key": "user", "renewal_period": "minute"}]}
    assert admin_get(gw, f"/endpoints/{name}")["rate_limits"] == [
        {"key": "user_default", "requests": 3, "renewal_period": "minute"}]
    # an ai-gateway PUT without limits keeps the older API's (Databricks keeps them apart)
    r = rest(gw, "PUT", f"{API}/{name}/ai-gateway", {"fallback_config": {"enabled": True}})
    assert r.status == 200 and r.json() == {"fallback_config": {"enabled": True}}, r.body
    assert len(admin_get(gw, f"/endpoints/{name}")["rate_limits"]) == 1
    # one with limits makes them ai_gateway's
    limits = [{"calls": 8, "key": "endpoint", "renewal_period": "minute"}]
    r = rest(gw, "PUT", f"{API}/{name}/ai-gateway", {"rate_limits": limits})
    assert r.status == 200 and r.json() == {"rate_limits": limits}, r.body
    assert rest(gw, "DELETE", f"{API}/{name}").status == 200


def test_routes_unigate_does_not_serve_are_501s_in_databricks_shape(dbx_gateway: Gateway) -> None:
    out = sdk(dbx_gateway, """
print(json.dumps([raised(f) for f in (
    lambda: w.serving_endpoints.export_metrics("chat-openai"),
    lambda: w.serving_endpoints.logs("chat-openai", "openai-main"),
    lambda: w.serving_endpoints.build_logs("chat-openai", "openai-main"))]))
""")
    assert [o[:2] for o in out] == [["NotImplemented", "NOT_IMPLEMENTED"]] * 3, out
    assert all("not served by unigate" in o[2] for o in out)
    r = rest(dbx_gateway, "POST", f"{API}/pt", {"name": "x"})
    assert r.status == 501 and r.json()["error_code"] == "NOT_IMPLEMENTED"


def test_an_endpoint_from_the_file_is_updated_with_the_entities_its_read_shows(dbx_gateway: Gateway) -> None:
    gw = dbx_gateway
    got = rest(gw, "GET", f"{API}/chat-openai").json()
    entities = [{"name": e["name"], "external_model": e["external_model"]} for e in got["config"]["served_entities"]]
    r = rest(gw, "PUT", f"{API}/chat-openai/config", {"served_entities": entities,
                                                      "traffic_config": got["config"]["traffic_config"]})
    assert r.status == 200, r.body
    assert admin_get(gw, "/endpoints/chat-openai")["destinations"][0]["provider"] == "openai-main"
    entities[0]["external_model"]["openai_config"]["openai_api_key_plaintext"] = "sk-other"
    r = rest(gw, "PUT", f"{API}/chat-openai/config", {"served_entities": entities})
    assert r.status == 400 and "not made by this API" in r.json()["message"]


def test_wrong_types_are_400s_naming_the_field(dbx_gateway: Gateway) -> None:
    gw = dbx_gateway
    limit = {"calls": 1, "key": "user"}
    for body, field in (({"rate_limits": [{**limit, "key": ["user"]}]}, "key"),
                        ({"rate_limits": [{**limit, "renewal_period": ["minute"]}]}, "renewal_period"),
                        ({"rate_limits": [{**limit, "renewal_period": "hour"}]}, "renewal_period"),
                        ({"usage_tracking_config": {"enabled": "on"}}, "enabled")):
        r = rest(gw, "PUT", f"{API}/chat-openai/ai-gateway", body)
        assert r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.body)
        assert field in r.json()["message"]
    r = rest(gw, "PUT", f"{API}/chat-openai/config", {"served_entities": [{"name": "x", "external_model": {
        "provider": "anthropic", "name": "m", "task": "llm/v1/chat",
        "anthropic_config": {"anthropic_api_key_plaintext": "k"}}}],
        "traffic_config": {"routes": [{"served_entity_name": ["x"], "traffic_percentage": 100}]}})
    assert r.status == 400 and "served_entity_name" in r.json()["message"]
    r = rest(gw, "POST", API, {"name": 5, "config": {}})
    assert r.status == 400 and "name" in r.json()["message"]
    r = call("PUT", f"{gw.url}/api/v1/endpoints/chat-openai/rate-limits",
             {"rate_limits": [{"key": ["user"], "requests": 1, "renewal_period": "minute"}]}, bearer(gw.token))
    assert r.status == 400, r.body


def test_mlflow_updates_tags_rate_limits_and_the_deprecated_update(dbx_gateway: Gateway, mock_url: str) -> None:
    gw, name = dbx_gateway, f"mlf-{RUN}"
    out = run_client(f"""
import json, warnings
warnings.simplefilter("ignore")
from mlflow.deployments import get_deploy_client
c = get_deploy_client("databricks")
name, mock = {name!r}, {mock_url!r}
c.create_endpoint(config={{"name": name, "tags": [{{"key": "a", "value": "1"}}], "config": {{"served_entities": [
    {{"name": "m", "external_model": {{"name": "gpt-4o-mini", "provider": "openai", "task": "llm/v1/chat",
      "openai_config": {{"openai_api_key_plaintext": "sk-mock-openai", "openai_api_base": mock + "/v1"}}}}}}]}}}})
tags = c.update_endpoint_tags(name, {{"add_tags": [{{"key": "b", "value": "2"}}], "delete_tags": ["a"]}})
limits = c.update_endpoint_rate_limits(name, {{"rate_limits": [{{"key": "endpoint", "renewal_period": "minute",
                                                               "calls": 9}}]}})
old = c.update_endpoint(name, {{"rate_limits": [{{"key": "user", "renewal_period": "minute", "calls": 4}}]}})
print(json.dumps({{"tags": dict(tags), "limits": dict(limits), "old": dict(old)}}))
""", client_env(gw.url, gw.token))
    assert out["tags"] == {"tags": [{"key": "b", "value": "2"}]}
    assert out["limits"] == {"rate_limits": [{"key": "endpoint", "renewal_period": "minute", "calls": 9}]}
    assert out["old"] == {"rate_limits": [{"key": "user", "renewal_period": "minute", "calls": 4}]}
    assert rest(gw, "DELETE", f"{API}/{name}").status == 200
