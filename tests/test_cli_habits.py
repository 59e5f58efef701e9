"""The habits users bring from other command-line tools: --version, shell completion, flags shown
as flags, `-` for standard input, `check DIR`, `convcalc show NAME`."""

from __future__ import annotations

import os
import re
import shlex
import signal
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
    # --show-completion prints the script of the shell it runs in (typer asks shellingham, which
    # walks up the processes): run it from bash, as a user does, not from whatever runs the tests
    script = subprocess.run(
        ["bash", "-c", f"{shlex.quote(sys.executable)} -m convcalc --show-completion; exit $?"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert script.returncode == 0, script.stderr
    assert "complete -o default -F _convcalc_completion convcalc" in script.stdout
    words = {"COMP_WORDS": "convcalc check specs --format ", "COMP_CWORD": "4", "_CONVCALC_COMPLETE": "complete_bash"}
    assert convcalc(env=words).stdout.split() == ["table", "json", "github", "human", "auto"]
    words = {"COMP_WORDS": "convcalc summ", "COMP_CWORD": "1", "_CONVCALC_COMPLETE": "complete_bash"}
    assert convcalc(env=words).stdout.split() == ["summary"]


COMMANDS = ("summary", "rf", "sizes", "models", "show", "schema", "check", "layer", "explain", "compare", "export", "solve", "apply")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_flags_are_shown_as_flags(run_cli, command):
    code, out, err = run_cli(*([command] if command else []), "--help")
    assert code == 0, err
    assert "<bool>" not in out
    if command == "summary":
        exact = next(line for line in out.splitlines() if "--exact" in line)
        assert re.search(r"--exact\s+Also print", exact), exact


# -- `-` reads the spec from standard input --------------------------------------------------------

LENET = (ROOT / "specs" / "lenet5.yaml").read_text(encoding="utf-8")


def invoke(*args: str, stdin: str | bytes = LENET):
    from typer.testing import CliRunner

    from convcalc.cli import app

    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("summary", "-", "-f", "json"), '"params": 62006'),
        (("rf", "-", "-f", "json"), '"name": "LeNet-5"'),
        (("sizes", "-", "--range", "32..32"), "accepted     32 -> (10)"),
        (("explain", "-", "--layer", "CONV1"), "params = C_out*(C_in/groups)*k*k + C_out = 6*(3/1)*5*5 + 6 = 456"),
        (("export", "-"), "class "),
        (("check", "-"), "<stdin>: 5 expectations, 0 budgets: all hold"),
        (("compare", "-", "lenet5"), "A: -  (LeNet-5; (3, 32, 32) -> (10))"),
    ],
    ids=lambda x: x[0] if isinstance(x, tuple) else None,
)
def test_dash_reads_the_spec_from_stdin(args, expected):
    code, out, err = invoke(*args)
    assert code == 0, err
    assert expected in out


def test_stdin_errors_are_located_at_stdin():
    code, _, err = invoke("summary", "-", stdin="name: x\ninput: [3, 8, 8]\nlayers:\n  - conv2: {out_channels: 4}\n")
    assert code == 1
    assert re.match(r"<stdin>:4:5: error\[spec-unknown-kind\]: .*did you mean 'conv2d'", err), err
    code, _, err = invoke("summary", "-", stdin=b"name: \xff\n")
    assert (code, err) == (1, "<stdin>:1:7: error[io-encoding]: byte 0xff is not UTF-8 (save the file as UTF-8)\n")
    code, _, err = invoke("summary", "-", stdin="")
    assert code == 1 and err.startswith("<stdin>:"), err


def test_stdin_is_bounded_like_a_file():
    from convcalc.spec._yaml import MAX_FILE_BYTES

    code, _, err = invoke("summary", "-", stdin=b"#" * (MAX_FILE_BYTES + 1))
    assert (code, err) == (1, f"<stdin>:1:1: error[limit-file-size]: file is larger than {MAX_FILE_BYTES // 2**20} MB (limit MAX_FILE_BYTES)\n")


@pytest.mark.parametrize("command", ["check", "compare"])
def test_stdin_can_be_read_once(command):
    code, out, err = invoke(command, "-", "-")
    assert (code, out) == (2, "")
    assert err == "convcalc: error[usage-stdin]: '-' (standard input) is given 2 times; it can be read once\n"


def test_stdin_in_a_real_pipe():
    result = convcalc("summary", "-", "--format", "json", stdin=LENET)
    assert result.returncode == 0, result.stderr
    assert '"params": 62006' in result.stdout


# -- convcalc show NAME ----------------------------------------------------------------------------


