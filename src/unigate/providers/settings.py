"""A provider as configured (the file's, the admin API's and the store's entry): the data the
provider classes in `providers/base.py` are built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ProviderConfig:
    name: str
    type: str
    base_url: str
    api_key: str = field(repr=False, default="")
    api_version: str | None = None  # azure_openai
    supports_responses: bool = False  # openai_compatible servers that also serve /responses
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # the type's own settings (Provider.OPTIONS)
