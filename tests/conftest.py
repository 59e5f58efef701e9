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
