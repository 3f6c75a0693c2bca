"""The pure translation between Databricks' AI Gateway config (`ai_gateway`: usage tracking,
inference table, rate limits, guardrails, fallbacks) and an endpoint spec's own fields.

PUT /ai-gateway replaces what Databricks can express and keeps what it cannot (limits per hour
or per request tag, judges other than a safety one, PII limited to some kinds, keyword patterns),
so a Databricks client never silently erases unigate settings it cannot see."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from unigate.errors import InvalidRequest
from unigate.server.databricks.serving_mapping import kept, with_kept

PREFIX = "databricks"  # the guardrails this API writes: databricks-input-pii, ...
_LIMIT_KEYS = {"endpoint": "endpoint", "user": "user", "user_group": "group",
               "service_principal": "service_principal"}
_BACK = {"endpoint": "endpoint", "user_default": "user", "user": "user", "group": "user_group",
         "service_principal": "service_principal"}


# --- rate limits ------------------------------------------------------------------------------

def rate_limits_to_unigate(raw: Any, where: str) -> list[dict[str, Any]]:
    """`[{calls?, tokens?, key, principal?, renewal_period}]` as unigate limits (a Databricks
    entry with both calls and tokens becomes two)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest(f"'{where}' must be a list", param=where)
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise InvalidRequest(f"'{at}' must be an object", param=at)
        key = entry.get("key") or "endpoint"  # Databricks' default key (AiGatewayRateLimit.key)
        if not isinstance(key, str) or key not in _LIMIT_KEYS:
            raise InvalidRequest(f"'{at}.key' must be one of {', '.join(_LIMIT_KEYS)}, got {key!r}",
                                 param=f"{at}.key")
        principal = entry.get("principal")
        if principal is not None and not isinstance(principal, str):
            raise InvalidRequest(f"'{at}.principal' must be a string", param=f"{at}.principal")
        period = entry.get("renewal_period", "minute")
        if period != "minute":  # Databricks' only period (hourly limits: unigate's own API)
            raise InvalidRequest(f"'{at}.renewal_period' must be minute, got {period!r} (limits per hour "
                                 "are set with /api/v1/endpoints/{name})", param=f"{at}.renewal_period")
        ukey = _LIMIT_KEYS[key]
        if key == "user" and not principal:
            ukey = "user_default"  # Databricks: every user gets this limit
        elif key in ("user_group", "service_principal") and not principal:
            raise InvalidRequest(f"'{at}.principal' is required with key {key} (unigate limits a named "
                                 "group or service principal; use key user for a per-caller limit)",
                                 param=f"{at}.principal")
        elif key == "endpoint" and principal:
            raise InvalidRequest(f"'{at}.principal' is not allowed with key endpoint", param=f"{at}.principal")
        measures: list[tuple[str, int]] = []
        for d, measure in (("calls", "requests"), ("tokens", "tokens")):
            amount = entry.get(d)
            if amount is None:
                continue
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise InvalidRequest(f"'{at}.{d}' must be a non-negative integer, got {amount!r}",
                                     param=f"{at}.{d}")
            measures.append((measure, amount))
        if not measures:
            raise InvalidRequest(f"'{at}': give calls or tokens", param=f"{at}.calls")
        for measure, amount in measures:
            limit: dict[str, Any] = {"key": ukey, measure: amount, "renewal_period": "minute"}
            if ukey in ("user", "group", "service_principal"):
                limit["principal"] = principal
            out.append(limit)
    return out


def _expressible_limit(limit: dict[str, Any]) -> bool:
    return limit.get("key") in _BACK and limit.get("renewal_period") == "minute"


