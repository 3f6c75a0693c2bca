"""Client name, version and session id for the usage row (accounting/clients.py)."""

from __future__ import annotations

import pytest

from unigate.accounting.clients import MAX_SESSION_CHARS, identify_client, session_id


@pytest.mark.parametrize(("user_agent", "expected"), [
    # what the pinned agents and SDKs send (captured from real runs)
    ("claude-cli/2.1.332 (external, sdk-cli)", ("claude-code", "2.1.332")),
    ("codex_exec/0.171.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.171.0)", ("codex", "0.171.0")),
    ("codex_cli_rs/0.171.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5.0", ("codex", "0.171.0")),
    ("GeminiCLI-tui/0.61.0/agent-gemini (linux; x64; terminal)", ("gemini-cli", "0.61.0")),
    ("GeminiCLI/0.61.0 (linux; x64)", ("gemini-cli", "0.61.0")),
    ("OpenAI/Python 1.99.9", ("openai-python", "1.99.9")),
    ("Anthropic/Python 0.64.0", ("anthropic-python", "0.64.0")),
    ("google-genai-sdk/1.30.0 gl-python/3.11.7", ("google-genai", "1.30.0")),
    # anything else: its first product token
    ("curl/8.5.0", ("curl", "8.5.0")),
    ("python-requests/2.32.3", ("python-requests", "2.32.3")),
    ("Mozilla/5.0 (X11; Linux x86_64)", ("mozilla", "5.0")),
    ("my tool", (None, None)),
    ("", (None, None)),
    (None, (None, None)),
])
def test_clients_are_named_from_the_user_agent(user_agent: str | None,
                                               expected: tuple[str | None, str | None]) -> None:
    assert identify_client(user_agent) == expected


def test_session_id_comes_from_the_first_session_header() -> None:
    assert session_id({"x-claude-code-session-id": "abc"}) == "abc"
    assert session_id({"session-id": "codex-1", "x-unigate-session-id": "mine"}) == "mine"
    assert session_id({"x-session-id": " padded "}) == "padded"
    assert session_id({}) is None
    assert session_id({"session-id": "x" * 500}) == "x" * MAX_SESSION_CHARS
    assert session_id({"session-id": "bad\x00id"}) is None
