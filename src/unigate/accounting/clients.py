"""Who sent a request: the client program and version (from the User-Agent) and the client's
session id (from a session header), for the usage row and session affinity.

The User-Agent is parsed in the usage writer's thread, not on the request path; the session
header is one lookup per name on the request path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

# Known clients, tried in order: a pattern over the User-Agent (group 1: the version) and the
# name the usage row shows. Anything else gets its first `product/version` token.
KNOWN_CLIENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), name) for pattern, name in (
        (r"^claude-cli/([\w.+-]+)", "claude-code"),
        (r"^codex_(?:exec|cli_rs|tui|vscode)/([\w.+-]+)", "codex"),
        (r"^GeminiCLI(?:-[\w]+)?/([\w.+-]+)", "gemini-cli"),
        (r"^opencode/([\w.+-]+)", "opencode"),
        (r"^OpenAI/Python ([\w.+-]+)", "openai-python"),
        (r"^OpenAI/JS ([\w.+-]+)", "openai-node"),
        (r"^Anthropic/Python ([\w.+-]+)", "anthropic-python"),
        (r"^Anthropic/JS ([\w.+-]+)", "anthropic-node"),
        (r"\bgoogle-genai-sdk/([\w.+-]+)", "google-genai"),
        (r"\bai-sdk/[\w-]+/([\w.+-]+)", "vercel-ai-sdk"),
        (r"\blitellm/([\w.+-]+)", "litellm"),
    ))
_PRODUCT = re.compile(r"^\s*([A-Za-z][\w.+-]*(?:/[A-Za-z][\w.+-]*)*)[/ ]v?(\d[\w.+-]*)")
MAX_NAME_CHARS = 64
MAX_VERSION_CHARS = 32

# Headers that carry a client's session id, first match wins: our own, then what coding agents
# send (Claude Code: X-Claude-Code-Session-Id; Codex: session-id). The usage row records it and
# routing keeps a session on one destination (routing.plan).
SESSION_HEADERS = ("x-unigate-session-id", "x-session-id", "x-claude-code-session-id", "session-id",
                   "session_id", "x-gemini-cli-session-id")
MAX_SESSION_CHARS = 128


@lru_cache(maxsize=1024)
def identify_client(user_agent: str | None) -> tuple[str | None, str | None]:
    """(client name, version) for a User-Agent; (None, None) when it names nothing useful."""
    if not user_agent:
        return None, None
    for pattern, name in KNOWN_CLIENTS:
        m = pattern.search(user_agent)
        if m:
            return name, m.group(1)[:MAX_VERSION_CHARS]
    m = _PRODUCT.match(user_agent)
    if m:
        return m.group(1).lower()[:MAX_NAME_CHARS], m.group(2)[:MAX_VERSION_CHARS]
    return None, None


def session_id(headers: Mapping[str, str]) -> str | None:
    """The client's session id, if it sent one (printable, bounded: it lands in every row)."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            value = value.strip()[:MAX_SESSION_CHARS]
            return value if value.isprintable() else None
    return None
