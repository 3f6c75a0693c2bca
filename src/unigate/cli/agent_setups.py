"""What each coding agent needs to talk to the gateway: the files `agents configure` writes
(merged into the user's own) and the environment `agents run` starts it with.

Surfaces: Claude Code speaks Anthropic Messages (/anthropic), Codex the Responses API
(/codex/v1), Gemini CLI generateContent (/gemini), opencode chat completions (/openai/v1). The
endpoint name is the model name everywhere, so every model slot of an agent points at it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unigate.cli.agent_files import dump_json, dump_toml, merge_dotenv, read_json, read_toml, section


@dataclass(frozen=True)
class Target:
    url: str  # gateway base, no trailing slash
    endpoint: str
    token: str


@dataclass(frozen=True)
class Planned:
    path: Path
    text: str
    secret: bool  # holds a token: 0600


# argv, environment to set, environment variables to drop
Launch = tuple[list[str], dict[str, str], set[str]]


@dataclass(frozen=True)
class AgentSetup:
    title: str
    executable: str
    files: str
    configure: Callable[[Target], list[Planned]]
    run: Callable[[Target, str, list[str], Path], Launch]


def helper_argv(url: str) -> list[str]:
    """`unigate auth token` by the interpreter running now, so the helper works outside a venv."""
    return [sys.executable, "-m", "unigate.cli", "auth", "token", "--url", url]


def _home() -> Path:
    return Path.home()


# --- Claude Code -----------------------------------------------------------------------------

def claude_env(t: Target) -> dict[str, str]:
    model = t.endpoint
    return {
        "ANTHROPIC_BASE_URL": f"{t.url}/ai-gateway/anthropic",
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
        # nothing but model calls leaves the machine, and those go to the gateway
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }


# credentials that would win over apiKeyHelper (and belong to some other service)
CLAUDE_STALE_KEYS = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")


def claude_settings_path() -> Path:
    return Path(os.environ.get("CLAUDE_CONFIG_DIR") or _home() / ".claude") / "settings.json"


def configure_claude(t: Target) -> list[Planned]:
    path = claude_settings_path()
    data = read_json(path)
    data["apiKeyHelper"] = shlex.join(helper_argv(t.url))
    env = section(data, "env")
    for key in CLAUDE_STALE_KEYS:
        env.pop(key, None)
    env.update(claude_env(t))
    return [Planned(path, dump_json(data), secret=False)]


def run_claude(t: Target, exe: str, args: list[str], tmp: Path) -> Launch:
    env = claude_env(t)
    # --settings outranks ~/.claude/settings.json, whose env (from an earlier configure) would
    # otherwise win over ours; the token stays out of argv, in the environment only.
    argv = [exe, "--settings", json.dumps({"env": env}), *args]
    return argv, {**env, "ANTHROPIC_AUTH_TOKEN": t.token}, {"ANTHROPIC_API_KEY"}


# --- Codex CLI -------------------------------------------------------------------------------

def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or _home() / ".codex")


def codex_provider(t: Target, auth: dict[str, Any]) -> dict[str, Any]:
    return {"name": "unigate", "base_url": f"{t.url}/ai-gateway/codex/v1", "wire_api": "responses", **auth}


def _codex_config(t: Target, source: Path, auth: dict[str, Any]) -> str:
    data = read_toml(source)
    data["model"] = t.endpoint
    data["model_provider"] = "unigate"
    section(data, "model_providers")["unigate"] = codex_provider(t, auth)
    return dump_toml(data)


def configure_codex(t: Target) -> list[Planned]:
    path = codex_home() / "config.toml"
    helper = helper_argv(t.url)
    # Codex runs the command for a bearer token and runs it again before it gets stale
    auth = {"auth": {"command": helper[0], "args": helper[1:]}}
    return [Planned(path, _codex_config(t, path, auth), secret=False)]


def run_codex(t: Target, exe: str, args: list[str], tmp: Path) -> Launch:
    # A throwaway CODEX_HOME holding the user's config plus ours; the token comes by env_key.
    home = tmp / "codex-home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        _codex_config(t, codex_home() / "config.toml", {"env_key": "UNIGATE_TOKEN"}))
    return [exe, *args], {"CODEX_HOME": str(home), "UNIGATE_TOKEN": t.token}, set()


# --- Gemini CLI ------------------------------------------------------------------------------

def gemini_dir() -> Path:
    return Path(os.environ.get("GEMINI_CLI_HOME") or _home()) / ".gemini"


def gemini_env(t: Target) -> dict[str, str]:
    return {"GOOGLE_GEMINI_BASE_URL": f"{t.url}/ai-gateway/gemini", "GEMINI_API_KEY": t.token,
            "GEMINI_MODEL": t.endpoint}


def _gemini_settings(source: Path) -> str:
    data = read_json(source)
    section(data, "security", "auth")["selectedType"] = "gemini-api-key"
    return dump_json(data)


def configure_gemini(t: Target) -> list[Planned]:
    d = gemini_dir()
    env_path = d / ".env"
    old_env = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    return [Planned(env_path, merge_dotenv(old_env, gemini_env(t)), secret=True),
            Planned(d / "settings.json", _gemini_settings(d / "settings.json"), secret=False)]


def run_gemini(t: Target, exe: str, args: list[str], tmp: Path) -> Launch:
    # GEMINI_CLI_HOME stands in for the home directory: the user's settings with our auth type
    # (theirs may select a Google login, which wins over any environment variable).
    d = tmp / ".gemini"
    d.mkdir(mode=0o700)
    (d / "settings.json").write_text(_gemini_settings(gemini_dir() / "settings.json"))
    trusted = gemini_dir() / "trustedFolders.json"
    if trusted.exists():
        shutil.copyfile(trusted, d / "trustedFolders.json")
    return [exe, *args], {"GEMINI_CLI_HOME": str(tmp), **gemini_env(t)}, set()


# --- opencode --------------------------------------------------------------------------------

def opencode_config_path() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / "opencode" / "opencode.json"


def _opencode_merge(data: dict[str, Any], t: Target, api_key: str) -> dict[str, Any]:
    data.setdefault("$schema", "https://opencode.ai/config.json")
    provider = section(data, "provider", "unigate")
    provider.update({"npm": "@ai-sdk/openai-compatible", "name": "Unigate",
                     "options": {"baseURL": f"{t.url}/ai-gateway/openai/v1", "apiKey": api_key}})
    section(provider, "models").setdefault(t.endpoint, {"name": t.endpoint})
    data["model"] = data["small_model"] = f"unigate/{t.endpoint}"
    return data


def configure_opencode(t: Target) -> list[Planned]:
    path = opencode_config_path()
    return [Planned(path, dump_json(_opencode_merge(read_json(path), t, t.token)), secret=True)]


def run_opencode(t: Target, exe: str, args: list[str], tmp: Path) -> Launch:
    # OPENCODE_CONFIG_CONTENT is merged over the user's files; the token is substituted from env.
    content = _opencode_merge({}, t, "{env:UNIGATE_TOKEN}")
    return [exe, *args], {"OPENCODE_CONFIG_CONTENT": json.dumps(content), "UNIGATE_TOKEN": t.token}, set()


AGENTS: dict[str, AgentSetup] = {
    "claude": AgentSetup("Claude Code", "claude", "~/.claude/settings.json", configure_claude, run_claude),
    "codex": AgentSetup("Codex CLI", "codex", "~/.codex/config.toml", configure_codex, run_codex),
    "gemini": AgentSetup("Gemini CLI", "gemini", "~/.gemini/.env and settings.json", configure_gemini, run_gemini),
    "opencode": AgentSetup("opencode", "opencode", "~/.config/opencode/opencode.json",
                           configure_opencode, run_opencode),
}
