"""The habits users bring from other command-line tools: --version, shell completion, flags shown
as flags, `-` for standard input, `check DIR`, `convcalc show NAME`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def convcalc(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, as a shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "convcalc", *args], input=stdin, capture_output=True, text=True, timeout=120,
        cwd=ROOT, env={**os.environ, **(env or {})},
    )


def test_version(run_cli):
    import convcalc

    version = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert convcalc.__version__ == version
    assert run_cli("--version") == (0, f"convcalc {version}\n", "")


def test_completion_options_are_offered(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


def test_completion_script_and_answers():
    script = convcalc("--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "complete -o default -F _convcalc_completion convcalc" in script.stdout
    words = {"COMP_WORDS": "convcalc check specs --format ", "COMP_CWORD": "4", "_CONVCALC_COMPLETE": "complete_bash"}
    assert convcalc(env=words).stdout.split() == ["table", "json", "github", "human", "auto"]
    words = {"COMP_WORDS": "convcalc summ", "COMP_CWORD": "1", "_CONVCALC_COMPLETE": "complete_bash"}
    assert convcalc(env=words).stdout.split() == ["summary"]


COMMANDS = ("summary", "rf", "sizes", "models", "schema", "check", "layer", "explain", "compare", "export", "solve", "apply")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_flags_are_shown_as_flags(run_cli, command):
    code, out, err = run_cli(*([command] if command else []), "--help")
    assert code == 0, err
    assert "<bool>" not in out
    if command == "summary":
        exact = next(line for line in out.splitlines() if "--exact" in line)
        assert re.search(r"--exact\s+Also print", exact), exact