def rate_limits_view(limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The limits Databricks can express; a requests and a tokens limit on the same key and
    principal read as one entry with calls and tokens, as they were written."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []
    for limit in limits:
        if not _expressible_limit(limit):
            continue
        entry: dict[str, Any] = {"key": _BACK[limit["key"]], "renewal_period": "minute"}
        if limit.get("principal"):
            entry["principal"] = limit["principal"]
        measure = ("calls", limit["requests"]) if limit.get("requests") is not None else ("tokens", limit["tokens"])
        ident = (limit["key"], limit.get("principal"))
        same = out.get(ident)
        if same is not None and measure[0] not in same:
            same[measure[0]] = measure[1]
            continue
        entry[measure[0]] = measure[1]
        if same is None:
            out[ident] = entry
        else:
            extra.append(entry)
    return list(out.values()) + extra


# --- guardrails -------------------------------------------------------------------------------

def _all_pii(g: dict[str, Any]) -> bool:
    from unigate.guardrails.detect.pii import PII_ENTITIES
    return set(g.get("entities") or PII_ENTITIES) == set(PII_ENTITIES)


def _kind(g: dict[str, Any]) -> str | None:
    """Which Databricks guardrail field a unigate guardrail is, or None when none can say it."""
    if g.get("mode", "enforce") != "enforce":
        return None
    if g["type"] == "pii" and _all_pii(g) and not g.get("restore"):
        return "pii"
    if g["type"] == "keywords" and g.get("action") == "block" and not g.get("patterns") \
            and not g.get("case_sensitive"):
        return "invalid_keywords"
    if g["type"] == "topics" and g.get("action") == "block" and not g.get("denied") and \
            all(words == [topic] for topic, words in (g.get("allowed") or {}).items()):
        return "valid_topics"
    if g["type"] == "judge" and g.get("template") == "unsafe" and not g.get("prompt"):
        return "safety"
    return None


def guardrails_view(guardrails: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for g in guardrails:
        kind = _kind(g)
        if kind is None:
            continue
        phase = out.setdefault(g["phase"], {})
        if kind == "pii":
            phase["pii"] = {"behavior": "BLOCK" if g.get("action") == "block" else "MASK"}
        elif kind == "invalid_keywords":
            phase.setdefault("invalid_keywords", []).extend(g.get("words") or [])
        elif kind == "valid_topics":
            phase.setdefault("valid_topics", []).extend(g.get("allowed") or {})
        else:
            phase["safety"] = True
    return out


def guardrails_to_unigate(raw: Any, old: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Databricks' `{input, output}` guardrails, with the old guardrails Databricks cannot
    express kept. `safety` needs a judge endpoint that Databricks' API has no field for: it is
    accepted when the endpoint already has an unsafe-content judge for that phase (kept) and
    refused otherwise."""
    if raw is not None and not isinstance(raw, dict):
        raise InvalidRequest(f"'{where}' must be an object", param=where)
    kept = [g for g in old if _kind(g) is None]
    judges = {g["phase"]: g for g in old if _kind(g) == "safety"}
    new: list[dict[str, Any]] = []
    for phase in ("input", "output"):
        params = (raw or {}).get(phase)
        if params is None:
            continue
        at = f"{where}.{phase}"
        if not isinstance(params, dict):
            raise InvalidRequest(f"'{at}' must be an object", param=at)
        unknown = set(params) - {"pii", "invalid_keywords", "valid_topics", "safety"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidRequest(f"'{at}.{name}' is not a guardrail unigate knows", param=f"{at}.{name}")
        pii = params.get("pii") or {}
        behavior = pii.get("behavior", "NONE") if isinstance(pii, dict) else None
        if behavior not in ("BLOCK", "MASK", "NONE"):
            raise InvalidRequest(f"'{at}.pii.behavior' must be BLOCK, MASK or NONE", param=f"{at}.pii.behavior")
        if behavior != "NONE":
            new.append({"name": f"{PREFIX}-{phase}-pii", "type": "pii", "phase": phase,
                        "action": "block" if behavior == "BLOCK" else "sanitize"})
        words = _strings(params, "invalid_keywords", at)
        if words:
            new.append({"name": f"{PREFIX}-{phase}-keywords", "type": "keywords", "phase": phase,
                        "action": "block", "words": words})
        topics = _strings(params, "valid_topics", at)
        if topics:  # unigate's topics are keyword lists: each topic is matched by its own name
            new.append({"name": f"{PREFIX}-{phase}-topics", "type": "topics", "phase": phase,
                        "action": "block", "allowed": {t: [t] for t in topics}})
        if params.get("safety"):
            if phase not in judges:
                raise InvalidRequest(f"'{at}.safety': unigate's safety guardrail is a judge that needs an "
                                     "evaluator endpoint, which this API cannot name: add a judge guardrail "
                                     "(template unsafe) with PUT /api/v1/endpoints/{name}/guardrails first",
                                     param=f"{at}.safety")
            new.append(judges[phase])
    return kept + new


def _strings(d: dict[str, Any], key: str, where: str) -> list[str]:
    value = d.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"'{where}.{key}' must be a list of strings", param=f"{where}.{key}")
    return list(value)


# --- the whole ai_gateway ----------------------------------------------------------------------

_BLOCKS = ("usage_tracking_config", "inference_table_config", "rate_limits", "guardrails", "fallback_config")
_TABLE_NAMES = ("catalog_name", "schema_name", "table_name_prefix")


def ai_gateway_view(spec: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's AiGatewayConfig: the blocks last written through this API, and those
    unigate's own settings turn on; {} when neither (Databricks gives no ai_gateway then)."""
    mine = kept(spec)
    written = set(mine.get("ai_gateway") or ())
    out: dict[str, Any] = {}
    if "usage_tracking_config" in written:
        out["usage_tracking_config"] = {"enabled": True}  # unigate always records usage
    logging_on = bool((spec.get("inference_table") or {}).get("enabled"))
    if logging_on or "inference_table_config" in written:
        out["inference_table_config"] = {**(mine.get("inference_table") or {}), "enabled": logging_on}
    limits = _as_written(rate_limits_view(spec.get("rate_limits") or []), mine, "rate_limits")
    if limits and not mine.get("legacy_rate_limits"):  # the older API's limits are not ai_gateway's
        out["rate_limits"] = limits
    guardrails = _as_written(guardrails_view(spec.get("guardrails") or []), mine, "guardrails")
    if guardrails:
        out["guardrails"] = guardrails
    if spec.get("fallbacks") or "fallback_config" in written:
        out["fallback_config"] = {"enabled": bool(spec.get("fallbacks"))}
    return out


def _as_written(view: Any, mine: dict[str, Any], key: str) -> Any:
    """The block as its last writer sent it (a key left to its default, calls and tokens in one
    entry or two, a phase whose PII behaviour is NONE), while unigate's settings still read as
    they did then; else as they read now."""
    echo = mine.get(key)
    return echo["written"] if isinstance(echo, dict) and echo.get("read") == digest(view) else view


def digest(view: Any) -> str:
    """A short fingerprint of how a block read when it was written (kept instead of the block)."""
    return hashlib.sha256(orjson.dumps(view, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _enabled(block: dict[str, Any], where: str) -> bool | None:
    value = block.get("enabled")
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"'{where}.enabled' must be true or false", param=f"{where}.enabled")
    return value


def _block(body: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}' must be an object", param=where)
    return value


def entity_fallbacks(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Databricks' fallbacks: the served entities, in order."""
    return [{"provider": d["provider"], "model": d["model"]} for d in spec.get("destinations", [])]


def apply_ai_gateway(spec: dict[str, Any], body: dict[str, Any], where: str = "") -> dict[str, Any]:
    """The endpoint spec with a PutAiGatewayRequest applied (fields absent are turned off, as a
    PUT says; what Databricks cannot express is kept)."""

    def at(f: str) -> str:
        return f"{where}.{f}" if where else f

    unknown = set(body) - {"usage_tracking_config", "inference_table_config", "rate_limits", "guardrails",
                           "fallback_config", "name"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(f"'{at(name)}' is not supported", param=at(name))
    new = dict(spec)
    tracking = _block(body, "usage_tracking_config", at("usage_tracking_config"))
    # Go's SDK (Terraform) leaves `enabled: false` out: {} is a request to turn it off too
    if body.get("usage_tracking_config") is not None and not _enabled(tracking, at("usage_tracking_config")):
        raise InvalidRequest(f"'{at('usage_tracking_config.enabled')}': unigate always records usage; it "
                             "cannot be turned off", param=at("usage_tracking_config.enabled"))
    table = _block(body, "inference_table_config", at("inference_table_config"))
    names = {k: table[k] for k in _TABLE_NAMES if table.get(k) is not None}
    for k, v in names.items():
        if not isinstance(v, str):
            raise InvalidRequest(f"'{at('inference_table_config.' + k)}' must be a string",
                                 param=at(f"inference_table_config.{k}"))
    # catalog/schema/table names have no meaning here (payloads go to unigate's own store): kept
    new["inference_table"] = {**(spec.get("inference_table") or {}),
                              "enabled": bool(_enabled(table, at("inference_table_config")))}
    kept_limits = [r for r in spec.get("rate_limits") or [] if not _expressible_limit(r)]
    new["rate_limits"] = kept_limits + rate_limits_to_unigate(body.get("rate_limits"), at("rate_limits"))
    new["guardrails"] = guardrails_to_unigate(body.get("guardrails"), spec.get("guardrails") or [],
                                              at("guardrails"))
    fallback = _block(body, "fallback_config", at("fallback_config"))
    if _enabled(fallback, at("fallback_config")):
        new["fallbacks"] = spec.get("fallbacks") or entity_fallbacks(spec)
    else:
        new.pop("fallbacks", None)
    for key in ("rate_limits", "guardrails"):
        if not new[key]:
            new.pop(key)
    if not new.get("guardrails"):
        new.pop("guardrail_response", None)
        new.pop("guardrail_window", None)
    if not new["inference_table"]["enabled"] and set(new["inference_table"]) == {"enabled"}:
        new.pop("inference_table")
    written = [b for b in _BLOCKS if body.get(b) is not None]
    echoes = {key: {"written": body[key], "read": digest(view(new.get(key) or []))} if body.get(key) else None
              for key, view in (("rate_limits", rate_limits_view), ("guardrails", guardrails_view))}
    return with_kept(new, ai_gateway=written or None, inference_table=names or None, legacy_rate_limits=None,
                     **echoes)
