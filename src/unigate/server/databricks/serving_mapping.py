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
from unigate.providers import PROVIDER_TYPES

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


def kept(spec: dict[str, Any]) -> dict[str, Any]:
    """What this API keeps on an endpoint and unigate does not act on (`compat.databricks`):
    creator, route_optimized, email_notifications, budget_policy_id, the inference table's
    names, the ai_gateway blocks last written, and per served entity its task and the model name
    as written (`entities`)."""
    return dict((spec.get("compat") or {}).get("databricks") or {})


def with_kept(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The spec with `compat.databricks` changed (a None value removes the key)."""
    mine = {**kept(spec), **changes}
    mine = {k: v for k, v in mine.items() if v is not None}
    compat = {k: v for k, v in (spec.get("compat") or {}).items() if k != "databricks"}
    if mine:
        compat["databricks"] = mine
    out = {k: v for k, v in spec.items() if k != "compat"}
    if compat:
        out["compat"] = compat
    return out


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


def _task(model: dict[str, Any], where: str) -> str:
    task = _str(model, "task", where, required=True)
    if task not in TASKS:
        raise InvalidRequest(f"'{where}.task' must be one of {', '.join(TASKS)}, got {task!r}",
                             param=f"{where}.task")
    return str(task)


def external_model_to_provider(name: str, model: dict[str, Any], where: str,
                               old: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """One `external_model` as a unigate provider spec (named `name`) and the model it serves.
    `old` is the provider of that name already stored (its key is kept when none is sent)."""
    provider = _str(model, "provider", where, required=True)
    model_name = _str(model, "name", where, required=True)
    _task(model, where)
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


def config_to_specs(endpoint: str, config: Any, stored: dict[str, dict[str, Any]], where: str = "config",
                    current: dict[str, str] | None = None
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """An EndpointCoreConfigInput as (provider specs to write, destinations, notes per entity).
    `stored` is every stored provider by name (keys are kept for entities sent without one);
    `current` names the provider of each served entity the endpoint has now, so an entity whose
    provider was made outside this API (unigate.yaml, /api/v1) is sent back as read and kept."""
    cfg = _obj(config, where or "body", required=True)
    base = f"{where}." if where else ""  # the update's body is the config itself
    if cfg.get("auto_capture_config") is not None:
        raise InvalidRequest(f"'{base}auto_capture_config' is not supported: unigate logs an endpoint's "
                             "payloads to its own store; use ai_gateway.inference_table_config",
                             param=f"{base}auto_capture_config")
    if cfg.get("served_models"):
        raise InvalidRequest(f"'{base}served_models' is not supported: use served_entities with "
                             "external_model", param=f"{base}served_models")
    entities = cfg.get("served_entities")
    if not isinstance(entities, list) or not entities:
        raise InvalidRequest(f"'{base}served_entities' must list at least one served entity",
                             param=f"{base}served_entities")
    providers: list[dict[str, Any]] = []
    models: dict[str, tuple[str, str]] = {}  # entity name -> (provider, model)
    notes: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(entities):
        at = f"{base}served_entities[{i}]"
        entity = _obj(raw, at, required=True)
        if entity.get("external_model") is None:
            raise InvalidRequest(f"'{at}.external_model' is required: unigate serves no models itself, "
                                 "only external models (entity_name and foundation models are not "
                                 "supported)", param=f"{at}.external_model")
        external = _obj(entity["external_model"], f"{at}.external_model", required=True)
        name = _str(entity, "name", at) or _ENTITY.sub("-", str(external.get("name") or f"entity-{i}"))
        if name in models:
            raise InvalidRequest(f"'{at}.name': served entity '{name}' is named twice", param=f"{at}.name")
        outside = (current or {}).get(name)
        if outside is not None and outside in stored and outside != provider_name(endpoint, name):
            pname, model = outside, _adopted_model(stored[outside], external, f"{at}.external_model", name)
        else:
            pname = provider_name(endpoint, name)
            spec, model = external_model_to_provider(pname, external, f"{at}.external_model", stored.get(pname))
            providers.append(spec)
        models[name] = (pname, model)
        notes[name] = _note(external, model)
        scale = entity.get("scale_to_zero_enabled")
        if scale is not None and not isinstance(scale, bool):
            raise InvalidRequest(f"'{at}.scale_to_zero_enabled' must be true or false",
                                 param=f"{at}.scale_to_zero_enabled")
        if scale:  # meaningless for an external model; kept so a read gives it back
            notes[name]["scale_to_zero_enabled"] = True
    shares = _traffic(cfg.get("traffic_config"), list(models), f"{base}traffic_config")
    destinations = [{"provider": p, "model": m, "traffic_percentage": shares[n]} for n, (p, m) in models.items()]
    return providers, destinations, notes


def _note(external: dict[str, Any], model: str) -> dict[str, Any]:
    """What a read needs to give the entity back as written: its task, and the model's name and
    api type where the provider does not say them (Azure's deployment is the model unigate asks)."""
    note: dict[str, Any] = {"model": model, "task": external["task"]}
    if external.get("name") != model:
        note["name"] = external["name"]
    openai = external.get("openai_config") or {}
    api_type = openai.get("openai_api_type")
    if isinstance(api_type, str) and api_type:
        note["openai_api_type"] = api_type
    if external.get("provider") in ("openai", "custom"):  # its URL as written (None: the default)
        url = openai.get("openai_api_base") or (external.get("custom_provider_config") or {}).get("custom_provider_url")
        note["url"] = url if isinstance(url, str) and url else None
    return note


def _url_as_written(note: dict[str, Any], base: str | None, default: str | None) -> str | None:
    """The provider's URL as its entity was written: with its trailing slash, and none at all
    when none was written and the provider has its type's default (Terraform would plan it away)."""
    if "url" not in note:
        return base
    written = note["url"]
    if written is None:
        return None if base in (None, default) else base
    return written if base and written.rstrip("/") == base.rstrip("/") else base


def _provider_part(external: dict[str, Any]) -> dict[str, Any]:
    """An external model's provider settings without its model, task, secrets or defaults: what
    must match for an entity to stay on the provider it has."""
    out: dict[str, Any] = {"provider": external.get("provider")}
    for key, cfg in external.items():
        if key.endswith("_config") and isinstance(cfg, dict):
            part = {k: v for k, v in cfg.items() if v not in (None, "", {}) and not k.endswith("_plaintext")
                    and k not in ("openai_deployment_name",)}
            if part.get("openai_api_type", "").lower() == "openai":
                part.pop("openai_api_type")
            out[key] = part
    return out


def _adopted_model(provider: dict[str, Any], external: dict[str, Any], where: str, entity: str) -> str:
    """The model of an entity kept on a provider this API did not make: the provider's settings
    must be sent as a read shows them (no key: it is the provider's own business)."""
    model = _str(external, "name", where, required=True)
    _task(external, where)
    assert model is not None
    sent = external.get("openai_config")
    cfg: dict[str, Any] = sent if isinstance(sent, dict) else {}
    sent_keys = [k for c in external.values() if isinstance(c, dict) for k, v in c.items()
                 if k.endswith("_plaintext") and v]
    if str(cfg.get("openai_api_type") or "").lower() == "azure":
        model = _str(cfg, "openai_deployment_name", f"{where}.openai_config") or model
    if sent_keys or _provider_part(external) != _provider_part(provider_to_external_model(provider, model)):
        raise InvalidRequest(f"'{where}': served entity '{entity}' is provider '{provider['name']}', which was "
                             "not made by this API (unigate.yaml or /api/v1/providers): its settings and keys "
                             "change there; send it as a read shows it (no key) to change only its model and "
                             "traffic, or give the entity a new name", param=where)
    return model


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
        if not isinstance(name, str) or name not in shares:
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
    """An endpoint made outside this API carries no task: an embedding model's name says so,
    the rest is chat."""
    return "llm/v1/embeddings" if "embed" in model.lower() else "llm/v1/chat"


def provider_to_external_model(provider: dict[str, Any] | None, model: str,
                               note: dict[str, Any] | None = None) -> dict[str, Any]:
    """A provider as an external model, never with its key; `note` (what the entity was written
    with, while its model is unchanged) gives back its task and the model's name as written."""
    note = note if note and note.get("model") == model else {}
    out: dict[str, Any] = {"name": note.get("name", model), "task": note.get("task") or infer_task(model)}
    p = provider or {}
    ptype, base = p.get("type"), p.get("base_url")
    if ptype in ("openai", "openai_compatible"):
        base = _url_as_written(note, base, PROVIDER_TYPES[ptype].DEFAULT_BASE_URL)
    if ptype == "openai":
        cfg: dict[str, Any] = {"openai_api_base": base} if base else {}
        org = (p.get("headers") or {}).get("OpenAI-Organization")
        if org:
            cfg["openai_organization"] = org
        if note.get("openai_api_type"):
            cfg["openai_api_type"] = note["openai_api_type"]
        out.update(provider="openai", openai_config=cfg)
    elif ptype == "azure_openai":
        cfg = {"openai_api_type": note.get("openai_api_type", "azure"), "openai_api_base": base,
               "openai_deployment_name": model}
        if p.get("api_version"):
            cfg["openai_api_version"] = p["api_version"]
        out.update(provider="openai", openai_config=cfg)
    elif ptype == "anthropic":
        out.update(provider="anthropic", anthropic_config={})
    else:  # openai_compatible, gemini: Databricks has no provider for them but `custom`
        out.update(provider="custom", custom_provider_config=_custom_config(p, base))
    return out


def _custom_config(provider: dict[str, Any], base: str | None) -> dict[str, Any]:
    """Which auth a custom provider uses, without its secret (Terraform keeps the secret it wrote
    in a block the read has)."""
    cfg: dict[str, Any] = {"custom_provider_url": base}
    headers = provider.get("headers") or {}
    if provider.get("api_key"):
        cfg["bearer_token_auth"] = {}
    elif len(headers) == 1:
        cfg["api_key_auth"] = {"key": next(iter(headers))}
    return cfg


def entity_names(endpoint: str, destinations: list[dict[str, Any]]) -> list[str]:
    """Served-entity names for an endpoint's destinations: the part after `endpoint--` for the
    providers this API made, else the provider's name (made unique by position)."""
    names: list[str] = []
    for i, d in enumerate(destinations):
        p = str(d.get("provider", ""))
        name = p[len(endpoint) + len(SEPARATOR):] if p.startswith(endpoint + SEPARATOR) else p
        names.append(name if name not in names else f"{name}-{i + 1}")
    return names


def current_entities(spec: dict[str, Any]) -> dict[str, str]:
    """Each served entity's provider, by entity name, as reads name them."""
    dests = spec.get("destinations", [])
    return {n: d["provider"] for n, d in zip(entity_names(spec["name"], dests), dests, strict=True)}


def served_entities(spec: dict[str, Any], providers: dict[str, dict[str, Any]],
                    detailed: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(served entities, traffic routes) of an endpoint spec."""
    dests = spec.get("destinations", [])
    notes = kept(spec).get("entities") or {}
    entities, routes = [], []
    for name, d in zip(entity_names(spec["name"], dests), dests, strict=True):
        note = notes.get(name) or {}
        external = provider_to_external_model(providers.get(d["provider"]), d["model"], note)
        entity: dict[str, Any] = {"name": name, "external_model": external}
        if note.get("scale_to_zero_enabled") and note.get("model") == d["model"]:
            entity["scale_to_zero_enabled"] = True
        if detailed:
            entity["state"] = {"deployment": "DEPLOYMENT_READY",
                               "deployment_state_message": "served by unigate"}
        entities.append(entity)
        routes.append({"served_entity_name": name, "served_model_name": name,  # both, as Databricks answers
                       "traffic_percentage": d.get("traffic_percentage", 100)})
    return entities, routes


def millis(seconds: Any) -> int | None:
    return int(float(seconds) * 1000) if seconds is not None else None


def tags_view(spec: dict[str, Any]) -> list[dict[str, str]]:
    """unigate's tags as Databricks' `[{key, value}]` (a tag without a value reads as key only)."""
    return [{"key": k, "value": v} if v else {"key": k} for k, v in (spec.get("tags") or {}).items()]


def endpoint_view(row: dict[str, Any], providers: dict[str, dict[str, Any]], ai_gateway: dict[str, Any],
                  detailed: bool, permission_level: str | None = None, origin: str | None = None
                  ) -> dict[str, Any]:
    """A stored endpoint row as ServingEndpointDetailed (GET) or ServingEndpoint (list).
    Fields unigate keeps but does not act on come back as written."""
    entities, routes = served_entities(row, providers, detailed)
    mine = kept(row)
    config: dict[str, Any] = {"served_entities": entities}
    if detailed:
        config.update(traffic_config={"routes": routes}, config_version=int(float(row.get("updated_at") or 0)))
    out: dict[str, Any] = {
        "name": row["name"], "id": endpoint_id(row["name"]), "creator": mine.get("creator"),
        "description": row.get("description"),
        "creation_timestamp": millis(row.get("created_at")),
        "last_updated_timestamp": millis(row.get("updated_at")),
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},  # applied at once: waiters end
        "config": config, "ai_gateway": ai_gateway or None, "tags": tags_view(row) or None,
        "task": entities[0]["external_model"]["task"] if entities else "llm/v1/chat",
        "budget_policy_id": mine.get("budget_policy_id"),
    }
    if detailed:
        out.update(route_optimized=mine.get("route_optimized"), email_notifications=mine.get("email_notifications"))
        if mine.get("route_optimized") and origin:  # Databricks gives a route-optimised endpoint its own URL
            out["endpoint_url"] = f"{origin}/serving-endpoints/{row['name']}/invocations"
        if permission_level:
            out["permission_level"] = permission_level
    return {k: v for k, v in out.items() if v is not None}
