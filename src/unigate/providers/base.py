"""Provider adapters: URLs, authentication headers and declared capabilities per type."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from unigate.providers.secret_refs import SecretRef, is_ref
from unigate.providers.settings import ProviderConfig

# Wire-format names (see unigate.codecs.registry).
OPENAI_CHAT = "openai_chat"
OPENAI_RESPONSES = "openai_responses"
ANTHROPIC = "anthropic"
GEMINI = "gemini"
OPENAI_EMBEDDINGS = "openai_embeddings"
GEMINI_EMBED = "gemini_embed"


class Provider:
    """Base: an OpenAI-style provider. Subclasses override what differs."""

    # Generation wire formats this provider accepts, preferred first.
    formats: tuple[str, ...] = (OPENAI_CHAT,)
    embed_format: str | None = OPENAI_EMBEDDINGS
    count_format: str | None = None  # a token-counting API in this wire format, if any
    compat: bool = False  # speaks only the widely accepted subset of its format
    # Client headers worth passing on when the client speaks this provider's own format.
    forward_headers: tuple[str, ...] = ()
    # Configuration defaults of the type: where it lives (None: base_url is required), the
    # API version it needs, whether it serves the Responses API unless told otherwise.
    DEFAULT_BASE_URL: str | None = None
    DEFAULT_API_VERSION: str | None = None
    RESPONSES_BY_DEFAULT = False
    # gen_ai.provider.name in traces (OpenTelemetry's well-known values); None: the type's name
    GENAI_NAME: str | None = None
    # The header that carries the API key when the type cannot work without one (a request
    # without it is refused before it goes upstream, see routing.keys); None: a key is optional.
    KEY_HEADER: str | None = None
    # Why this provider cannot authenticate (no key where its type needs one), decided when the
    # configuration is loaded (routing.keys); routing skips it, and the client's 502 says this.
    _missing_key: str | None = None

    # Settings of the type's own in the configuration, besides name, type, base_url...: their
    # names, and a check of their values (unigate.config; None: they are fine).
    # the type's own settings beside the common ones: name -> JSON schema (the admin API's OpenAPI
    # document publishes them; options_problem checks the values)
    OPTIONS: dict[str, dict[str, Any]] = {}

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        return None

    def __init__(self, cfg: ProviderConfig) -> None:
        self.name = cfg.name
        self.type = cfg.type
        self.base_url = cfg.base_url
        # api_key: env:NAME / file:/path is read at use (secret_refs), the rest is the key itself
        self._ref = SecretRef(cfg.api_key) if is_ref(cfg.api_key) else None
        self.api_key = self._ref.value() if self._ref is not None else cfg.api_key
        self.cfg = cfg
        self._auth = self.auth_headers()
        self._auth.update(cfg.headers)

    @property
    def missing_key(self) -> str | None:
        """Why this provider cannot authenticate: a reference that does not resolve now, else
        what routing.keys decided when the configuration was loaded."""
        if self._ref is not None:
            return self._ref.problem(self.name)
        return self._missing_key

    @missing_key.setter
    def missing_key(self, why: str | None) -> None:
        self._missing_key = why

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def headers(self) -> dict[str, str]:
        """Headers for every upstream request (a fresh dict the caller may extend)."""
        if self._ref is not None and self._ref.value() != self.api_key:  # the file changed
            self.api_key = self._ref.value()
            self._auth = self.auth_headers()
            self._auth.update(self.cfg.headers)
        return dict(self._auth)

    def generate_url(self, fmt: str, model: str, stream: bool) -> str:
        path = "/responses" if fmt == OPENAI_RESPONSES else "/chat/completions"
        return self.base_url + path

    def embed_url(self, model: str) -> str:
        return self.base_url + "/embeddings"

    def count_url(self, model: str) -> str:
        raise NotImplementedError


class OpenAIProvider(Provider):
    forward_headers = ("openai-beta",)
    DEFAULT_BASE_URL: str | None = "https://api.openai.com/v1"
    RESPONSES_BY_DEFAULT = True
    GENAI_NAME: str | None = "openai"
    KEY_HEADER: str | None = "Authorization"

    def __init__(self, cfg: ProviderConfig) -> None:
        super().__init__(cfg)
        if cfg.supports_responses:
            self.formats = (OPENAI_CHAT, OPENAI_RESPONSES)


class OpenAICompatibleProvider(OpenAIProvider):
    """vLLM, llama.cpp's server, Ollama...: chat completions and embeddings; Responses only
    when the configuration says the server has it."""

    compat = True
    DEFAULT_BASE_URL = None  # a server of the operator's own
    RESPONSES_BY_DEFAULT = False
    GENAI_NAME = None  # whatever it runs: named by its type
    KEY_HEADER = None  # servers of the operator's own often take no key


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: the model names a deployment; the key goes in `api-key`."""

    DEFAULT_BASE_URL = None  # the resource's own https://NAME.openai.azure.com
    DEFAULT_API_VERSION = "2024-10-21"
    RESPONSES_BY_DEFAULT = False
    GENAI_NAME = "azure.ai.openai"
    KEY_HEADER = "api-key"  # or an Entra ID token in `headers: {Authorization: ...}`

    def auth_headers(self) -> dict[str, str]:
        return {"api-key": self.api_key} if self.api_key else {}

    def _deployment(self, model: str, op: str) -> str:
        return (f"{self.base_url}/openai/deployments/{quote(model, safe='')}/{op}"
                f"?api-version={self.cfg.api_version}")

    def generate_url(self, fmt: str, model: str, stream: bool) -> str:
        if fmt == OPENAI_RESPONSES:  # the Responses API lives on Azure's v1 surface
            return f"{self.base_url}/openai/v1/responses"
        return self._deployment(model, "chat/completions")

    def embed_url(self, model: str) -> str:
        return self._deployment(model, "embeddings")


class AnthropicProvider(Provider):
    formats = (ANTHROPIC,)
    embed_format = None
    count_format = ANTHROPIC
    forward_headers = ("anthropic-version", "anthropic-beta")
    API_VERSION = "2023-06-01"
    DEFAULT_BASE_URL = "https://api.anthropic.com"
    GENAI_NAME = "anthropic"
    KEY_HEADER = "x-api-key"

    def auth_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def generate_url(self, fmt: str, model: str, stream: bool) -> str:
        return self.base_url + "/v1/messages"

    def count_url(self, model: str) -> str:
        return self.base_url + "/v1/messages/count_tokens"


class GeminiProvider(Provider):
    formats = (GEMINI,)
    embed_format = GEMINI_EMBED
    count_format = GEMINI
    DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
    GENAI_NAME = "gcp.gemini"
    KEY_HEADER = "x-goog-api-key"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    def _model_url(self, model: str, method: str) -> str:
        return f"{self.base_url}/v1beta/models/{quote(model, safe='')}:{method}"

    def generate_url(self, fmt: str, model: str, stream: bool) -> str:
        if stream:  # always SSE upstream: one decoder, usage read per event
            return self._model_url(model, "streamGenerateContent") + "?alt=sse"
        return self._model_url(model, "generateContent")

    def embed_url(self, model: str) -> str:
        return self._model_url(model, "batchEmbedContents")

    def count_url(self, model: str) -> str:
        return self._model_url(model, "countTokens")


PROVIDER_TYPES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "azure_openai": AzureOpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
}


def build_provider(cfg: ProviderConfig) -> Provider:
    return PROVIDER_TYPES[cfg.type](cfg)
