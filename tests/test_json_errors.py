"""Under ``--format json`` a command that fails prints a JSON error object on stdout (code, message,
file, line, col, hint), keeps its exit code, and still writes its one-line error on stderr."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

from test_bad_specs import CORPUS, FILES, expectation

ERROR_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z0-9-]+)\]: (?P<rest>.+)$")


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def error_object(out: str) -> dict:
    data = json.loads(out)
    assert set(data) == {"schema_version", "exit_code", "errors"}, data
    (error,) = data["errors"]
    assert set(error) == {"code", "message", "file", "line", "col", "hint"}, error
    return {**error, "exit_code": data["exit_code"]}


SPEC_FAULTS = [path for path in FILES if expectation(path).get("command") != "check"]


@pytest.mark.parametrize("path", SPEC_FAULTS, ids=lambda p: p.stem)
def test_every_broken_spec_gives_its_error_as_json(path: Path, monkeypatch):
    monkeypatch.chdir(CORPUS)
    expected = expectation(path)
    code, out, err = invoke("summary", path.name, "--format", "json")
    assert code == int(expected["exit"]), out + err
    error = error_object(out)
    assert (error["file"], error["code"], error["line"], error["col"], error["exit_code"]) == (
        path.name, expected["code"], int(expected["line"]), int(expected["col"]), code,
    )
    line = ERROR_LINE.match(err.splitlines()[0])  # the text line is as it was
    assert line and (line["code"], int(line["line"]), int(line["col"])) == (error["code"], error["line"], error["col"])
    hint = f" ({error['hint']})" if error["hint"] else ""
    assert line["rest"] == error["message"] + hint


def test_the_text_error_is_the_same_with_and_without_json(monkeypatch):
    monkeypatch.chdir(CORPUS)
    _, out_text, err_text = invoke("summary", "unknown_arg.yaml")
    _, out_json, err_json = invoke("summary", "unknown_arg.yaml", "--format", "json")
    assert out_text == "" and err_text == err_json
    assert error_object(out_json)["hint"] == "did you mean 'kernel_size'?"


def test_no_output_file_is_written_and_the_object_goes_to_stdout(tmp_path):
    report = tmp_path / "report.json"
    code, out, err = invoke("summary", CORPUS / "kernel_too_large.yaml", "-o", report, "--format", "json")
    assert code == 1 and not report.exists() and list(tmp_path.iterdir()) == []
    assert error_object(out)["code"] == "shape-kernel-too-large"


SPEC = str(CORPUS / "unknown_kind.yaml")


@pytest.mark.parametrize(
    ("args", "exit_code", "code"),
    [
        (("summary", SPEC), 1, "spec-unknown-kind"),
        (("rf", SPEC), 1, "spec-unknown-kind"),
        (("sizes", CORPUS / "yaml_bad_indent.yaml"), 1, "yaml-syntax"),
        (("explain", SPEC), 1, "spec-unknown-kind"),
        (("compare", SPEC, "lenet5"), 1, "spec-unknown-kind"),
        (("summary", "no_such_model"), 2, "usage-unknown-model"),
        (("summary", "lenet5", "--input", "3xx32"), 2, "usage-input"),
        (("summary", "lenet5", "--sweep", "H="), 2, "usage-sweep"),
        (("layer", "conv2d", "--input", "3x5x5", "-k", "7", "-n", "4"), 1, "shape-kernel-too-large"),
        (("layer", "cnov2d", "--input", "3x5x5"), 2, "usage-kind"),
        (("compare", "lenet5"), 2, "usage-compare"),
        (("check", "lenet5", "--tolerance", "1%"), 2, "usage-tolerance"),
        (("apply", "--kernel", "sobel_x"), 2, "apply-missing-option"),
        (("solve", "padding", "--in", "5", "--out", "500", "-k", "3"), None, None),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else None,
)
def test_each_command_with_a_json_format(args, exit_code, code):
    got, out, err = invoke(*args, *(() if "--format" in args else ("--format", "json")))
    if exit_code is None:  # solve answers "no padding works" as a result, not as an error
        assert got == 0 and "errors" not in json.loads(out)
        return
    assert got == exit_code, out + err
    error = error_object(out)
    assert (error["code"], error["exit_code"]) == (code, exit_code)
    assert len(err.strip().splitlines()) == 1 and f"error[{code}]" in err


def test_an_error_without_a_position_has_null_location():
    code, out, _ = invoke("layer", "conv2d", "--input", "3x5x5", "-k", "7", "-n", "4", "--format", "json")
    error = error_object(out)
    assert (error["file"], error["line"], error["col"]) == (None, None, None)
    assert error["message"].startswith("conv2d: kernel larger than the padded input along H")


def test_format_is_read_as_the_command_reads_it():
    _, out, _ = invoke("summary", SPEC, "--format", " JSON")
    assert error_object(out)["code"] == "spec-unknown-kind"
    _, out, _ = invoke("summary", SPEC, "--format", "csv")
    assert out == ""


def test_an_internal_error_is_a_json_error_too(monkeypatch):
    import convcalc.engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(convcalc.engine, "analyze", broken)
    code, out, err = invoke("summary", "lenet5", "--format", "json")
    assert code == 2
    assert err.strip() == "convcalc: error[internal]: RuntimeError: boom (run with --debug for the traceback)"
    assert error_object(out) == {
        "code": "internal", "message": "RuntimeError: boom", "file": None, "line": None, "col": None,
        "hint": "run with --debug for the traceback", "exit_code": 2,
    }


def test_check_keeps_its_own_report_for_broken_specs():
    """``check`` reports each file, broken or not, in its own JSON report (render/check.py)."""
    code, out, _ = invoke("check", SPEC, "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["files"][0]["errors"][0]["code"] == "spec-unknown-kind"


THREE_MISTAKES = """\
name: three
input: [3, 32, 32]
layers:
  - relu:
    id: x
  - conv2d: {out_channels: 8, kernal_size: 3}
  - conv2: {out_channels: 8}
    input: x
  - max_pool2d: {kernel_size: 64}
    input: x
"""


def test_every_fault_of_a_file_is_an_entry_with_its_place(tmp_path):
    spec = tmp_path / "three.yaml"
    spec.write_text(THREE_MISTAKES, encoding="utf-8")
    code, out, err = invoke("summary", spec, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["exit_code"] == 1
    found = [(e["code"], e["file"], e["line"], e["col"]) for e in data["errors"]]
    assert found == [
        ("spec-unknown-arg", str(spec), 6, 31), ("spec-unknown-kind", str(spec), 7, 5), ("shape-kernel-too-large", str(spec), 9, 31),
    ]
    lines = err.strip().splitlines()
    assert [ERROR_LINE.match(line)["code"] for line in lines] == [e[0] for e in found]