def test_show_prints_the_builtin_exactly(run_cli):
    assert run_cli("show", "lenet5") == (0, LENET, "")


def test_show_to_a_file_starts_a_spec(run_cli, tmp_path):
    target = tmp_path / "my.yaml"
    assert run_cli("show", "resnet50", "-o", str(target))[0] == 0
    assert target.read_bytes() == (ROOT / "specs" / "resnet50.yaml").read_bytes()
    code, out, err = run_cli("summary", str(target), "-f", "json")
    assert code == 0 and '"params": 25557032' in out, err


def test_show_refuses_what_is_not_a_builtin(run_cli):
    assert run_cli("show", "lenet") == (2, "", "convcalc: error[usage-unknown-model]: no built-in model named 'lenet' (did you mean 'lenet5'?)\n")
    code, _, err = run_cli("show", "specs/lenet5.yaml")
    assert code == 2 and "no built-in model named 'specs/lenet5.yaml'" in err


def test_show_piped_into_summary():
    """``convcalc show lenet5 | convcalc summary -``, in a shell."""
    python = shlex.quote(sys.executable)
    pipeline = f"{python} -m convcalc show lenet5 | {python} -m convcalc summary - --format json"
    result = subprocess.run(pipeline, shell=True, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert '"params": 62006' in result.stdout and '"name": "LeNet-5"' in result.stdout


def test_the_console_script_leaves_without_freeing_but_as_python_would():
    """``convcalc.cli.run`` (the console script, ``python -m convcalc``) leaves with ``os._exit``,
    the report unfreed: the output flushed, the ``atexit`` functions run, the exit code kept."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "sys.argv = ['convcalc', *sys.argv[1:]]\n"
        "from convcalc.cli import run\n"
        "print('buffered, not yet flushed', end='')\n"
        "run()\n"
    )
    for args, code in ((("summary", "lenet5", "-f", "csv"), 0), (("summary", "nosuch.yaml"), 2), (("--version",), 0)):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == code and done.stdout.startswith("buffered, not yet flushed"), (args, done)
        assert done.stderr.endswith("atexit ran\n"), (args, done.stderr)
    done = subprocess.run([sys.executable, "-m", "convcalc", "summary", "lenet5", "-f", "csv"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.splitlines()[1].startswith("CONV1,conv2d,3x32x32,6x28x28,456,"), done


def test_results_are_kept_only_by_the_console_script(run_cli):
    """In-process (tests, notebooks) nothing is held past the command."""
    from convcalc.cli import _common

    assert run_cli("summary", "lenet5", "-f", "csv")[0] == 0
    assert _common._kept["results"] is None


def read_then_close(*args: str, wanted: int = 100) -> tuple[int, str]:
    """The CLI writing into a pipe whose reader takes ``wanted`` bytes and goes, as ``| head -c``
    does: (return code, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "convcalc", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert len(process.stdout.read(wanted)) == wanted
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=120), err


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform")
def test_a_reader_that_stops_reading_ends_the_run_quietly():
    """``convcalc summary resnet50 --format json | head``: no error line, and the end cat and grep
    get (SIGPIPE), not an exit code of convcalc's own (1 is check's "failed", 2 "could not run").
    The JSON is written in pieces, so a write after the reader has gone meets the broken pipe."""
    assert read_then_close("summary", "resnet50", "--format", "json") == (-signal.SIGPIPE, "")
    # a table is written by rich, whose own handling would exit 1; one large write into a closed
    # pipe is cut short without an error (CPython's buffered writer), so the run may also end 0
    for args in (("summary", "resnet50"), ("rf", "resnet50"), ("explain", "resnet50")):
        code, err = read_then_close(*args)
        assert code in (0, -signal.SIGPIPE) and err == "", (args, code, err)


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform")
@pytest.mark.parametrize("args", [(), ("--help",), ("summary", "--help"), ("solve", "--help"), ("models",), ("kinds",),
                                  ("solve", "geometry", "--in", "227", "--out", "55"), ("summary", "lenet5")])
def test_a_reader_gone_before_the_first_line_ends_every_command_quietly(args):
    """``convcalc --help | head`` too: the help, the commands whose output rich writes in one go
    and the solver's table, into a pipe whose reader has gone before they write, end as the
    JSON does (SIGPIPE, nothing said), not with rich's exit 1."""
    assert read_then_close(*args, wanted=0) == (-signal.SIGPIPE, "")


def test_a_broken_pipe_that_is_not_stdout_is_an_internal_error(run_cli, monkeypatch):
    """Only stdout's reader going away ends a run quietly; any other broken pipe (a child process's)
    is an error like any other."""
    import convcalc.cli.summary as summary

    def broken(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(summary, "write_output", broken)
    assert run_cli("summary", "lenet5", "-f", "csv") == (
        2, "", "convcalc: error[internal]: BrokenPipeError: [Errno 32] Broken pipe (run with --debug for the traceback)\n",
    )


# -- check DIR -------------------------------------------------------------------------------------

BAD_SPEC = "name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n    expect: {params: 1}\n"


def spec_tree(root: Path) -> Path:
    files = {
        "good.yaml": LENET,
        "nested/deeper/also.yml": LENET,
        "nested/bad.yaml": BAD_SPEC,
        "workflow.yaml": "name: CI\non: push\njobs: {}\n",
        ".hidden/secret.yaml": BAD_SPEC,
        ".pre-commit-config.yaml": "repos: []\n",
        "notes.txt": "not yaml",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_check_dir_recurses_and_skips_non_specs(run_cli, tmp_path):
    root = spec_tree(tmp_path / "specs")
    code, out, err = run_cli("check", str(root), "--format", "table")
    assert code == 1, err
    lines = out.splitlines()
    shown = {line.split(":", 1)[0].removeprefix(str(root) + "/") for line in lines if line.startswith(str(root))}
    assert shown == {"good.yaml", "nested/bad.yaml", "nested/deeper/also.yml", "workflow.yaml"}  # sorted, hidden ones left out
    assert f"{root}/workflow.yaml: skipped, not a convcalc spec: none of its keys (name, on, jobs) is one of input, batch, layers, blocks, expect, budget" in lines
    assert f"{root}/nested/bad.yaml:5:22: error[check-expect]: 0 (conv2d) params: expected 1, got {4 * 3 * 3 * 3 + 4}" in lines
    assert lines[-1] == "4 files: 2 ok, 1 failed, 1 skipped"


def test_check_dir_json_says_skipped(run_cli, tmp_path):
    import json

    root = spec_tree(tmp_path / "specs")
    data = json.loads(run_cli("check", str(root / "nested" / "deeper"), str(root / "workflow.yaml"), "--skip-non-specs", "-f", "json")[1])
    assert [(f["status"], f["exit_code"], f["skipped"] is not None) for f in data["files"]] == [("ok", 0, False), ("skipped", 0, True)]
    assert data["exit_code"] == 0


def test_an_explicit_non_spec_is_checked_unless_told(run_cli, tmp_path):
    root = spec_tree(tmp_path / "specs")
    code, out, _ = run_cli("check", str(root / "workflow.yaml"), "-f", "table")
    assert code == 1 and "error[spec-" in out
    assert run_cli("check", str(root / "workflow.yaml"), "--skip-non-specs", "-f", "table")[0] == 0


def test_a_directory_without_specs_fails(run_cli, tmp_path):
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden" / "x.yaml").write_text(LENET)
    code, out, _ = run_cli("check", str(tmp_path / "empty"), "lenet5", "-f", "table")
    assert code == 2, out
    assert f"{tmp_path / 'empty'}:1:1: error[io-no-specs]: no *.yaml or *.yml file in this directory (hidden ones are not read)" in out
    assert "lenet5.yaml: 5 expectations, 0 budgets: all hold" in out  # the other targets are still checked


def test_baseline_takes_one_file_not_a_directory(run_cli, tmp_path):
    root = spec_tree(tmp_path / "specs")
    code, _, err = run_cli("check", str(root), "--baseline", str(root / "good.yaml"))
    assert (code, err) == (2, "convcalc: error[usage-baseline]: --baseline compares one spec file, got a directory\n")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("repos:\n  - repo: local\n", "none of its keys (repos) is one of input, batch, layers, blocks, expect, budget"),
        ("name: a\ninputs: {x: 1}\nruns: {using: node20}\n", "none of its keys (name, inputs, runs) is one of input, batch, layers, blocks, expect, budget"),
        ("- id: convcalc-check\n", "its top level is a list, not a mapping"),
        ("just words\n", "its top level is a single value, not a mapping"),
        ("a: 1\n---\nb: 2\n", "it holds several YAML documents; a spec is one"),
        ("x: !Ref y\nz: !!python/name:os.system\n", "none of its keys (x, z) is one of input, batch, layers, blocks, expect, budget"),
        (LENET, None),
        ("name: typo\nlayer: [relu]\n", None),  # a near miss of layers: a spec with a mistake
        ("budget: {params: 1}\n", None),
        ("", None),  # empty: checking it says so
        ("a: [\n", None),  # broken YAML: checking it says where
    ],
)
def test_not_a_spec(text, reason):
    from convcalc.spec.files import not_a_spec

    assert not_a_spec(text) == reason
