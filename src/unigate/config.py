"""The configuration file: providers and endpoints, as code.

`${VAR}` is read from the environment (an unset variable is an error naming it);
`${VAR:-default}` falls back to `default`. A bad file is refused with a message naming the
file, the entry and the field."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import orjson
import yaml

from unigate.accounting.prices import Price, PriceEntry
from unigate.governance.budgets.spec import Budget, BudgetSpecError, parse_budget
from unigate.governance.ratelimit.spec import RateLimitSpecError, parse_rate_limits
from unigate.governance.retention import inference_table_error
from unigate.guardrails.spec import BLOCK_RESPONSES, DEFAULT_WINDOW, GuardrailSpecError, parse_guardrails
from unigate.providers import PROVIDER_TYPES, ProviderConfig
from unigate.providers.secret_refs import RefPolicy, is_ref, parse_policy, ref_problem
from unigate.server.http.limits import SETTINGS as REQUEST_LIMITS
from unigate.server.http.limits import RequestLimits, parse_request_limits

if TYPE_CHECKING:
    from unigate.guardrails.rails import EndpointGuardrails

# Defaults of `settings:`, the one place they are written.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_HEALTH_FAILURES = 3  # consecutive retryable failures before a destination is skipped
DEFAULT_COOL_DOWN_SECONDS = 30.0  # how long it is skipped
MAX_DESTINATIONS = 10
MAX_FALLBACKS = 5
MAX_COMPAT_BYTES = 65536  # an endpoint's `compat` (another API's fields unigate only keeps)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def has_line_break(text: str) -> bool:
    """CR, LF or NUL: a header or environment value holding one would split or cut what it goes into."""
    return any(c in text for c in "\r\n\0")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


class ConfigError(Exception):
    pass


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


@dataclass(slots=True)
class Destination:
    provider: str
    model: str
    traffic_percentage: int = 100


@dataclass(slots=True)
class AgentPolicy:
    """How the gateway runs agent loops (hosted tools on the Responses API) for an endpoint."""

    allow_remote_mcp: bool = False  # MCP servers named by URL in the request
    max_tool_calls: int = 20  # tool calls per loop, unless the request asks for fewer
    timeout: float = 300.0  # seconds a whole loop may take
    max_tokens: int | None = None  # tokens (input + output, all model calls) per loop

    def is_default(self) -> bool:
        return self == AgentPolicy()

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if self.allow_remote_mcp:
            spec["allow_remote_mcp"] = True
        if self.max_tool_calls != 20:
            spec["max_tool_calls"] = self.max_tool_calls
        if self.timeout != 300.0:
            spec["timeout"] = f"{self.timeout:g}s"
        if self.max_tokens is not None:
            spec["max_tokens"] = self.max_tokens
        return spec


@dataclass(slots=True)
class EndpointConfig:
    name: str
    destinations: list[Destination]
    fallbacks: list[Destination] = field(default_factory=list)
    timeout: float | None = None  # seconds, whole request
    first_token_timeout: float | None = None  # seconds, streams
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    inference_table: dict[str, Any] = field(default_factory=dict)
    max_attempts: int | None = None  # destinations tried at most (default: primary + fallbacks)
    # A semantic parameter the provider cannot honour: "refuse" (400 naming it) or "drop"
    # (reported in x-unigate-dropped-parameters). Advisory ones are always dropped (ir.parameters).
    unsupported_parameters: str = "refuse"
    agent: AgentPolicy = field(default_factory=AgentPolicy)
    # checks on input and output (unigate.guardrails), compiled; None: the endpoint has none
    guardrails: EndpointGuardrails | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the operator's labels; unigate reads none
    # Fields of another gateway's management API that unigate keeps but does not act on, by API
    # (`databricks`: route_optimized, email_notifications, ...), so that API's reads return what
    # its clients wrote (Terraform plans no change). Opaque JSON, bounded in size.
    compat: dict[str, Any] = field(default_factory=dict)


UNSUPPORTED_PARAMETERS = ("refuse", "drop")


@dataclass(slots=True)
class McpServiceConfig:
    """An MCP server registered in the gateway: agent loops name it by `server_label`, MCP
    clients reach it at /ai-gateway/mcp/{name}; callers need CAN_USE on it."""

    name: str
    url: str | None  # streamable HTTP; or else a local process:
    headers: dict[str, str] = field(default_factory=dict)  # sent to the server only (write-only)
    description: str | None = None
    # requests = tool calls (token limits do not apply to tools), keys as on endpoints
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    inference_table: dict[str, Any] = field(default_factory=dict)  # payload logging of tool calls
    timeout: float = 60.0  # seconds, one call to the server
    # stdio: a process each worker starts, speaking MCP on its stdin and stdout
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # its only environment, with PATH (write-only)
    cwd: str | None = None


@dataclass(slots=True)
class TracingConfig:
    """`settings.tracing`: OpenTelemetry traces over OTLP/HTTP (off unless an endpoint is set)."""

    endpoint: str  # the collector: http://host:4318 (/v1/traces is added) or the full traces URL
    headers: dict[str, str] = field(default_factory=dict)  # sent to the collector (an API key...)
    sample_ratio: float = 1.0  # of the traces the gateway starts; a client's traceparent decides its own
    service_name: str = "unigate"


METRICS_ACCESS = ("token", "open")


@dataclass(slots=True)
class GatewayConfig:
    providers: dict[str, ProviderConfig]
    endpoints: dict[str, EndpointConfig]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    source: str = "<memory>"
    health_failures: int = DEFAULT_HEALTH_FAILURES
    health_cool_down: float = DEFAULT_COOL_DOWN_SECONDS
    mcp_services: dict[str, McpServiceConfig] = field(default_factory=dict)
    # whether the admin API (and so `unigate apply`) may register stdio MCP services: a command
    # the gateway runs. Off: only this file can (its author already runs commands on the host).
    mcp_stdio_from_api: bool = False
    # Redis for state several instances share (rate-limit counters); None: this host's memory
    redis: str | None = None
    rate_limit_failure: str = "open"  # Redis not answering: "open" lets requests through, "closed" 503s
    # Where state is kept: a PostgreSQL URL (shared by instances); None: UNIGATE_STORE_URL, else
    # the data directory's SQLite file (unigate.store.open)
    store: str | None = None
    # GET /metrics: "token" (an administrator's, or a member's of the metrics-readers group) or "open"
    metrics_access: str = "token"
    tracing: TracingConfig | None = None
    # the operator's prices (USD per million tokens), over the shipped catalogue (accounting.prices)
    prices: list[PriceEntry] = field(default_factory=list)
    # spend limits per endpoint, principal, group or tag (governance.budgets)
    budgets: list[Budget] = field(default_factory=list)
    # provider -> the environment variable its api_key is read from, when that came out empty
    # (`api_key: ${OPENAI_API_KEY:-}` unset): what the 502 and the start-up lines name
    key_env: dict[str, str] = field(default_factory=dict)
    # which secret references (api_key: env:NAME / file:/path) the admin API may write
    secret_refs: RefPolicy = field(default_factory=RefPolicy)
    # limits on a request's head: URL, header bytes, header lines (server.http.limits)
    request_limits: RequestLimits = field(default_factory=RequestLimits)


def load_config(path: str | Path) -> GatewayConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the configuration file: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_config(raw, str(path))


def parse_config(raw: Any, source: str = "<memory>") -> GatewayConfig:
    p = _Parser(source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        p.fail("", "the file must hold a mapping with 'providers' and 'endpoints'")
    p.no_unknown(raw, "", {"providers", "endpoints", "settings", "mcp_services", "redis", "store", "prices",
                           "budgets"})
    store_url = p.env(raw.get("store"), "store") or None
    if store_url is not None and not isinstance(store_url, str):
        p.fail("store", "must be a PostgreSQL URL such as postgresql://unigate@db:5432/unigate, or an SQLite file")
    redis_url = p.env(raw.get("redis"), "redis") or os.environ.get("UNIGATE_REDIS_URL") or None
    if redis_url is not None and (not isinstance(redis_url, str)
                                  or not redis_url.startswith(("redis://", "rediss://", "unix://"))):
        p.fail("redis", "must be a URL such as redis://127.0.0.1:6379/0 (rediss:// for TLS)")
    providers = p.named(raw, "providers", "a provider", p.provider)
    endpoints = p.named(raw, "endpoints", "an endpoint", lambda e, w: p.endpoint(e, w, providers))
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        p.fail("settings", "must be a mapping")
    p.no_unknown(settings, "settings", {"max_body_bytes", "passive_health", "mcp_stdio_from_api",
                                        "rate_limit_failure", "metrics", "tracing", "secret_refs",
                                        *REQUEST_LIMITS})
    ref_policy = parse_policy(settings.get("secret_refs"))
    if isinstance(ref_policy, str):
        p.fail("settings", f"secret_refs: {ref_policy}")
    failure = settings.get("rate_limit_failure", "open")
    if failure not in ("open", "closed"):
        p.fail("settings", f"rate_limit_failure: must be 'open' or 'closed', got {failure!r}")
    stdio_from_api = settings.get("mcp_stdio_from_api", False)
    if not isinstance(stdio_from_api, bool):
        p.fail("settings", "mcp_stdio_from_api: must be true or false")
    max_body = p.int_field(settings, "max_body_bytes", "settings", DEFAULT_MAX_BODY_BYTES, minimum=1)
    health = settings.get("passive_health") or {}
    if not isinstance(health, dict):
        p.fail("settings", "passive_health: must be a mapping such as {failures: 3, cool_down: 30s}")
    p.no_unknown(health, "settings.passive_health", {"failures", "cool_down"})
    failures = p.int_field(health, "failures", "settings.passive_health", DEFAULT_HEALTH_FAILURES, minimum=1)
    cool_down = p.duration(health, "cool_down", "settings.passive_health")
    services = p.named(raw, "mcp_services", "an MCP service", p.mcp_service)
    return GatewayConfig(providers, endpoints, max_body or DEFAULT_MAX_BODY_BYTES, source,
                         failures or DEFAULT_HEALTH_FAILURES,
                         DEFAULT_COOL_DOWN_SECONDS if cool_down is None else cool_down, services,
                         stdio_from_api, redis_url, failure, store_url,
                         p.metrics_access(settings.get("metrics")), p.tracing(settings.get("tracing")),
                         p.prices(raw), p.budgets(raw), p.key_env,
                         ref_policy if isinstance(ref_policy, RefPolicy) else RefPolicy(),
                         request_limits=parse_request_limits(settings, p.fail))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.key_env: dict[str, str] = {}  # see GatewayConfig.key_env

    def fail(self, where: str, message: str) -> None:
        at = f" {where}:" if where else ""
        raise ConfigError(f"{self.source}:{at} {message}")

    def env(self, value: Any, where: str) -> Any:
        if not isinstance(value, str) or "${" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            self.fail(where, f"environment variable {var} is not set")
            return ""

        return _ENV_REF.sub(sub, value)

    def named(self, raw: dict[str, Any], key: str, noun: str, parse: Callable[[Any, str], _Named]) -> dict[str, _Named]:
        """The list under `key`, each entry parsed, by name; a name given twice is an error."""
        out: dict[str, _Named] = {}
        for i, entry in enumerate(self.list_of(raw, key, "")):
            item = parse(entry, f"{key}[{i}]")
            if item.name in out:
                self.fail(f"{key}[{i}] ({item.name})", f"name: {noun} of this name is already defined")
            out[item.name] = item
        return out

    def no_unknown(self, d: dict[str, Any], where: str, known: set[str]) -> None:
        for key in d:
            if key not in known:
                self.fail(where, f"unknown field '{key}' (expected one of: {', '.join(sorted(known))})")

    def list_of(self, d: dict[str, Any], key: str, where: str) -> list[Any]:
        value = d.get(key) or []
        if not isinstance(value, list):
            self.fail(f"{where}{key}", "must be a list")
        return value

    def str_field(self, d: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
        value = self.env(d.get(key), f"{where}.{key}")
        if value is None or value == "":
            if required:
                self.fail(where, f"{key}: missing (required)")
            return None
        if not isinstance(value, str):
            self.fail(where, f"{key}: must be a string")
        return value

    def int_field(self, d: dict[str, Any], key: str, where: str, default: int | None,
                  minimum: int = 0, maximum: int | None = None) -> int | None:
        value = self.env(d.get(key), f"{where}.{key}")
        if value is None:
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(where, f"{key}: must be an integer, got {value!r}")
            return None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self.fail(where, f"{key}: must be {bound}, got {number}")
        return number

    def metrics_access(self, raw: Any) -> str:
        if raw is None:
            return "token"
        if not isinstance(raw, dict):
            self.fail("settings.metrics", "must be a mapping such as {access: open}")
        self.no_unknown(raw, "settings.metrics", {"access"})
        access = self.env(raw.get("access", "token"), "settings.metrics.access")
        if access not in METRICS_ACCESS:
            self.fail("settings.metrics", f"access: must be 'token' or 'open', got {access!r}")
        return str(access)

    def tracing(self, raw: Any) -> TracingConfig | None:
        where = "settings.tracing"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail(where, "must be a mapping such as {endpoint: http://127.0.0.1:4318}")
        self.no_unknown(raw, where, {"endpoint", "headers", "sample_ratio", "service_name"})
        endpoint = self.env(raw.get("endpoint"), f"{where}.endpoint")
        if not endpoint:  # `endpoint: ${OTEL_EXPORTER_OTLP_ENDPOINT:-}` unset: tracing stays off
            return None
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            self.fail(where, f"endpoint: must be an http:// or https:// URL, got {endpoint!r}")
        headers = self.string_map(raw, "headers", where)
        ratio = self.env(raw.get("sample_ratio", 1.0), f"{where}.sample_ratio")
        try:
            sample_ratio = float(ratio)
        except (TypeError, ValueError):
            sample_ratio = -1.0
        if not 0.0 <= sample_ratio <= 1.0:
            self.fail(where, f"sample_ratio: must be a number between 0 and 1, got {ratio!r}")
        name = self.env(raw.get("service_name", "unigate"), f"{where}.service_name")
        if not isinstance(name, str) or not name:
            self.fail(where, "service_name: must be a non-empty string")
        return TracingConfig(endpoint, headers, sample_ratio, name)

    def budgets(self, raw: dict[str, Any]) -> list[Budget]:
        """`budgets:` entries, checked by the budgets' own parser (the admin API uses it too)."""
        out: list[Budget] = []
        seen: set[str] = set()
        for i, entry in enumerate(self.list_of(raw, "budgets", "")):
            where = f"budgets[{i}]"
            entry = self._resolved(entry, where)
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name:
                where = f"{where} ({name})"
            try:
                budget = parse_budget(entry)
            except BudgetSpecError as e:
                self.fail(where, f"{e.field}: {e.message}" if e.field else e.message)
                continue
            if budget.name in seen:
                self.fail(where, "name: a budget of this name is already defined")
            seen.add(budget.name)
            out.append(budget)
        return out

    def _resolved(self, value: Any, where: str) -> Any:
        """`${VAR}` references resolved in every string of an entry (webhook URLs and headers)."""
        if isinstance(value, dict):
            return {k: self._resolved(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolved(v, where) for v in value]
        return self.env(value, where)

    def prices(self, raw: dict[str, Any]) -> list[PriceEntry]:
        """`prices:` entries; one (provider or type, model) given twice is an error."""
        entries: list[PriceEntry] = []
        seen: set[tuple[str | None, str | None, str]] = set()
        for i, entry in enumerate(self.list_of(raw, "prices", "")):
            price = self.price(entry, f"prices[{i}]")
            key = (price.provider, price.type, price.model)
            if key in seen:
                owner = f"provider {price.provider}" if price.provider else f"type {price.type}"
                self.fail(f"prices[{i}]", f"model: {owner} already has a price for model '{price.model}'")
            seen.add(key)
            entries.append(price)
        return entries

    def price(self, entry: Any, where: str) -> PriceEntry:
        if not isinstance(entry, dict):
            self.fail(where, "must be a mapping with provider (or type), model, input and output")
        model = self.str_field(entry, "model", where) or ""
        if ")" not in model:
            where = f"{where} ({model})"
        self.no_unknown(entry, where, {"provider", "type", "model", "input", "output", "cached_input",
                                       "cache_write"})
        provider = self.str_field(entry, "provider", where, required=False)
        ptype = self.str_field(entry, "type", where, required=False)
        if (provider is None) == (ptype is None):
            self.fail(where, "provider: give the provider's name, or type: a provider type (for every "
                             "provider of that type), not both")
        if ptype is not None and ptype not in PROVIDER_TYPES:
            self.fail(where, f"type: unknown provider type '{ptype}' (expected one of: {', '.join(PROVIDER_TYPES)})")
        values: dict[str, float | None] = {}
        for key in ("input", "output", "cached_input", "cache_write"):
            values[key] = self.usd(entry, key, where, required=key in ("input", "output"))
        return PriceEntry(model, Price(**values), provider, ptype)  # type: ignore[arg-type]

    def usd(self, d: dict[str, Any], key: str, where: str, required: bool) -> float | None:
        """A price: USD per million tokens, a number >= 0."""
        raw = d.get(key)
        value = self.env(raw, f"{where}.{key}")
        if value is None or value == "":
            if required:
                self.fail(where, f"{key}: missing (required; USD per million tokens)")
            return None
        if isinstance(value, str) and isinstance(raw, str) and "${" in raw:
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
            self.fail(where, f"{key}: must be a number >= 0 (USD per million tokens), got {value!r}")
        return float(value)

    def duration(self, d: dict[str, Any], key: str, where: str) -> float | None:
        value = self.env(d.get(key), f"{where}.{key}")
        if value is None:
            return None
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", str(value))
        if not m or float(m.group(1)) <= 0:
            self.fail(where, f"{key}: must be a positive duration such as 500ms, 5s or 2m, got {value!r}")
            return None
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
        return float(m.group(1)) * scale

    def provider(self, entry: Any, where: str) -> ProviderConfig:
        if not isinstance(entry, dict):
            self.fail(where, "must be a mapping with name, type, ...")
        name = self.str_field(entry, "name", where) or ""
        where = f"{where} ({name})"
        self.no_unknown(entry, where, {"name", "type", "base_url", "api_key", "api_version",
                                       "supports_responses", "headers"}
                        | set(getattr(PROVIDER_TYPES.get(str(entry.get("type"))), "OPTIONS", ())))
        if not _NAME.match(name):
            self.fail(where, "name: use letters, digits and . _ : / - (at most 128)")
        ptype = self.str_field(entry, "type", where) or ""
        if ptype not in PROVIDER_TYPES:
            self.fail(where, f"type: unknown provider type '{ptype}' (expected one of: {', '.join(PROVIDER_TYPES)})")
        kind = PROVIDER_TYPES[ptype]
        base_url = self.str_field(entry, "base_url", where, required=False) or kind.DEFAULT_BASE_URL
        if not base_url:
            self.fail(where, f"base_url: missing (required for type {ptype})")
        assert base_url is not None
        if not re.match(r"^https?://[^/]+", base_url):
            self.fail(where, f"base_url: must be an http(s) URL, got {base_url!r}")
        api_key = self.str_field(entry, "api_key", where, required=False) or ""
        if is_ref(api_key) and ref_problem(api_key):
            self.fail(where, f"api_key: {ref_problem(api_key)}")
        if not api_key and isinstance(entry.get("api_key"), str):
            refs = [m.group(1) for m in _ENV_REF.finditer(entry["api_key"])]
            if refs:  # the first variable that came out empty is the one to set
                self.key_env[name] = next((v for v in refs if not os.environ.get(v)), refs[0])
        api_version = self.str_field(entry, "api_version", where, required=False) or kind.DEFAULT_API_VERSION
        supports_responses = entry.get("supports_responses", kind.RESPONSES_BY_DEFAULT)
        if not isinstance(supports_responses, bool):
            self.fail(where, "supports_responses: must be true or false")
        headers = self.string_map(entry, "headers", where)
        options = {k: entry[k] for k in kind.OPTIONS if k in entry}  # the type's own settings
        if (why := kind.options_problem(options)) is not None:
            self.fail(where, why)
        return ProviderConfig(name, ptype, base_url.rstrip("/"), api_key, api_version,
                              supports_responses, headers, options)

    def destination(self, entry: Any, where: str, providers: dict[str, ProviderConfig],
                    weighted: bool) -> Destination:
        if not isinstance(entry, dict):
            self.fail(where, "must be a mapping with provider and model")
        known = {"provider", "model", "traffic_percentage"} if weighted else {"provider", "model"}
        self.no_unknown(entry, where, known)
        provider = self.str_field(entry, "provider", where) or ""
        if provider not in providers:
            self.fail(where, f"provider: unknown provider '{provider}'")
        model = self.str_field(entry, "model", where) or ""
        pct = self.int_field(entry, "traffic_percentage", where, None, 0, 100) if weighted else None
        return Destination(provider, model, 100 if pct is None else pct)

    def endpoint(self, entry: Any, where: str, providers: dict[str, ProviderConfig]) -> EndpointConfig:
        if not isinstance(entry, dict):
            self.fail(where, "must be a mapping with name and destinations")
        name = self.str_field(entry, "name", where) or ""
        where = f"{where} ({name})"
        self.no_unknown(entry, where, {"name", "destinations", "fallbacks", "timeout",
                                       "first_token_timeout", "rate_limits", "inference_table",
                                       "max_attempts", "unsupported_parameters", "agent", "guardrails",
                                       "guardrail_response", "guardrail_window", "description", "tags",
                                       "compat"})
        if not _NAME.match(name):
            self.fail(where, "name: use letters, digits and . _ : / - (at most 128)")
        raw_dests = self.list_of(entry, "destinations", f"{where}.")
        if not raw_dests:
            self.fail(where, "destinations: at least one destination is required")
        if len(raw_dests) > MAX_DESTINATIONS:
            self.fail(where, f"destinations: at most {MAX_DESTINATIONS} are allowed")
        explicit = [isinstance(d, dict) and "traffic_percentage" in d for d in raw_dests]
        dests = [self.destination(d, f"{where}.destinations[{i}]", providers, True)
                 for i, d in enumerate(raw_dests)]
        if len(dests) > 1 and not all(explicit):
            self.fail(where, "destinations: give every destination a traffic_percentage when there are several")
        if sum(d.traffic_percentage for d in dests) != 100:
            total = sum(d.traffic_percentage for d in dests)
            self.fail(where, f"destinations: traffic_percentage must sum to 100, got {total}")
        raw_fallbacks = self.list_of(entry, "fallbacks", f"{where}.")
        if len(raw_fallbacks) > MAX_FALLBACKS:
            self.fail(where, f"fallbacks: at most {MAX_FALLBACKS} are allowed")
        fallbacks = [self.destination(d, f"{where}.fallbacks[{i}]", providers, False)
                     for i, d in enumerate(raw_fallbacks)]
        limits = self.rate_limits(entry, where)
        table = self.inference_table(entry.get("inference_table"), where)
        max_attempts = self.int_field(entry, "max_attempts", where, None, 1, 1 + MAX_FALLBACKS)
        policy = self.str_field(entry, "unsupported_parameters", where, required=False) or "refuse"
        if policy not in UNSUPPORTED_PARAMETERS:
            self.fail(where, f"unsupported_parameters: must be 'refuse' or 'drop', got {policy!r}")
        return EndpointConfig(name, dests, fallbacks, self.duration(entry, "timeout", where),
                              self.duration(entry, "first_token_timeout", where), limits, table,
                              max_attempts, policy, self.agent(entry.get("agent"), f"{where}.agent"),
                              self.guardrails(entry, where), self.str_field(entry, "description", where, False),
                              self.string_map(entry, "tags", where), self.compat(entry.get("compat"), where))

    def compat(self, raw: Any, where: str) -> dict[str, Any]:
        """`compat: {api: {...}}`: JSON objects kept as they are (see EndpointConfig.compat)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in raw.items()):
            self.fail(where, "compat: must be a mapping of API names to mappings")
        try:
            size = len(orjson.dumps(raw))
        except TypeError:
            self.fail(where, "compat: must hold JSON values only")
        if size > MAX_COMPAT_BYTES:
            self.fail(where, f"compat: at most {MAX_COMPAT_BYTES} bytes of JSON, got {size}")
        return raw

    def guardrails(self, entry: dict[str, Any], where: str) -> EndpointGuardrails | None:
        """Checked by the guardrails' own parser and compiled here, once per configuration."""
        try:
            specs = parse_guardrails(entry.get("guardrails"))
        except GuardrailSpecError as e:
            path, _, last = e.where.partition(" ")
            self.fail(f"{where}.{path}", e.message)
        response = entry.get("guardrail_response", "error")
        if response not in BLOCK_RESPONSES:
            self.fail(where, f"guardrail_response: must be 'error' or 'content_filter', got {response!r}")
        window = self.int_field(entry, "guardrail_window", where, DEFAULT_WINDOW, 16, 65536) or DEFAULT_WINDOW
        if not specs:
            return None
        from unigate.guardrails.rails import EndpointGuardrails  # the detectors, only when used
        try:
            return EndpointGuardrails(specs, response, window)
        except GuardrailSpecError as e:
            path, _, _ = e.where.partition(" ")
            self.fail(f"{where}.{path}", e.message)
            return None

    def mcp_service(self, entry: Any, where: str) -> McpServiceConfig:
        if not isinstance(entry, dict):
            self.fail(where, "must be a mapping with name and url (or command)")
        name = self.str_field(entry, "name", where) or ""
        where = f"{where} ({name})"
        self.no_unknown(entry, where, {"name", "url", "headers", "description", "command", "args", "env",
                                       "cwd", "rate_limits", "inference_table", "timeout"})
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", name):
            self.fail(where, "name: use letters, digits and . _ - (at most 64)")
        url = self.str_field(entry, "url", where, required=False)
        command = self.str_field(entry, "command", where, required=False)
        if (url is None) == (command is None):
            self.fail(where, "url: give the url of a streamable HTTP server, or the command of a local "
                             "(stdio) one, not both")
        if url is not None and not url.startswith(("http://", "https://")):
            self.fail(where, f"url: expected an http:// or https:// URL, got {url!r}")
        args = entry.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            self.fail(where, "args: must be a list of strings")
        if command is None and ("args" in entry or "env" in entry or "cwd" in entry):
            self.fail(where, "args: args, env and cwd belong to a command (stdio) service")
        if command is not None and "headers" in entry:
            self.fail(where, "headers: a command (stdio) service takes env, not headers")
        limits = self.rate_limits(entry, where)
        if any("tokens" in lim for lim in limits):
            self.fail(where, "rate_limits: an MCP service counts requests (tool calls), not tokens")
        return McpServiceConfig(name, url, self.string_map(entry, "headers", where),
                                self.str_field(entry, "description", where, required=False),
                                limits, self.inference_table(entry.get("inference_table"), where),
                                self.duration(entry, "timeout", where) or 60.0, command,
                                [self.env(a, f"{where}.args") for a in args], self.string_map(entry, "env", where),
                                self.str_field(entry, "cwd", where, required=False))

    def string_map(self, entry: dict[str, Any], key: str, where: str) -> dict[str, str]:
        """A mapping of names to strings (headers, environment), `${VAR}` resolved."""
        raw = self.env(entry.get(key), f"{where}.{key}") or {}
        if not isinstance(raw, dict):
            self.fail(where, f"{key}: must be a mapping of names to values")
        out: dict[str, str] = {}
        for name, value in raw.items():
            value = self.env(value, f"{where}.{key}.{name}")
            if isinstance(value, (int, float, datetime.date)) and not isinstance(value, bool):
                value = str(value)  # YAML reads `X-Version: 2` and `anthropic-version: 2023-06-01` as such
            if not isinstance(name, str) or not isinstance(value, str) or has_line_break(name + value):
                self.fail(where, f"{key}: {name!r} must be a string without line breaks (quote true/false)")
            out[name] = value
        return out

    def agent(self, raw: Any, where: str) -> AgentPolicy:
        if raw is None:
            return AgentPolicy()
        if not isinstance(raw, dict):
            self.fail(where, "must be a mapping (allow_remote_mcp, max_tool_calls, timeout, max_tokens)")
        self.no_unknown(raw, where, {"allow_remote_mcp", "max_tool_calls", "timeout", "max_tokens"})
        allow = self.env(raw.get("allow_remote_mcp"), f"{where}.allow_remote_mcp")
        if isinstance(allow, str) and allow.lower() in ("true", "false"):
            allow = allow.lower() == "true"
        if allow is not None and not isinstance(allow, bool):
            self.fail(where, f"allow_remote_mcp: must be true or false, got {allow!r}")
        return AgentPolicy(
            allow_remote_mcp=bool(allow),
            max_tool_calls=self.int_field(raw, "max_tool_calls", where, 20, 0, 1000) or 0,
            timeout=self.duration(raw, "timeout", where) or 300.0,
            max_tokens=self.int_field(raw, "max_tokens", where, None, 1))

    def rate_limits(self, entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
        """Checked by the rate limiter's own parser, so the file, the admin API and
        `unigate apply` refuse the same mistakes; stored in its normalised shape."""
        raw = self.list_of(entry, "rate_limits", f"{where}.")
        try:
            return [limit.to_dict() for limit in parse_rate_limits(raw, "rate_limits")]
        except RateLimitSpecError as e:
            path, _, last = e.field.rpartition(".")
            if path and re.fullmatch(r"[a-z_]+", last):
                self.fail(f"{where}.{path}", f"{last}: {e.message}")
            self.fail(f"{where}.{e.field}", e.message)
            return []

    def inference_table(self, table: Any, where: str) -> dict[str, Any]:
        """`{enabled, retention_days?}`, checked by the payload log's own rule."""
        if table is None:
            return {}
        problem = inference_table_error(table)
        if problem:
            path, _, message = problem.partition(": ")
            parent, _, last = path.rpartition(".")
            self.fail(f"{where}.{parent}" if parent else where, f"{last}: {message}")
        return dict(table)
