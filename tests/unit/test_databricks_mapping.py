"""The pure translation between Databricks' serving-endpoint and AI Gateway configs and
unigate's provider and endpoint specs (src/unigate/server/databricks/serving_mapping.py,
serving_gateway.py)."""

from __future__ import annotations

from typing import Any

import pytest

from unigate.errors import InvalidRequest
from unigate.server.databricks.serving_gateway import (
    ai_gateway_view,
    apply_ai_gateway,
    rate_limits_to_unigate,
)
from unigate.server.databricks.serving_mapping import (
    config_to_specs,
    current_entities,
    endpoint_id,
    endpoint_view,
    entity_names,
    served_entities,
    with_kept,
)


def openai_entity(name: str, key: str | None = "sk-1", base: str = "http://mock/v1",
                  model: str = "gpt-4o-mini") -> dict[str, Any]:
    cfg: dict[str, Any] = {"openai_api_base": base}
    if key:
        cfg["openai_api_key_plaintext"] = key
    return {"name": name, "external_model": {"provider": "openai", "name": model, "task": "llm/v1/chat",
                                             "openai_config": cfg}}


def test_one_openai_entity_is_one_provider_and_a_whole_destination() -> None:
    providers, dests, _ = config_to_specs("ep", {"served_entities": [openai_entity("a")]}, {})
    assert providers == [{"name": "ep--a", "type": "openai", "api_key": "sk-1", "base_url": "http://mock/v1"}]
    assert dests == [{"provider": "ep--a", "model": "gpt-4o-mini", "traffic_percentage": 100}]


def test_traffic_routes_split_entities_and_must_sum_to_100() -> None:
    config = {"served_entities": [openai_entity("a"), openai_entity("b", model="gpt-4o")],
              "traffic_config": {"routes": [{"served_entity_name": "a", "traffic_percentage": 70},
                                            {"served_entity_name": "b", "traffic_percentage": 30}]}}
    _, dests, _ = config_to_specs("ep", config, {})
    assert [(d["provider"], d["model"], d["traffic_percentage"]) for d in dests] == [
        ("ep--a", "gpt-4o-mini", 70), ("ep--b", "gpt-4o", 30)]
    config["traffic_config"]["routes"][1]["traffic_percentage"] = 20  # type: ignore[index]
    with pytest.raises(InvalidRequest, match="sum to 100"):
        config_to_specs("ep", config, {})
    with pytest.raises(InvalidRequest) as err:
        config_to_specs("ep", {"served_entities": config["served_entities"]}, {})
    assert err.value.param == "config.traffic_config.routes"


def test_secret_references_are_refused_naming_the_field() -> None:
    entity = openai_entity("a", key=None)
    entity["external_model"]["openai_config"]["openai_api_key"] = "{{secrets/scope/openai}}"
    with pytest.raises(InvalidRequest) as err:
        config_to_specs("ep", {"served_entities": [entity]}, {})
    assert err.value.param == "config.served_entities[0].external_model.openai_config.openai_api_key"
    assert "secret" in err.value.message


def test_a_config_sent_back_without_keys_keeps_the_stored_key() -> None:
    stored = {"ep--a": {"name": "ep--a", "type": "openai", "api_key": "sk-old", "base_url": "http://mock/v1"}}
    providers, _, _ = config_to_specs("ep", {"served_entities": [openai_entity("a", key=None)]}, stored)
    assert providers[0]["api_key"] == "sk-old"
    with pytest.raises(InvalidRequest, match="openai_api_key_plaintext"):
        config_to_specs("ep", {"served_entities": [openai_entity("a", key=None)]}, {})


