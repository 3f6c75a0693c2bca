"""`unigate completion`: the scripts are generated from the parser, parse in their shells, and
complete subcommands, options and option choices (bash driven for real through its
completion variables; zsh and fish checked by their own parsers, and fish asked for real)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from unigate.cli import build_parser
from unigate.cli.completion import script


def generated(shell: str) -> str:
    out = subprocess.run([sys.executable, "-m", "unigate.cli", "completion", shell], capture_output=True,
                         text=True, check=True, timeout=30)
    return out.stdout


@pytest.mark.parametrize("shell,check", [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]),
                                         ("fish", ["fish", "--no-execute"])])
def test_the_script_parses_in_its_shell(shell: str, check: list[str], tmp_path: object) -> None:
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed")
    text = generated(shell)
    assert text == script(shell, build_parser())
    proc = subprocess.run(check, input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def bash_complete(words: list[str]) -> list[str]:
    """What bash offers for the command line `words` (the last one being completed)."""
    line = " ".join(f"'{w}'" for w in words)
    program = (f"{generated('bash')}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _unigate; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [ln for ln in proc.stdout.splitlines() if ln]


def test_bash_completes_commands_options_and_choices() -> None:
    assert {"serve", "doctor", "completion", "users", "usage"} <= set(bash_complete(["unigate", ""]))
    assert bash_complete(["unigate", "doc"]) == ["doctor"]
    assert set(bash_complete(["unigate", "users", ""])) == {"list", "create", "get", "delete"}
    assert set(bash_complete(["unigate", "agents", "configure", ""])) >= {"claude", "codex"}
    assert "--log-format" in bash_complete(["unigate", "serve", "--"])
    # an option's value is skipped when finding the command path, and its choices complete
    assert set(bash_complete(["unigate", "serve", "--log-format", ""])) == {"text", "json"}
    assert "--json" in bash_complete(["unigate", "doctor", "--config", "x.yaml", "--"])
    assert set(bash_complete(["unigate", "completion", ""])) == {"bash", "zsh", "fish"}  # a positional's choices
    assert bash_complete(["unigate", "--log-format", "doct"]) == ["doctor"]  # not an option of unigate itself
    assert "serve" not in bash_complete(["unigate", "serve", ""])


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_nested_commands_and_choices(tmp_path: object) -> None:
    program = (f"{generated('fish')}\n"
               "complete -C 'unigate users '; echo ---; complete -C 'unigate serve --log-format '")
    proc = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, timeout=30)
    users, choices = proc.stdout.split("---\n")
    assert {ln.split("\t")[0] for ln in users.splitlines()} == {"list", "create", "get", "delete"}
    assert {ln.split("\t")[0] for ln in choices.splitlines()} == {"text", "json"}


def test_unknown_shell_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "unigate.cli", "completion", "tcsh"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2 and "invalid choice: 'tcsh'" in proc.stderr
