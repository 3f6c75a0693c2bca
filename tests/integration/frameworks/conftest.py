"""Settings for the framework tests: nothing may reach the internet at run time."""

from __future__ import annotations

import os

# LiteLLM fetches its model cost map from GitHub on import unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
