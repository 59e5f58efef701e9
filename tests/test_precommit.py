"""The pre-commit hook (.pre-commit-hooks.yaml), run by `pre-commit try-repo` on a repository that
holds a good spec, a bad spec and YAML files that are not specs: it passes on the good spec and
the non-specs (skipped, saying so) and fails on the bad spec."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAD = """\
name: bad
input: [3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3}
    expect: {params: 1}
"""
NOT_SPECS = {
    ".pre-commit-config.yaml": "repos:\n  - repo: local\n    hooks: []\n",
    ".github/workflows/ci.yml": "name: CI\non: push\njobs:\n  test: {runs-on: ubuntu-latest, steps: [{run: pytest}]}\n",
    "mkdocs.yml": "site_name: docs\nmarkdown_extensions:\n  - pymdownx.emoji:\n      emoji_index: !!python/name:material.extensions.emoji.twemoji\n",
}


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True, env=env).stdout.strip()


def committed(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "files")
    return folder


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """This checkout as it is now (committed changes or not), as a repository with one commit."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    copy = tmp_path_factory.mktemp("hook") / "convcalc"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "convcalc", copy / "convcalc", ignore=ignore)
    shutil.copytree(ROOT / "specs", copy / "specs")
    for name in ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, copy / name)
    committed(copy, {})
    return copy, git(copy, "rev-parse", "HEAD")


def try_repo(hook_repo: tuple[Path, str], project: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    pre_commit = [sys.executable, "-m", "pre_commit"]
    repo, rev = hook_repo
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [*pre_commit, "try-repo", str(repo), "convcalc-check", "--ref", rev, "--verbose", "--files", *files],
        cwd=project, capture_output=True, text=True, timeout=600, env=env,
    )


def test_hook_passes_specs_and_non_specs_fails_bad_specs(hook_repo, tmp_path):
    pytest.importorskip("pre_commit")
    project = committed(tmp_path / "project", {"specs/good.yaml": (ROOT / "specs" / "lenet5.yaml").read_text(), "specs/bad.yaml": BAD, **NOT_SPECS})
    home = tmp_path / "pre-commit-home"

    good = try_repo(hook_repo, project, home, "specs/good.yaml", *NOT_SPECS)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    assert "specs/good.yaml: 5 expectations, 0 budgets: all hold" in good.stdout
    for name in NOT_SPECS:
        assert f"{name}: skipped, not a convcalc spec: " in good.stdout, good.stdout

    bad = try_repo(hook_repo, project, home, "specs/bad.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    # conv2d 3 -> 4 channels, 3x3: params = 4*3*3*3 + 4
    assert f"specs/bad.yaml:5:22: error[check-expect]: 0 (conv2d) params: expected 1, got {4 * 3 * 3 * 3 + 4}" in bad.stdout
