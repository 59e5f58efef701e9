"""Nothing lost: ``-o`` never replaces a device, a link or an input, keeps a file's mode, and no
input can make convcalc wait forever."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SPEC = "name: t\ninput: [1, 8]\nlayers:\n  - conv1d: {out_channels: 2, kernel_size: 3}\n"


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(SPEC)
    return path


def one_line_error(err: str, code: str) -> None:
    assert f"error[{code}]" in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_a_character_device_stays_a_device(run_cli, spec, tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the numbers of /dev/null
    except PermissionError:
        pytest.skip("mknod is not permitted here (it needs root)")
    code, out, err = run_cli("summary", str(spec), "-f", "json", "-o", str(device))
    assert code == 0, out + err
    assert stat.S_ISCHR(os.lstat(device).st_mode)  # written in place, like `> /dev/null`


def test_a_fifo_is_written_in_place(run_cli, spec, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    code, out, err = run_cli("summary", str(spec), "-f", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert code == 0, out + err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert '"schema_version"' in received[0]


def test_a_symlink_stays_a_link_and_its_target_is_written(run_cli, spec, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    code, out, err = run_cli("summary", str(spec), "-f", "json", "-o", str(link))
    assert code == 0, out + err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert '"schema_version"' in target.read_text()


def test_a_dangling_symlink_creates_its_target(run_cli, spec, tmp_path):
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "new.json")
    code, out, err = run_cli("summary", str(spec), "-f", "json", "-o", str(link))
    assert code == 0, out + err
    assert link.is_symlink() and '"schema_version"' in (tmp_path / "new.json").read_text()


@pytest.mark.parametrize("how", ["same path", "through a link", "a hard link"])
def test_the_input_is_never_overwritten(run_cli, spec, tmp_path, how):
    target = {"same path": spec, "through a link": tmp_path / "alias.yaml", "a hard link": tmp_path / "hard.yaml"}[how]
    if how == "through a link":
        target.symlink_to(spec)
    elif how == "a hard link":
        os.link(spec, target)
    code, out, err = run_cli("summary", str(spec), "-o", str(target))
    assert code == 2, out + err
    one_line_error(err, "io-write-input")
    assert spec.read_text() == SPEC


def test_export_refuses_its_input_too(run_cli, spec):
    code, out, err = run_cli("export", str(spec), "-o", str(spec))
    assert code == 2, out + err
    one_line_error(err, "io-write-input")
    assert spec.read_text() == SPEC


@pytest.mark.parametrize("command", [
    ["summary", "--format", "html"], ["summary", "--format", "markdown"], ["rf"], ["rf", "--format", "json"], ["sizes", "--range", "1..40"],
    ["graph", "--format", "mermaid"], ["explain"], ["schema"],
])
def test_every_command_that_writes_refuses_its_input(run_cli, spec, command):
    code, out, err = run_cli(command[0], str(spec), *command[1:], "-o", str(spec))
    assert code == 2, out + err
    one_line_error(err, "io-write-input")
    assert spec.read_text() == SPEC


def test_compare_refuses_any_of_its_inputs(run_cli, spec, tmp_path):
    code, out, err = run_cli("compare", "lenet5", str(spec), "-o", str(spec))
    assert code == 2, out + err
    one_line_error(err, "io-write-input")
    assert spec.read_text() == SPEC


def test_a_pytorch_model_file_is_an_input(tmp_path):
    """``FILE.py:FACTORY`` names the file before the colon: -o onto it is refused."""
    from convcalc.cli._output import write_output
    from convcalc.errors import UsageError

    model = tmp_path / "net.py"
    model.write_text("# a model\n")
    with pytest.raises(UsageError) as caught:
        write_output("text", model, inputs=(f"{model}:build",))
    assert caught.value.code == "io-write-input" and model.read_text() == "# a model\n"


def test_an_existing_file_keeps_its_mode(run_cli, spec, tmp_path):
    report = tmp_path / "report.json"
    report.write_text("old")
    report.chmod(0o640)
    code, out, err = run_cli("summary", str(spec), "-f", "json", "-o", str(report))
    assert code == 0, out + err
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    assert '"schema_version"' in report.read_text()


def test_a_new_file_gets_the_umask_mode(run_cli, spec, tmp_path):
    umask = os.umask(0o022)
    try:
        code, out, err = run_cli("summary", str(spec), "-f", "csv", "-o", str(tmp_path / "new.csv"))
    finally:
        os.umask(umask)
    assert code == 0, out + err
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o644  # 0666 less the umask, as `>` gives


def test_a_directory_is_an_io_error(run_cli, spec, tmp_path):
    code, out, err = run_cli("summary", str(spec), "-o", str(tmp_path))
    assert code == 2, out + err
    one_line_error(err, "io-write")
    assert "directory" in err


def test_no_temp_file_is_left_behind(run_cli, spec, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert run_cli("summary", str(spec), "-f", "json", "-o", str(out_dir / "r.json"))[0] == 0
    assert [p.name for p in out_dir.iterdir()] == ["r.json"]


# -- inputs ------------------------------------------------------------------------------------


def test_a_fifo_as_the_spec_is_refused_at_once(tmp_path):
    """A FIFO with no writer made convcalc wait forever; it is refused before reading."""
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "convcalc", "summary", str(fifo)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    one_line_error(result.stderr, "io-not-regular")
    assert "FIFO" in result.stderr


def test_a_device_as_the_spec_is_refused(run_cli):
    code, out, err = run_cli("summary", "/dev/null")
    assert code == 2
    one_line_error(err, "io-not-regular")


def test_stdin_is_read():
    result = subprocess.run([sys.executable, "-m", "convcalc", "summary", "/dev/stdin", "-f", "json"], input=SPEC, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"output_shape": [\n    2,\n    6\n  ]' in result.stdout


@pytest.mark.parametrize("name", ["a\nb.yaml", "tab\there.yaml", "bell\x07.yaml"])
def test_a_path_that_would_break_the_line_is_quoted(run_cli, tmp_path, name):
    code, out, err = run_cli("summary", str(tmp_path / name))
    assert code == 2
    one_line_error(err, "io-missing")
    assert repr(str(tmp_path / name)) in err


def test_an_output_path_that_would_break_the_line_is_quoted(run_cli, spec, tmp_path):
    code, out, err = run_cli("summary", str(spec), "-o", str(tmp_path / "no\nsuch" / "r.txt"))
    assert code == 2
    one_line_error(err, "io-write")
