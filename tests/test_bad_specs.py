"""Broken specs get one precise error line, the right exit code, no traceback and no output file.

Each file in ``tests/bad_specs/`` states what convcalc must answer on its first line,
``# expect: code=spec-unknown-kind line=6 col=5 exit=1`` (``command=check`` for faults only
``convcalc check`` looks at: budgets and expectations), or, for files that cannot carry a comment
(an empty file, bytes that are not UTF-8, a binary file), in a sidecar ``NAME.yaml.expect``. Exit
codes follow DESIGN.md: 1 for a spec that is wrong, 2 when convcalc cannot read its input.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

CORPUS = Path(__file__).resolve().parent / "bad_specs"
FILES = sorted(CORPUS.glob("*.yaml"))
ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z0-9]+(?:-[a-z0-9]+)*)\]: \S")

pytestmark = pytest.mark.usefixtures("yaml_parser")


def expectation(path: Path) -> dict[str, str]:
    """The ``key=value`` pairs of the file's sidecar, or of its ``# expect:`` header."""
    sidecar = path.with_name(path.name + ".expect")
    if sidecar.exists():
        text = sidecar.read_text(encoding="utf-8")
    else:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# expect: "), f"{path.name} has no `# expect:` header and no sidecar"
        text = first.removeprefix("# expect: ")
    return dict(pair.split("=", 1) for pair in text.split())


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def first_error(text: str) -> dict[str, str]:
    first = text.splitlines()[0] if text else ""
    match = ERROR_LINE.match(first)
    assert match, f"not `file:line:col: error[code]: message`: {first!r}"
    return match.groupdict()


def assert_clean(result) -> None:
    assert "Traceback" not in result.output, result.output
    assert "error[internal]" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.fixture
def in_corpus(monkeypatch):
    """Run from the corpus folder, so that errors name the files as given: ``NAME.yaml:L:C``."""
    monkeypatch.chdir(CORPUS)


def test_the_corpus_is_complete():
    assert len(FILES) >= 40
    for path in FILES:
        assert {"code", "line", "col", "exit"} <= set(expectation(path)), path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_bad_spec(path: Path, in_corpus, tmp_path):
    expected = expectation(path)
    out = tmp_path / "out.json"
    if expected.get("command") == "check":
        result = invoke("check", "--format", "human", path.name)
        text = result.stdout
    else:
        result = invoke("summary", path.name, "-o", str(out), "--format", "json")
        text = result.stderr
    assert_clean(result)
    assert result.exit_code == int(expected["exit"]), result.output
    found = first_error(text)
    assert (found["file"], found["code"], found["line"], found["col"]) == (
        path.name, expected["code"], expected["line"], expected["col"],
    ), text
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # not even a temporary file left behind


def test_budget_and_expectation_faults_pass_summary():
    """``summary`` reports numbers; budgets and expectations are ``check``'s to judge."""
    for path in FILES:
        if expectation(path).get("command") == "check":
            result = invoke("summary", str(path), "--format", "json")
            assert result.exit_code == 0, result.output


def test_check_lists_every_file_with_its_error(in_corpus):
    names = [p.name for p in FILES]
    result = invoke("check", *names, "--format", "json")
    assert_clean(result)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1
    assert [f["file"] for f in report["files"]] == names
    for entry in report["files"]:
        expected = expectation(CORPUS / entry["file"])
        assert entry["status"] in ("failed", "error") and entry["exit_code"] == 1, entry
        first = entry["errors"][0]
        assert (first["code"], first["line"], first["col"]) == (expected["code"], int(expected["line"]), int(expected["col"])), entry


# -- paths that cannot be read: exit 2 --------------------------------------------------------------


def assert_unreadable(result, path: str, code: str) -> None:
    assert_clean(result)
    assert result.exit_code == 2, result.output
    assert first_error(result.stderr) == {"file": path, "line": "1", "col": "1", "code": code}


def test_directory(tmp_path):
    folder = tmp_path / "net.yaml"
    folder.mkdir()
    out = tmp_path / "out.json"
    assert_unreadable(invoke("summary", str(folder), "-o", str(out), "--format", "json"), str(folder), "io-directory")
    assert not out.exists()


def test_missing_file(tmp_path):
    missing = tmp_path / "absent.yaml"
    out = tmp_path / "out.json"
    assert_unreadable(invoke("summary", str(missing), "-o", str(out), "--format", "json"), str(missing), "io-missing")
    assert not out.exists()


def test_unreadable_file(tmp_path):
    spec = tmp_path / "locked.yaml"
    spec.write_text((CORPUS.parent.parent / "specs" / "lenet5.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    spec.chmod(0)
    try:
        out = tmp_path / "out.json"
        if os.access(spec, os.R_OK):  # root reads files whatever their mode: then it is analysed
            # (the refusal itself is test_permission_error_is_reported's, as the system says it)
            assert invoke("summary", str(spec), "-o", str(out), "--format", "json").exit_code == 0
            assert out.exists()
            return
        assert_unreadable(invoke("summary", str(spec), "-o", str(out), "--format", "json"), str(spec), "io-permission")
        assert not out.exists()
    finally:
        spec.chmod(0o644)


def test_permission_error_is_reported(tmp_path, monkeypatch):
    """The same refusal when the operating system says no (as it never does to root)."""
    spec = tmp_path / "locked.yaml"
    spec.write_text("name: x\n", encoding="utf-8")
    real_open = os.open

    def deny(path, *args, **kwargs):
        if Path(path) == spec:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    assert_unreadable(invoke("summary", str(spec)), str(spec), "io-permission")


def test_debug_shows_the_traceback():
    """``--debug`` is for developers: the error propagates, and Python prints its traceback."""
    path = str(CORPUS / "unknown_kind.yaml")
    result = invoke("--debug", "summary", path)
    assert type(result.exception).__name__ == "SpecError"
    assert result.exc_info[2] is not None
    process = subprocess.run([sys.executable, "-m", "convcalc", "--debug", "summary", path], capture_output=True, text=True, check=False)
    assert process.returncode != 0
    assert "Traceback (most recent call last)" in process.stderr
    assert "SpecError: unknown layer kind 'maxpool2d'" in process.stderr
    plain = invoke("summary", path)  # the flag does not outlive its run
    assert_clean(plain)
    assert plain.exit_code == 1
    assert first_error(plain.stderr)["code"] == "spec-unknown-kind"
