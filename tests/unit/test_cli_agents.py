"""`unigate agents configure|run` and `unigate auth login|token`, in a temporary HOME.

Each configure writes the agent's own file, merges into what the user had (unrelated keys stay),
keeps a timestamped backup of the file it replaced and makes token-holding files 0600; `run`
is checked with a stand-in executable that reports the environment and arguments it got."""

from __future__ import annotations

import http.server
import json
import os
import stat
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from unigate.cli import main

URL = "http://gw.example:8080"
TOKEN = "ug-unit-test-token-123"
ENV_VARS = ("UNIGATE_TOKEN", "UNIGATE_URL", "UNIGATE_ENDPOINT", "CODEX_HOME", "CLAUDE_CONFIG_DIR",
            "GEMINI_CLI_HOME", "XDG_CONFIG_HOME", "ANTHROPIC_API_KEY")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return h


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.unigate-backup-*"))


def configure(agent: str, *extra: str, endpoint: str = "my-chat") -> int:
    return main(["agents", "configure", agent, "--endpoint", endpoint, "--url", URL, "--token", TOKEN, *extra])


# --- configure -------------------------------------------------------------------------------

def test_claude_merges_settings_and_keeps_a_backup(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    before = {"theme": "dark", "env": {"FOO": "1", "ANTHROPIC_API_KEY": "sk-old"}, "permissions": {"allow": ["Read"]}}
    path.write_text(json.dumps(before))
    assert configure("claude") == 0
    data = json.loads(path.read_text())
    assert data["theme"] == "dark" and data["permissions"] == {"allow": ["Read"]}
    assert data["env"]["FOO"] == "1" and "ANTHROPIC_API_KEY" not in data["env"]
    assert data["env"]["ANTHROPIC_BASE_URL"] == f"{URL}/ai-gateway/anthropic"
    for key in ("ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"):
        assert data["env"][key] == "my-chat"
    assert data["env"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert data["apiKeyHelper"] == f"{sys.executable} -m unigate.cli auth token --url {URL}"
    assert TOKEN not in path.read_text()
    [backup] = _backups(path)
    assert json.loads(backup.read_text()) == before and _mode(backup) == 0o600
    creds = home / ".config" / "unigate" / "credentials.json"
    assert json.loads(creds.read_text())["gateways"][URL]["token"] == TOKEN
    assert _mode(creds) == 0o600 and _mode(creds.parent) == 0o700
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err


def test_configure_twice_changes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert configure("claude") == 0
    path = home / ".claude" / "settings.json"
    assert _backups(path) == []  # nothing was there to keep
    assert configure("claude") == 0
    assert _backups(path) == [] and "unchanged" in capsys.readouterr().out


def test_codex_merges_toml_in_codex_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    path = codex_home / "config.toml"
    path.write_text('model = "gpt-5"\napproval_policy = "on-request"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n'
                    'args = ["--x"]\n\n[model_providers.other]\nname = "other"\nbase_url = "https://o/v1"\n')
    assert configure("codex") == 0
    data = tomllib.loads(path.read_text())
    assert data["model"] == "my-chat" and data["model_provider"] == "unigate"
    assert data["approval_policy"] == "on-request"
    assert data["mcp_servers"] == {"docs": {"command": "docs-mcp", "args": ["--x"]}}
    assert data["model_providers"]["other"]["base_url"] == "https://o/v1"
    provider = data["model_providers"]["unigate"]
    assert provider["base_url"] == f"{URL}/ai-gateway/codex/v1" and provider["wire_api"] == "responses"
    assert provider["auth"] == {"command": sys.executable, "args": ["-m", "unigate.cli", "auth", "token", "--url", URL]}
    assert TOKEN not in path.read_text()
    assert len(_backups(path)) == 1
    assert not (home / ".codex").exists()


def test_gemini_writes_env_0600_and_merges_settings(home: Path) -> None:
    d = home / ".gemini"
    d.mkdir()
    (d / ".env").write_text("# mine\nFOO=bar\nexport GEMINI_API_KEY=old-key\n")
    os.chmod(d / ".env", 0o644)
    mine = {"ui": {"theme": "GitHub"}, "security": {"folderTrust": {"enabled": True}}}
    (d / "settings.json").write_text(json.dumps(mine))
    assert configure("gemini") == 0
    env = (d / ".env").read_text().splitlines()
    assert env[:2] == ["# mine", "FOO=bar"]
    assert f"GEMINI_API_KEY={TOKEN}" in env and "old-key" not in "".join(env)
    assert f"GOOGLE_GEMINI_BASE_URL={URL}/ai-gateway/gemini" in env and "GEMINI_MODEL=my-chat" in env
    assert _mode(d / ".env") == 0o600
    settings = json.loads((d / "settings.json").read_text())
    assert settings == {"ui": {"theme": "GitHub"},
                        "security": {"folderTrust": {"enabled": True}, "auth": {"selectedType": "gemini-api-key"}}}
    assert len(_backups(d / ".env")) == 1 and len(_backups(d / "settings.json")) == 1


def test_opencode_adds_a_provider(home: Path) -> None:
    path = home / ".config" / "opencode" / "opencode.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"theme": "tokyonight", "provider": {"ollama": {"npm": "@ai-sdk/openai-compatible"}}}))
    assert configure("opencode") == 0
    assert configure("opencode", endpoint="other-chat") == 0
    data = json.loads(path.read_text())
    assert data["theme"] == "tokyonight" and "ollama" in data["provider"]
    unigate = data["provider"]["unigate"]
    assert unigate["npm"] == "@ai-sdk/openai-compatible"
    assert unigate["options"] == {"baseURL": f"{URL}/ai-gateway/openai/v1", "apiKey": TOKEN}
    assert set(unigate["models"]) == {"my-chat", "other-chat"}
    assert data["model"] == data["small_model"] == "unigate/other-chat"
    assert _mode(path) == 0o600 and len(_backups(path)) == 2


def test_broken_file_is_left_alone(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text("{not json")
    assert configure("claude") == 1
    assert path.read_text() == "{not json" and _backups(path) == []
    err = capsys.readouterr().err
    assert "is not valid JSON" in err and len(err.strip().splitlines()) == 1
    assert not (home / ".config" / "unigate").exists()  # nothing kept for a setup that did not happen


def test_configure_needs_an_endpoint_and_a_token(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["agents", "configure", "claude", "--url", URL])
    assert e.value.code == 2
    assert main(["agents", "configure", "claude", "--endpoint", "x", "--url", URL]) == 1
    assert "no token for" in capsys.readouterr().err
    assert not (home / ".claude").exists()


# --- auth ------------------------------------------------------------------------------------

def test_auth_token_precedence(home: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "token", "--url", URL]) == 1
    assert "no token for http://gw.example:8080" in capsys.readouterr().err
    configure("codex")  # keeps TOKEN for URL
    capsys.readouterr()
    assert main(["auth", "token", "--url", URL + "/"]) == 0
    assert capsys.readouterr().out == f"{TOKEN}\n"
    monkeypatch.setenv("UNIGATE_URL", URL)  # --url defaults like the other commands
    assert main(["auth", "token"]) == 0
    assert capsys.readouterr().out == f"{TOKEN}\n"
    monkeypatch.setenv("UNIGATE_TOKEN", "from-env")
    assert main(["auth", "token"]) == 0
    assert capsys.readouterr().out == "from-env\n"
    assert main(["auth", "token", "--token", "from-flag"]) == 0
    assert capsys.readouterr().out == "from-flag\n"


class _Gateway(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        ok = self.path == "/ai-gateway/openai/v1/models" and self.headers["Authorization"] == f"Bearer {TOKEN}"
        body = json.dumps({"object": "list", "data": [{"id": "a"}, {"id": "b"}]} if ok else
                          {"error": {"message": "invalid token"}}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def gateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_login_checks_the_token(home: Path, gateway: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "login", "--url", gateway, "--token", "wrong"]) == 1
    err = capsys.readouterr().err
    assert "refused the token (401)" in err and "wrong" not in err
    assert not (home / ".config" / "unigate" / "credentials.json").exists()
    assert main(["auth", "login", "--url", gateway, "--token", TOKEN]) == 0
    out = capsys.readouterr().out
    assert "2 endpoint(s)" in out and TOKEN not in out
    assert main(["auth", "token", "--url", gateway]) == 0
    assert capsys.readouterr().out == f"{TOKEN}\n"


# --- run -------------------------------------------------------------------------------------

FAKE_AGENT = """#!{python}
import json, os, sys
from pathlib import Path
seen = {{"argv": sys.argv[1:], "env": dict(os.environ)}}
codex = Path(os.environ.get("CODEX_HOME", "/nonexistent")) / "config.toml"
seen["codex_config"] = codex.read_text() if codex.exists() else None
gemini = Path(os.environ.get("GEMINI_CLI_HOME", "/nonexistent")) / ".gemini" / "settings.json"
seen["gemini_settings"] = gemini.read_text() if gemini.exists() else None
Path({out!r}).write_text(json.dumps(seen))
sys.exit(3)
"""


def _run_fake(agent: str, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "seen.json"
    exe = tmp_path / "fake-agent"
    exe.write_text(FAKE_AGENT.format(python=sys.executable, out=str(out)))
    exe.chmod(0o755)
    code = main(["agents", "run", agent, "--endpoint", "ep", "--url", URL, "--token", TOKEN, "--bin", str(exe),
                 "--", *args])
    assert code == 3  # the agent's own exit code
    return json.loads(out.read_text())


def test_run_claude_sets_env_and_settings(home: Path, tmp_path: Path) -> None:
    configure("claude", endpoint="configured-ep")
    settings = (home / ".claude" / "settings.json").read_bytes()
    seen = _run_fake("claude", tmp_path, "-p", "hello")
    assert seen["argv"][0] == "--settings" and seen["argv"][2:] == ["-p", "hello"]
    assert json.loads(seen["argv"][1])["env"]["ANTHROPIC_MODEL"] == "ep"
    assert TOKEN not in seen["argv"][1]  # the token never goes on a command line
    env = seen["env"]
    assert env["ANTHROPIC_BASE_URL"] == f"{URL}/ai-gateway/anthropic" and env["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert (home / ".claude" / "settings.json").read_bytes() == settings


def test_run_codex_uses_a_temporary_codex_home(home: Path, tmp_path: Path) -> None:
    configure("codex", endpoint="configured-ep")
    user_config = (home / ".codex" / "config.toml").read_bytes()
    seen = _run_fake("codex", tmp_path, "exec", "hi")
    assert seen["argv"] == ["exec", "hi"]
    config = tomllib.loads(seen["codex_config"])
    assert config["model"] == "ep"
    assert config["model_providers"]["unigate"]["env_key"] == "UNIGATE_TOKEN"
    assert seen["env"]["UNIGATE_TOKEN"] == TOKEN
    assert seen["env"]["CODEX_HOME"] != str(home / ".codex") and not Path(seen["env"]["CODEX_HOME"]).exists()
    assert (home / ".codex" / "config.toml").read_bytes() == user_config


def test_run_gemini_and_opencode(home: Path, tmp_path: Path) -> None:
    seen = _run_fake("gemini", tmp_path, "-p", "hi")
    assert seen["env"]["GOOGLE_GEMINI_BASE_URL"] == f"{URL}/ai-gateway/gemini"
    assert seen["env"]["GEMINI_API_KEY"] == TOKEN and seen["env"]["GEMINI_MODEL"] == "ep"
    assert json.loads(seen["gemini_settings"])["security"]["auth"]["selectedType"] == "gemini-api-key"
    seen = _run_fake("opencode", tmp_path, "run", "hi")
    content = json.loads(seen["env"]["OPENCODE_CONFIG_CONTENT"])
    assert content["model"] == "unigate/ep"
    assert content["provider"]["unigate"]["options"]["apiKey"] == "{env:UNIGATE_TOKEN}"
    assert seen["env"]["UNIGATE_TOKEN"] == TOKEN
    assert not (home / ".gemini").exists() and not (home / ".config" / "opencode").exists()


def test_run_errors(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["agents", "run", "claude", "--url", URL, "--token", TOKEN]) == 2
    assert "--endpoint" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["agents", "run", "codex", "--endpoint", "e", "--url", URL, "--token", TOKEN]) == 1
    assert "codex not found on PATH" in capsys.readouterr().err


def test_a_linked_settings_file_stays_a_link(home: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "claude-settings.json").write_text('{"theme": "light"}')
    (home / ".claude").mkdir()
    link = home / ".claude" / "settings.json"
    link.symlink_to(dotfiles / "claude-settings.json")
    assert configure("claude") == 0
    assert link.is_symlink() and json.loads(link.read_text())["theme"] == "light"
    assert len(_backups(dotfiles / "claude-settings.json")) == 1
