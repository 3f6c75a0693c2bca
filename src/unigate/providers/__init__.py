"""Upstream providers: where a request goes and how it authenticates. What a provider can do
is declared as data (`Provider.formats`, `embed_format`, `count_format`, `compat`), so
generic code asks capabilities and never branches on a provider's name or type."""

from unigate.providers.base import PROVIDER_TYPES, Provider, build_provider
from unigate.providers.local import LocalProvider
from unigate.providers.settings import ProviderConfig

PROVIDER_TYPES["local"] = LocalProvider  # its own module: it knows the `local` extra

__all__ = ["PROVIDER_TYPES", "Provider", "ProviderConfig", "build_provider"]
