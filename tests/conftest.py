"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def run_cli():
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from convcalc.cli import app

    def run(*args: str):
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture(params=["libyaml", "pure"])
def yaml_parser(request, monkeypatch):
    """Run a test with libyaml's parser (the default, when the wheel has it) and with PyYAML's
    pure-Python one: convcalc's limits must fire first either way."""
    if request.param == "pure":
        monkeypatch.setenv("CONVCALC_YAML", "pure")
    else:
        monkeypatch.delenv("CONVCALC_YAML", raising=False)
    return request.param
