"""The pure translation between Databricks' serving-endpoint config (served entities with
`external_model`s, traffic routes) and unigate's provider and endpoint specs, both ways.

An endpoint `E` created through /api/2.0/serving-endpoints gets one provider per served entity,
named `E--<entity>`, with that entity's credentials, and one unigate endpoint whose destinations
are the entities with their routes' percentages. Reads describe any unigate endpoint this way
(an endpoint written in unigate.yaml too): each destination is a served entity. No secret is
ever read back. The AI Gateway half (rate limits, guardrails, ...) is in `serving_gateway`."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from unigate.errors import InvalidRequest

SEPARATOR = "--"  # between the endpoint's name and the entity's in a provider's name
TASKS = ("llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings")
_SECRET_REF = re.compile(r"^\{\{\s*secrets/[^}]*\}\}$")
_ENTITY = re.compile(r"[^A-Za-z0-9._-]+")
# Databricks' external-model providers unigate has no provider type for (they need AWS or GCP
# signing, or are retired): refused on create rather than half-mapped.
UNSUPPORTED_PROVIDERS = ("amazon-bedrock", "google-cloud-vertex-ai", "cohere", "ai21labs", "palm",
                         "databricks-model-serving")


def endpoint_id(name: str) -> str:
    """The stable `id` Databricks clients pass to the permissions API (a hash of the name)."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def provider_name(endpoint: str, entity: str) -> str:
    return f"{endpoint}{SEPARATOR}{entity}"


def owned_providers(endpoint: str, providers: dict[str, dict[str, Any]]) -> list[str]:
    """The providers this API made for `endpoint` (named `endpoint--entity`)."""
    return [p for p in providers if p.startswith(endpoint + SEPARATOR)]


def _obj(value: Any, where: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}' must be an object", param=where)
    return value


