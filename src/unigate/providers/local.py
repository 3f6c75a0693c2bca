"""The `local` provider type: a small model run on this machine's CPU by unigate itself
(unigate.local), served on loopback by a model server that `unigate serve` starts and stops
(unigate.local.process). To the gateway it is an OpenAI-compatible server like any other."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from unigate.providers.base import OpenAIProvider
from unigate.providers.settings import ProviderConfig

EXTRA_MODULES = ("numpy", "gguf", "tokenizers", "jinja2")
INSTALL_HINT = "pip install 'unigate[local]'"


def missing_extra() -> str | None:
    """The first module of the `local` extra that is not installed, or None."""
    return next((m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None), None)


def setup_problem(cfg: ProviderConfig) -> str | None:
    """Why this machine cannot run `cfg`'s model (said at start and in the 502), or None."""
    module = missing_extra()
    if module is not None:
        return (f"provider '{cfg.name}' runs a local model, which needs the `local` extra "
                f"(module {module} is missing): {INSTALL_HINT}")
    path = cfg.options.get("model_path")
    if path and not Path(path).is_file():
        return f"provider '{cfg.name}': model_path {path} is not a file"
    folder = cfg.options.get("embedding_model_path")
    if folder and not (Path(folder) / "model.safetensors").is_file():
        return f"provider '{cfg.name}': embedding_model_path {folder} has no model.safetensors"
    return None


class LocalProvider(OpenAIProvider):
    """Chat completions and embeddings, as an OpenAI-compatible server of the operator's own."""

    compat = True
    # where the managed model server listens (base_url chooses another loopback port)
    DEFAULT_BASE_URL = "http://127.0.0.1:8091/v1"
    RESPONSES_BY_DEFAULT = False
    GENAI_NAME = None
    KEY_HEADER = None
    OPTIONS = {
        "model_path": {"type": "string", "description": "a GGUF file (default: SmolLM2-135M-Instruct)"},
        "embedding_model_path": {"type": "string",
                                 "description": "a BERT sentence-transformers folder (default: all-MiniLM-L6-v2)"},
        "threads": {"type": "integer", "minimum": 1, "maximum": 256, "description": "BLAS threads (default 1)"},
        "context_size": {"type": "integer", "minimum": 64, "maximum": 131072,
                         "description": "tokens of prompt and answer (default 2048)"},
    }

    def __init__(self, cfg: ProviderConfig) -> None:
        super().__init__(cfg)
        self._setup = setup_problem(cfg)

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        path = options.get("model_path")
        if path is not None and (not isinstance(path, str) or not path.endswith(".gguf")):
            return "model_path: must be the path of a .gguf file"
        folder = options.get("embedding_model_path")
        if folder is not None and (not isinstance(folder, str) or not folder):
            return "embedding_model_path: must be the path of a sentence-transformers folder"
        for key, lo, hi in (("threads", 1, 256), ("context_size", 64, 131072)):
            v = options.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
                return f"{key}: must be an integer from {lo} to {hi}"
        return None

    # A model this machine cannot run is skipped like a provider without its key: the 502
    # says what to install (server.attempts reads `missing_key`).
    @property  # type: ignore[override]
    def missing_key(self) -> str | None:
        return self._setup or self._missing

    @missing_key.setter
    def missing_key(self, why: str | None) -> None:
        self._missing = why

    _missing: str | None = None