def test_azure_anthropic_and_custom_providers() -> None:
    azure = {"name": "az", "external_model": {"provider": "openai", "name": "gpt-4o", "task": "llm/v1/chat",
             "openai_config": {"openai_api_type": "azure", "openai_api_base": "https://r.openai.azure.com",
                               "openai_api_version": "2024-10-21", "openai_deployment_name": "dep",
                               "openai_api_key_plaintext": "k"}}}
    claude = {"name": "cl", "external_model": {"provider": "anthropic", "name": "claude-haiku-4-5",
              "task": "llm/v1/chat", "anthropic_config": {"anthropic_api_key_plaintext": "sk-ant"}}}
    custom = {"name": "vl", "external_model": {"provider": "custom", "name": "llama", "task": "llm/v1/chat",
              "custom_provider_config": {"custom_provider_url": "http://vllm/v1",
                                         "bearer_token_auth": {"token_plaintext": "t"}}}}
    routes = [{"served_entity_name": "az", "traffic_percentage": 100}]
    providers, dests, _ = config_to_specs("ep", {"served_entities": [azure, claude, custom],
                                              "traffic_config": {"routes": routes}}, {})
    assert [p["type"] for p in providers] == ["azure_openai", "anthropic", "openai_compatible"]
    assert providers[0]["api_version"] == "2024-10-21" and dests[0]["model"] == "dep"
    assert providers[1]["api_key"] == "sk-ant" and providers[2]["api_key"] == "t"
    assert [d["traffic_percentage"] for d in dests] == [100, 0, 0]