def _str(d: dict[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"'{where}.{key}' is required", param=f"{where}.{key}")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{where}.{key}' must be a string", param=f"{where}.{key}")
    return value


def _key(d: dict[str, Any], field: str, where: str, old_key: str | None) -> str | None:
    """A credential: `<field>_plaintext` is the key itself; `<field>` is a Databricks secret
    reference, which unigate cannot resolve. Neither keeps the stored key (a config sent back as
    GET shows it, without keys)."""
    plain = _str(d, f"{field}_plaintext", where)
    ref = _str(d, field, where)
    if plain and ref:
        raise InvalidRequest(f"'{where}': give {field} or {field}_plaintext, not both", param=f"{where}.{field}")
    if ref:
        what = "a Databricks secret reference" if _SECRET_REF.match(ref.strip()) else "a secret reference"
        raise InvalidRequest(f"'{where}.{field}' is {what}, which unigate cannot resolve (it has no "
                             f"Databricks secret store): send the key as '{field}_plaintext' (stored "
                             "write-only, never read back)", param=f"{where}.{field}")
    return plain or old_key


def _refuse(d: dict[str, Any], fields: tuple[str, ...], where: str, why: str) -> None:
    for f in fields:
        if d.get(f) not in (None, ""):
            raise InvalidRequest(f"'{where}.{f}' is not supported: {why}", param=f"{where}.{f}")


def external_model_to_provider(name: str, model: dict[str, Any], where: str,
                               old: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """One `external_model` as a unigate provider spec (named `name`) and the model it serves.
    `old` is the provider of that name already stored (its key is kept when none is sent)."""
    provider = _str(model, "provider", where, required=True)
    model_name = _str(model, "name", where, required=True)
    task = _str(model, "task", where, required=True)
    if task not in TASKS:
        raise InvalidRequest(f"'{where}.task' must be one of {', '.join(TASKS)}, got {task!r}",
                             param=f"{where}.task")
    old_key = (old or {}).get("api_key")
    spec: dict[str, Any] = {"name": name}
    if provider == "openai":
        cfg = _obj(model.get("openai_config"), f"{where}.openai_config", required=True)
        at = f"{where}.openai_config"
        _refuse(cfg, ("microsoft_entra_client_id", "microsoft_entra_client_secret",
                      "microsoft_entra_client_secret_plaintext", "microsoft_entra_tenant_id"), at,
                "unigate authenticates to Azure OpenAI with an API key (openai_api_key_plaintext)")
        api_type = (_str(cfg, "openai_api_type", at) or "openai").lower()
        if api_type not in ("openai", "azure"):
            raise InvalidRequest(f"'{at}.openai_api_type' must be openai or azure, got {api_type!r}",
                                 param=f"{at}.openai_api_type")
        key = _key(cfg, "openai_api_key", at, old_key)
        if not key:
            raise InvalidRequest(f"'{at}.openai_api_key_plaintext' is required", param=f"{at}.openai_api_key_plaintext")
        spec["api_key"] = key
        base = _str(cfg, "openai_api_base", at, required=api_type == "azure")
        if api_type == "azure":
            spec.update(type="azure_openai", base_url=base)
            version = _str(cfg, "openai_api_version", at)
            if version:
                spec["api_version"] = version
            model_name = _str(cfg, "openai_deployment_name", at) or model_name
        else:
            spec["type"] = "openai"
            if base:
                spec["base_url"] = base
        org = _str(cfg, "openai_organization", at)
        if org:
            spec["headers"] = {"OpenAI-Organization": org}
    elif provider == "anthropic":
        at = f"{where}.anthropic_config"
        cfg = _obj(model.get("anthropic_config"), at, required=True)
        key = _key(cfg, "anthropic_api_key", at, old_key)
        if not key:
            raise InvalidRequest(f"'{at}.anthropic_api_key_plaintext' is required",
                                 param=f"{at}.anthropic_api_key_plaintext")
        spec.update(type="anthropic", api_key=key)
    elif provider == "custom":
        at = f"{where}.custom_provider_config"
        cfg = _obj(model.get("custom_provider_config"), at, required=True)
        spec.update(type="openai_compatible", base_url=_str(cfg, "custom_provider_url", at, required=True))
        bearer = _obj(cfg.get("bearer_token_auth"), f"{at}.bearer_token_auth")
        api_key = _obj(cfg.get("api_key_auth"), f"{at}.api_key_auth")
        token = _key(bearer, "token", f"{at}.bearer_token_auth", None) if bearer else None
        if token:
            spec["api_key"] = token
        elif api_key:
            header = _str(api_key, "key", f"{at}.api_key_auth", required=True)
            value = _key(api_key, "value", f"{at}.api_key_auth", None)
            if not value:
                raise InvalidRequest(f"'{at}.api_key_auth.value_plaintext' is required",
                                     param=f"{at}.api_key_auth.value_plaintext")
            spec["headers"] = {str(header): value}
        elif old:  # nothing sent: keep what is stored
            for k in ("api_key", "headers"):
                if old.get(k):
                    spec[k] = old[k]
    elif provider in UNSUPPORTED_PROVIDERS:
        raise InvalidRequest(f"'{where}.provider': {provider} is not supported by unigate (supported: "
                             "openai, including Azure OpenAI, anthropic, custom for OpenAI-compatible "
                             "servers)", param=f"{where}.provider")
    else:
        raise InvalidRequest(f"'{where}.provider' must be openai, anthropic or custom, got {provider!r}",
                             param=f"{where}.provider")
    assert model_name is not None
    return spec, model_name


def config_to_specs(endpoint: str, config: Any, stored: dict[str, dict[str, Any]],
                    where: str = "config") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An EndpointCoreConfigInput as (provider specs, destinations). `stored` is every stored
    provider by name (keys are kept for entities sent without one)."""
    cfg = _obj(config, where, required=True)
    if cfg.get("served_models"):
        raise InvalidRequest(f"'{where}.served_models' is not supported: use served_entities with "
                             "external_model", param=f"{where}.served_models")
    entities = cfg.get("served_entities")
    if not isinstance(entities, list) or not entities:
        raise InvalidRequest(f"'{where}.served_entities' must list at least one served entity",
                             param=f"{where}.served_entities")
    providers: list[dict[str, Any]] = []
    models: dict[str, tuple[str, str]] = {}  # entity name -> (provider, model)
    for i, raw in enumerate(entities):
        at = f"{where}.served_entities[{i}]"
        entity = _obj(raw, at, required=True)
        if entity.get("external_model") is None:
            raise InvalidRequest(f"'{at}.external_model' is required: unigate serves no models itself, "
                                 "only external models (entity_name and foundation models are not "
                                 "supported)", param=f"{at}.external_model")
        external = _obj(entity["external_model"], f"{at}.external_model", required=True)
        name = _str(entity, "name", at) or _ENTITY.sub("-", str(external.get("name") or f"entity-{i}"))
        if name in models:
            raise InvalidRequest(f"'{at}.name': served entity '{name}' is named twice", param=f"{at}.name")
        pname = provider_name(endpoint, name)
        spec, model = external_model_to_provider(pname, external, f"{at}.external_model", stored.get(pname))
        providers.append(spec)
        models[name] = (pname, model)
    shares = _traffic(cfg.get("traffic_config"), list(models), f"{where}.traffic_config")
    destinations = [{"provider": p, "model": m, "traffic_percentage": shares[n]} for n, (p, m) in models.items()]
    return providers, destinations


def _traffic(raw: Any, entities: list[str], where: str) -> dict[str, int]:
    if raw is None or not _obj(raw, where).get("routes"):
        if len(entities) > 1:
            raise InvalidRequest(f"'{where}.routes' is required with several served entities "
                                 "(each route: served_entity_name, traffic_percentage)", param=f"{where}.routes")
        return {entities[0]: 100}
    routes = raw["routes"]
    if not isinstance(routes, list):
        raise InvalidRequest(f"'{where}.routes' must be a list", param=f"{where}.routes")
    shares = dict.fromkeys(entities, 0)
    for i, route in enumerate(routes):
        at = f"{where}.routes[{i}]"
        route = _obj(route, at, required=True)
        name = route.get("served_entity_name") or route.get("served_model_name")
        if name not in shares:
            raise InvalidRequest(f"'{at}.served_entity_name' names no served entity ({name!r})",
                                 param=f"{at}.served_entity_name")
        pct = route.get("traffic_percentage")
        if not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100:
            raise InvalidRequest(f"'{at}.traffic_percentage' must be an integer from 0 to 100",
                                 param=f"{at}.traffic_percentage")
        shares[name] = pct
    if sum(shares.values()) != 100:
        raise InvalidRequest(f"'{where}.routes': traffic_percentage must sum to 100, got {sum(shares.values())}",
                             param=f"{where}.routes")
    return shares


# --- reads --------------------------------------------------------------------------------------

def infer_task(model: str) -> str:
    """unigate endpoints carry no task: an embedding model's name says so, the rest is chat."""
    return "llm/v1/embeddings" if "embed" in model.lower() else "llm/v1/chat"


def provider_to_external_model(provider: dict[str, Any] | None, model: str) -> dict[str, Any]:
    """A provider as an external model, never with its key."""
    out: dict[str, Any] = {"name": model, "task": infer_task(model)}
    ptype = (provider or {}).get("type")
    base = (provider or {}).get("base_url")
    if ptype == "openai":
        cfg: dict[str, Any] = {"openai_api_base": base} if base else {}
        org = ((provider or {}).get("headers") or {}).get("OpenAI-Organization")
        if org:
            cfg["openai_organization"] = org
        out.update(provider="openai", openai_config=cfg)
    elif ptype == "azure_openai":
        cfg = {"openai_api_type": "azure", "openai_api_base": base, "openai_deployment_name": model}
        if (provider or {}).get("api_version"):
            cfg["openai_api_version"] = provider["api_version"]  # type: ignore[index]
        out.update(provider="openai", openai_config=cfg)
    elif ptype == "anthropic":
        out.update(provider="anthropic", anthropic_config={})
    else:  # openai_compatible, gemini: Databricks has no provider for them but `custom`
        out.update(provider="custom", custom_provider_config={"custom_provider_url": base})
    return out


def entity_names(endpoint: str, destinations: list[dict[str, Any]]) -> list[str]:
    """Served-entity names for an endpoint's destinations: the part after `endpoint--` for the
    providers this API made, else the provider's name (made unique by position)."""
    names: list[str] = []
    for i, d in enumerate(destinations):
        p = str(d.get("provider", ""))
        name = p[len(endpoint) + len(SEPARATOR):] if p.startswith(endpoint + SEPARATOR) else p
        names.append(name if name not in names else f"{name}-{i + 1}")
    return names


def served_entities(spec: dict[str, Any], providers: dict[str, dict[str, Any]],
                    detailed: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(served entities, traffic routes) of an endpoint spec."""
    dests = spec.get("destinations", [])
    entities, routes = [], []
    for name, d in zip(entity_names(spec["name"], dests), dests, strict=True):
        entity: dict[str, Any] = {"name": name,
                                  "external_model": provider_to_external_model(providers.get(d["provider"]),
                                                                               d["model"])}
        if detailed:
            entity["state"] = {"deployment": "DEPLOYMENT_READY",
                               "deployment_state_message": "served by unigate"}
        entities.append(entity)
        routes.append({"served_entity_name": name, "traffic_percentage": d.get("traffic_percentage", 100)})
    return entities, routes


def millis(seconds: Any) -> int | None:
    return int(float(seconds) * 1000) if seconds is not None else None


def endpoint_view(row: dict[str, Any], providers: dict[str, dict[str, Any]], ai_gateway: dict[str, Any],
                  detailed: bool, permission_level: str | None = None) -> dict[str, Any]:
    """A stored endpoint row as ServingEndpointDetailed (GET) or ServingEndpoint (list)."""
    entities, routes = served_entities(row, providers, detailed)
    config: dict[str, Any] = {"served_entities": entities}
    if detailed:
        config.update(traffic_config={"routes": routes}, config_version=int(float(row.get("updated_at") or 0)))
    out: dict[str, Any] = {
        "name": row["name"], "id": endpoint_id(row["name"]),
        "creation_timestamp": millis(row.get("created_at")),
        "last_updated_timestamp": millis(row.get("updated_at")),
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},  # applied at once: waiters end
        "config": config, "ai_gateway": ai_gateway,
        "task": entities[0]["external_model"]["task"] if entities else "llm/v1/chat",
    }
    if detailed and permission_level:
        out["permission_level"] = permission_level
    return {k: v for k, v in out.items() if v is not None}