@pytest.mark.parametrize("entity, field", [
    ({"name": "x", "external_model": {"provider": "amazon-bedrock", "name": "m", "task": "llm/v1/chat"}},
     "config.served_entities[0].external_model.provider"),
    ({"name": "x", "entity_name": "catalog.schema.model", "entity_version": "1"},
     "config.served_entities[0].external_model"),
    ({"name": "x", "external_model": {"provider": "openai", "name": "m", "task": "llm/v1/rerank",
                                      "openai_config": {"openai_api_key_plaintext": "k"}}},
     "config.served_entities[0].external_model.task"),
])
def test_what_does_not_map_is_refused(entity: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        config_to_specs("ep", {"served_entities": [entity]}, {})
    assert err.value.param == field


def test_any_unigate_endpoint_reads_as_external_models_without_keys() -> None:
    providers = {"openai-main": {"name": "openai-main", "type": "openai", "base_url": "http://m/v1",
                                 "api_key": "sk-secret"},
                 "claude": {"name": "claude", "type": "anthropic", "base_url": "http://m", "api_key": "sk-ant"}}
    row = {"name": "chat", "created_at": 10.5, "updated_at": 20.0,
           "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini", "traffic_percentage": 80},
                            {"provider": "claude", "model": "claude-haiku-4-5", "traffic_percentage": 20}]}
    view = endpoint_view(row, providers, {}, detailed=True, permission_level="CAN_QUERY")
    assert "sk-" not in str(view)
    assert view["id"] == endpoint_id("chat") and view["creation_timestamp"] == 10500
    assert view["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    entities = view["config"]["served_entities"]
    assert [e["name"] for e in entities] == ["openai-main", "claude"]
    assert entities[0]["external_model"] == {"name": "gpt-4o-mini", "task": "llm/v1/chat", "provider": "openai",
                                             "openai_config": {"openai_api_base": "http://m/v1"}}
    assert entities[1]["external_model"]["provider"] == "anthropic"
    assert view["config"]["traffic_config"]["routes"] == [  # both names, as Databricks answers
        {"served_entity_name": "openai-main", "served_model_name": "openai-main", "traffic_percentage": 80},
        {"served_entity_name": "claude", "served_model_name": "claude", "traffic_percentage": 20}]


def test_entity_names_of_this_apis_providers_and_repeated_ones() -> None:
    dests = [{"provider": "ep--a"}, {"provider": "shared"}, {"provider": "shared"}]
    assert entity_names("ep", dests) == ["a", "shared", "shared-3"]


def test_rate_limits_both_ways() -> None:
    limits = rate_limits_to_unigate([
        {"calls": 5, "key": "user", "renewal_period": "minute"},
        {"calls": 2, "tokens": 1000, "key": "user", "principal": "a@x.com", "renewal_period": "minute"},
        {"tokens": 9000, "key": "endpoint", "renewal_period": "minute"},
        {"calls": 7, "key": "user_group", "principal": "team", "renewal_period": "minute"}], "rate_limits")
    assert limits == [
        {"key": "user_default", "requests": 5, "renewal_period": "minute"},
        {"key": "user", "requests": 2, "renewal_period": "minute", "principal": "a@x.com"},
        {"key": "user", "tokens": 1000, "renewal_period": "minute", "principal": "a@x.com"},
        {"key": "endpoint", "tokens": 9000, "renewal_period": "minute"},
        {"key": "group", "requests": 7, "renewal_period": "minute", "principal": "team"}]
    with pytest.raises(InvalidRequest) as err:
        rate_limits_to_unigate([{"calls": 1, "key": "user_group", "renewal_period": "minute"}], "rate_limits")
    assert err.value.param == "rate_limits[0].principal"


def test_put_ai_gateway_replaces_what_databricks_expresses_and_keeps_the_rest() -> None:
    hourly = {"key": "user_default", "requests": 100, "renewal_period": "hour"}
    judge = {"name": "j", "type": "judge", "phase": "input", "action": "block", "mode": "enforce",
             "endpoint": "judge", "template": "jailbreak"}
    spec = {"name": "ep", "destinations": [{"provider": "ep--a", "model": "m", "traffic_percentage": 100},
                                           {"provider": "ep--b", "model": "n", "traffic_percentage": 0}],
            "rate_limits": [hourly, {"key": "endpoint", "requests": 1, "renewal_period": "minute"}],
            "guardrails": [judge]}
    body = {"rate_limits": [{"calls": 3, "key": "endpoint", "renewal_period": "minute"}],
            "guardrails": {"input": {"pii": {"behavior": "MASK"}, "invalid_keywords": ["bluebird"]},
                           "output": {"pii": {"behavior": "BLOCK"}}},
            "inference_table_config": {"enabled": True, "catalog_name": "c", "schema_name": "s"},
            "fallback_config": {"enabled": True}, "usage_tracking_config": {"enabled": True}}
    new = apply_ai_gateway(spec, body)
    assert new["rate_limits"] == [hourly, {"key": "endpoint", "requests": 3, "renewal_period": "minute"}]
    assert new["guardrails"][0] == judge
    assert [(g["type"], g["phase"], g["action"]) for g in new["guardrails"][1:]] == [
        ("pii", "input", "sanitize"), ("keywords", "input", "block"), ("pii", "output", "block")]
    assert new["inference_table"] == {"enabled": True}
    assert new["fallbacks"] == [{"provider": "ep--a", "model": "m"}, {"provider": "ep--b", "model": "n"}]
    view = ai_gateway_view({**new, "guardrails": [
        {**g, "mode": "enforce"} for g in new["guardrails"]]})
    assert view["rate_limits"] == [{"key": "endpoint", "renewal_period": "minute", "calls": 3}]
    assert view["guardrails"] == {"input": {"pii": {"behavior": "MASK"}, "invalid_keywords": ["bluebird"]},
                                  "output": {"pii": {"behavior": "BLOCK"}}}
    assert view["fallback_config"] == {"enabled": True}
    # the table's names mean nothing to unigate (payloads go to its own store) but read back as written
    assert view["inference_table_config"] == {"enabled": True, "catalog_name": "c", "schema_name": "s"}
    assert view["usage_tracking_config"] == {"enabled": True}
    off = apply_ai_gateway(new, {})  # a PUT without them turns them off
    assert off["rate_limits"] == [hourly] and off["guardrails"] == [judge]
    assert "fallbacks" not in off and "inference_table" not in off
    assert ai_gateway_view(off) == {}  # nothing Databricks can say is on: no ai_gateway block at all


def test_safety_needs_an_existing_judge_and_usage_tracking_cannot_be_turned_off() -> None:
    spec = {"name": "ep", "destinations": [{"provider": "p", "model": "m", "traffic_percentage": 100}]}
    with pytest.raises(InvalidRequest) as err:
        apply_ai_gateway(spec, {"guardrails": {"input": {"safety": True}}})
    assert err.value.param == "guardrails.input.safety"
    unsafe = {"name": "s", "type": "judge", "phase": "input", "action": "block", "mode": "enforce",
              "endpoint": "judge", "template": "unsafe"}
    kept = apply_ai_gateway({**spec, "guardrails": [unsafe]}, {"guardrails": {"input": {"safety": True}}})
    assert kept["guardrails"] == [unsafe]
    assert ai_gateway_view(kept)["guardrails"] == {"input": {"safety": True}}
    with pytest.raises(InvalidRequest) as err:
        apply_ai_gateway(spec, {"usage_tracking_config": {"enabled": False}})
    assert err.value.param == "usage_tracking_config.enabled"


def test_an_endpoint_with_nothing_set_has_no_ai_gateway_and_written_blocks_read_back() -> None:
    spec = {"name": "ep", "destinations": [{"provider": "p", "model": "m", "traffic_percentage": 100}]}
    assert ai_gateway_view(spec) == {}
    assert "ai_gateway" not in endpoint_view(spec, {}, ai_gateway_view(spec), detailed=True)
    new = apply_ai_gateway(spec, {"usage_tracking_config": {"enabled": True},
                                  "inference_table_config": {"enabled": False}, "fallback_config": {"enabled": False}})
    assert ai_gateway_view(new) == {"usage_tracking_config": {"enabled": True},
                                    "inference_table_config": {"enabled": False},
                                    "fallback_config": {"enabled": False}}


def test_a_calls_and_tokens_entry_reads_back_as_one_entry() -> None:
    raw = [{"calls": 2, "tokens": 1000, "key": "user", "principal": "a@x.com", "renewal_period": "minute"},
           {"calls": 9, "key": "endpoint", "renewal_period": "minute"}]
    spec = apply_ai_gateway({"name": "ep", "destinations": []}, {"rate_limits": raw})
    assert spec["rate_limits"][:2] == [  # two unigate limits...
        {"key": "user", "requests": 2, "renewal_period": "minute", "principal": "a@x.com"},
        {"key": "user", "tokens": 1000, "renewal_period": "minute", "principal": "a@x.com"}]
    assert ai_gateway_view(spec)["rate_limits"] == raw  # ...read as the one entry written


@pytest.mark.parametrize("body, param", [
    ({"rate_limits": [{"calls": 1, "key": ["user"]}]}, "rate_limits[0].key"),
    ({"rate_limits": [{"calls": 1, "key": {"a": 1}}]}, "rate_limits[0].key"),
    ({"rate_limits": [{"calls": 1, "key": "user", "renewal_period": ["minute"]}]}, "rate_limits[0].renewal_period"),
    ({"rate_limits": [{"calls": 3, "key": "user", "renewal_period": "hour"}]}, "rate_limits[0].renewal_period"),
    ({"rate_limits": [{"calls": 3, "key": "user", "principal": 7}]}, "rate_limits[0].principal"),
    ({"rate_limits": [{"calls": 1}, {"tokens": -5, "key": "endpoint"}]}, "rate_limits[1].tokens"),
    ({"rate_limits": [{"calls": "10", "key": "endpoint"}]}, "rate_limits[0].calls"),
    ({"usage_tracking_config": {"enabled": "on"}}, "usage_tracking_config.enabled"),
    ({"fallback_config": {"enabled": "no"}}, "fallback_config.enabled"),
    ({"inference_table_config": {"enabled": 1}}, "inference_table_config.enabled"),
    ({"inference_table_config": {"enabled": True, "catalog_name": 5}}, "inference_table_config.catalog_name"),
    ({"fallback_config": []}, "fallback_config"),
])
def test_wrong_types_in_ai_gateway_are_400s_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        apply_ai_gateway({"name": "ep", "destinations": []}, body)
    assert err.value.param == param


def test_a_traffic_route_naming_no_entity_by_a_list_is_a_400() -> None:
    config = {"served_entities": [openai_entity("a")],
              "traffic_config": {"routes": [{"served_entity_name": ["a"], "traffic_percentage": 100}]}}
    with pytest.raises(InvalidRequest) as err:
        config_to_specs("ep", config, {})
    assert err.value.param == "config.traffic_config.routes[0].served_entity_name"


def test_entities_read_back_with_the_task_and_model_name_they_were_written_with() -> None:
    azure = {"name": "az", "external_model": {
        "provider": "openai", "name": "gpt-4o", "task": "llm/v1/chat",
        "openai_config": {"openai_api_type": "azure", "openai_api_base": "https://x.openai.azure.com",
                          "openai_deployment_name": "my-deploy", "openai_api_version": "2024-06-01",
                          "openai_api_key_plaintext": "k"}}}
    instruct = openai_entity("ins", model="gpt-3.5-turbo-instruct")
    instruct["external_model"]["task"] = "llm/v1/completions"
    instruct["external_model"]["openai_config"]["openai_api_type"] = "openai"
    bge = {"name": "bge", "external_model": {"provider": "custom", "name": "bge-small", "task": "llm/v1/embeddings",
                                             "custom_provider_config": {"custom_provider_url": "http://e/v1",
                                                                        "bearer_token_auth": {"token_plaintext": "t"}}}}
    keyed = {"name": "kh", "external_model": {"provider": "custom", "name": "m", "task": "llm/v1/chat",
                                              "custom_provider_config": {"custom_provider_url": "http://k/v1",
                                                                         "api_key_auth": {"key": "X-Key",
                                                                                          "value_plaintext": "v"}}}}
    config = {"served_entities": [azure, instruct, bge, keyed], "traffic_config": {"routes": [
        {"served_entity_name": n, "traffic_percentage": p} for n, p in (("az", 100), ("ins", 0), ("bge", 0),
                                                                        ("kh", 0))]}}
    providers, dests, notes = config_to_specs("ep", config, {})
    spec = with_kept({"name": "ep", "destinations": dests}, entities=notes)
    entities, _ = served_entities(spec, {p["name"]: p for p in providers}, detailed=False)
    expected = [e["external_model"] for e in config["served_entities"]]
    for e in expected:  # a read never shows a secret
        cfg = next(v for k, v in e.items() if k.endswith("_config"))
        cfg.pop("openai_api_key_plaintext", None)
        for auth in ("bearer_token_auth", "api_key_auth"):
            if auth in cfg:
                cfg[auth] = {k: v for k, v in cfg[auth].items() if not k.endswith("_plaintext")}
    assert [e["external_model"] for e in entities] == expected
    assert "sk-" not in str(entities) and "'k'" not in str(entities)


def test_an_entity_on_a_provider_made_elsewhere_is_sent_back_as_read_and_kept() -> None:
    stored = {"openai-main": {"name": "openai-main", "type": "openai", "base_url": "http://m/v1", "api_key": "sk-s"}}
    spec = {"name": "chat", "destinations": [{"provider": "openai-main", "model": "gpt-4o-mini",
                                              "traffic_percentage": 100}]}
    entities, _ = served_entities(spec, stored, detailed=True)
    config = {"served_entities": [{"name": e["name"], "external_model": e["external_model"]} for e in entities]}
    config["served_entities"][0]["external_model"]["name"] = "gpt-4o"  # a new model on the same provider
    providers, dests, _ = config_to_specs("chat", config, stored, current=current_entities(spec))
    assert providers == [] and dests == [{"provider": "openai-main", "model": "gpt-4o", "traffic_percentage": 100}]
    changed = {"served_entities": [openai_entity("openai-main", key="sk-new", base="http://m/v1")]}
    with pytest.raises(InvalidRequest, match="not made by this API"):
        config_to_specs("chat", changed, stored, current=current_entities(spec))


def test_an_update_names_fields_from_its_own_body() -> None:
    with pytest.raises(InvalidRequest) as err:
        config_to_specs("ep", {"served_entities": [{"name": "a"}]}, {}, where="")
    assert err.value.param == "served_entities[0].external_model"
    assert err.value.message.startswith("'served_entities[0].external_model' is required")


def test_an_openai_entity_without_a_base_reads_back_without_one_and_a_slash_is_kept() -> None:
    bare = openai_entity("a")
    del bare["external_model"]["openai_config"]["openai_api_base"]
    slash = openai_entity("b", base="http://mock/v1/")
    config = {"served_entities": [bare, slash], "traffic_config": {"routes": [
        {"served_entity_name": "a", "traffic_percentage": 50}, {"served_entity_name": "b", "traffic_percentage": 50}]}}
    providers, dests, notes = config_to_specs("ep", config, {})
    stored = {p["name"]: {**p, "base_url": p.get("base_url", "https://api.openai.com/v1").rstrip("/")}
              for p in providers}  # as the parser stores them: the type's default, no slash
    entities, _ = served_entities(with_kept({"name": "ep", "destinations": dests}, entities=notes), stored, False)
    assert entities[0]["external_model"]["openai_config"] == {}
    assert entities[1]["external_model"]["openai_config"] == {"openai_api_base": "http://mock/v1/"}
    stored["ep--a"]["base_url"] = "http://elsewhere/v1"  # changed since (through /api/v1): the truth shows
    entities, _ = served_entities(with_kept({"name": "ep", "destinations": dests}, entities=notes), stored, False)
    assert entities[0]["external_model"]["openai_config"] == {"openai_api_base": "http://elsewhere/v1"}


def test_limits_and_guardrails_read_back_as_written_while_unchanged() -> None:
    spec = {"name": "ep", "destinations": [{"provider": "p", "model": "m", "traffic_percentage": 100}]}
    body = {"rate_limits": [{"calls": 5, "renewal_period": "minute"}, {"calls": 2, "key": "user"},
                            {"tokens": 900, "key": "user"}],
            "guardrails": {"input": {"pii": {"behavior": "BLOCK"}}, "output": {"pii": {"behavior": "NONE"}}}}
    new = apply_ai_gateway(spec, body)
    assert new["rate_limits"][0] == {"key": "endpoint", "requests": 5, "renewal_period": "minute"}  # the default
    view = ai_gateway_view(new)
    assert view["rate_limits"] == body["rate_limits"] and view["guardrails"] == body["guardrails"]
    changed = {**new, "rate_limits": new["rate_limits"][:1]}  # a limit removed through /api/v1
    assert ai_gateway_view(changed)["rate_limits"] == [{"key": "endpoint", "renewal_period": "minute", "calls": 5}]


def test_usage_tracking_sent_without_enabled_is_a_request_to_turn_it_off() -> None:
    with pytest.raises(InvalidRequest) as err:  # Go's SDK leaves `enabled: false` out
        apply_ai_gateway({"name": "ep", "destinations": []}, {"usage_tracking_config": {}})
    assert err.value.param == "usage_tracking_config.enabled"


def test_auto_capture_config_is_refused_naming_what_to_use() -> None:
    with pytest.raises(InvalidRequest, match="inference_table_config") as err:
        config_to_specs("ep", {"served_entities": [openai_entity("a")],
                               "auto_capture_config": {"catalog_name": "c", "enabled": True}}, {})
    assert err.value.param == "config.auto_capture_config"
