"""One ``--format`` type for every command: what each command supports, what it refuses (one line,
exit 2, naming what it supports), and the formats added to rf, sizes, models, compare and summary."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from convcalc.render.formats import Format, choose_format

ROOT = Path(__file__).resolve().parent.parent

SUPPORTED = {
    ("summary", "lenet5"): ("table", "json", "csv", "markdown", "github", "html"),
    ("graph", "lenet5"): ("dot", "mermaid", "svg", "png"),
    ("rf", "lenet5"): ("table", "json", "csv", "markdown"),
    ("sizes", "toy39", "--range", "30..34"): ("table", "json", "csv", "markdown"),
    ("models",): ("table", "json", "csv", "markdown"),
    ("compare", "lenet5", "toy39"): ("table", "json", "csv", "markdown"),
    ("check", "lenet5"): ("table", "json", "github", "human", "auto"),
    ("layer", "conv2d", "--input", "3x32x32", "-k", "5", "-n", "6"): ("table", "json"),
    ("explain", "lenet5"): ("table", "json"),
}
ALL = [f.value for f in Format]
BRANCHY = """\
name: branchy
input: [4, 32, 32]
layers:
  - parallel:
      merge: concat
      branches:
        - [{conv2d: {out_channels: 2, kernel_size: 3, padding: 1}}]
        - [{conv2d: {out_channels: 2, kernel_size: 2, padding: [[0, 1], [0, 1]]}}]
"""


@pytest.mark.parametrize(("args", "fmt"), [(args, fmt) for args in SUPPORTED for fmt in ALL], ids=lambda x: x if isinstance(x, str) else x[0])
def test_each_command_supports_or_refuses_each_format(run_cli, args, fmt):
    code, out, err = run_cli(*args, "--format", fmt)
    if fmt in SUPPORTED[args]:
        assert code == 0, f"{args} --format {fmt}: exit {code}\n{out}\n{err}"
        assert out.strip()
        return
    names = ", ".join(SUPPORTED[args])
    message = f"--format {fmt}: {args[0]} supports {names}"
    assert code == 2, err
    assert err == f"convcalc: error[usage-format]: {message}\n"
    if fmt == "json":  # asked for JSON, the error comes as JSON too (graph has no JSON output)
        assert json.loads(out)["errors"] == [{"code": "usage-format", "message": message, "file": None, "line": None, "col": None, "hint": None}]
    else:
        assert out == ""


def test_an_unknown_format_is_the_same_one_line_usage_error(run_cli):
    code, _, err = run_cli("summary", "lenet5", "-f", "xml")
    assert (code, err) == (2, "convcalc: error[usage-format]: --format xml: summary supports table, json, csv, markdown, github, html\n")


def test_help_shows_only_the_supported_formats(run_cli):
    _, out, _ = run_cli("rf", "--help")
    assert "<table|json|csv|markdown>" in re.sub(r"\s*│\s*", "", out)


def test_choose_format_resolves_aliases(monkeypatch):
    check = (Format.table, Format.json, Format.github, Format.human, Format.auto)
    assert choose_format("human", check, "check") == Format.table
    assert choose_format("JSON", check, "check") == Format.json
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert choose_format("auto", check, "check") == Format.github
    assert choose_format("auto", (Format.table, Format.auto), "x") == Format.table  # no github to pick
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert choose_format("auto", check, "check") == Format.table


def test_rf_csv_and_markdown(run_cli):
    code, out, err = run_cli("rf", "lenet5", "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "kind", "output_shape", "rf_size", "rf_jump", "rf_start", "rf_padding"]
    conv1, pool1, conv2 = rows[0], rows[2], rows[3]
    assert (conv1["path"], conv1["output_shape"], conv1["rf_size"], conv1["rf_jump"], conv1["rf_start"]) == ("CONV1", "6x28x28", "5", "1", "2")
    # POOL1: r = 5 + (2-1)*1 = 6, j = 1*2 = 2, start = 2 + ((2-1)/2 - 0)*1 = 5/2
    assert (pool1["rf_size"], pool1["rf_jump"], pool1["rf_start"]) == (str(5 + (2 - 1) * 1), str(1 * 2), "5/2")
    # CONV2: r = 6 + (5-1)*2 = 14
    assert conv2["rf_size"] == str(6 + (5 - 1) * 2)
    assert rows[-1]["rf_size"] == "global"
    code, out, err = run_cli("rf", "lenet5", "-f", "markdown", "--layout", "hwc")
    assert code == 0, err
    assert "| CONV1 | conv2d | (28, 28, 6) | 5 | 1 | 2 | 0 |" in out.splitlines()


def test_rf_table_goes_to_the_output_file(run_cli, tmp_path):
    target = tmp_path / "rf.txt"
    code, out, err = run_cli("rf", "lenet5", "-o", str(target))
    assert (code, out) == (0, ""), err
    assert "CONV1" in target.read_text() and "eff. padding" in target.read_text()


def test_sizes_csv_lists_every_size_tried(run_cli):
    code, out, err = run_cli("sizes", "toy39", "--range", "30..34", "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["size"] for r in rows] == ["30", "31", "32", "33", "34"]
    accepted = [r["size"] for r in rows if r["accepted"] == "true"]
    json_out = json.loads(run_cli("sizes", "toy39", "--range", "30..34", "-f", "json")[1])
    assert accepted == [str(a["size"]) for a in json_out["accepted"]]
    assert json_out["schema_version"] == 1


def test_models_markdown_is_the_readme_table(run_cli):
    code, out, err = run_cli("models", "-f", "markdown")
    assert code == 0, err
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert out in readme, "the README's built-in models table is not `convcalc models -f markdown`: regenerate it"


def test_models_csv(run_cli):
    rows = list(csv.DictReader(io.StringIO(run_cli("models", "-f", "csv")[1])))
    lenet = next(r for r in rows if r["name"] == "lenet5")
    assert (lenet["title"], lenet["input_shape"], lenet["params"], lenet["macs"]) == ("LeNet-5", "3x32x32", "62006", "651720")


def test_compare_csv_keeps_exact_ratios(run_cli):
    code, out, err = run_cli("compare", "inception_direct", "inception_bottleneck", "-f", "csv")
    assert code == 0, err
    a, b = csv.DictReader(io.StringIO(out))
    assert (a["entry"], a["macs"], a["macs_ratio"]) == ("A", "120422400", "1")
    assert (b["entry"], b["macs"], b["macs_ratio"]) == ("B", "12443648", "31/300")  # 12,443,648 / 120,422,400


def test_compare_markdown(run_cli):
    code, out, err = run_cli("compare", "inception_direct", "inception_bottleneck", "-f", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "- A: inception_direct  (Inception 5x5, direct; (192, 28, 28) -> (32, 28, 28))"
    assert "|  | A | B | B/A |" in lines
    assert any(line.startswith("| MACs | 120,422,400 | 12,443,648 |") for line in lines)
    assert lines[-1].startswith("  120,422,400 -> 12,443,648 MACs: 9.68x fewer")


def test_summary_github_annotates_the_diagnostics(run_cli, tmp_path):
    spec = tmp_path / "branchy.yaml"
    spec.write_text(BRANCHY)
    code, out, err = run_cli("summary", str(spec), "--format", "github")
    assert code == 0, err
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert len(annotations) == 2  # one per spatial axis
    for line in annotations:
        assert re.match(rf"::warning file={re.escape(str(spec)).replace(':', '%3A')},line=4,col=5,title=convcalc rf-misaligned::", line), line
    assert out.index("branchy  input (4, 32, 32)") < out.index("::warning")  # the table, then the annotations
    code, out, _ = run_cli("summary", "lenet5", "--format", "github")
    assert code == 0 and "::" not in out  # no diagnostics, no annotations


def test_check_human_is_table(run_cli):
    assert run_cli("check", "lenet5", "-f", "human") == run_cli("check", "lenet5", "-f", "table")


ODD_NAMES = """\
name: "Réseau \\u2014 \\"quoted\\"\\ttab"
description: "ünïcödé, a newline\\nand a backslash \\\\"
input: [3, 17, 17]
layers:
  - conv2d: {out_channels: 5, kernel_size: 3, stride: 2}
    name: "é"
  - conv_transpose2d: {out_channels: 2, kernel_size: 2, stride: 2}
  - split: {split_size_or_sections: 1}
    id: [a, b]
  - add: {inputs: [a, b]}
"""


@pytest.mark.parametrize("name", sorted(__import__("convcalc.spec.zoo", fromlist=["x"]).builtin_names()))
def test_the_fast_json_is_json_dumps_byte_for_byte(name):
    """render/report.py writes the report's JSON from cached pieces: it must be json.dumps(indent=2)."""
    import convcalc
    from convcalc.render.report import report_to_dict
    from convcalc.render.summary import summary_chunks

    report = convcalc.analyze(convcalc.load_model(name))
    extra = {"exact_sizes": "n = 0 (mod 32)", "valid_if": ["H >= 32"], "compat": {"tool": "fvcore", "total": 1.5, "rules": []}}
    assert "".join(summary_chunks(report, extra)) == json.dumps({**report_to_dict(report), **extra}, indent=2) + "\n"


@pytest.mark.parametrize("text, shape", [(ODD_NAMES, None), (BRANCHY, None), (BRANCHY, (4, "H", "W"))])
def test_the_fast_json_escapes_and_symbols_as_json_does(text, shape):
    import convcalc
    from convcalc.render.report import render_json, report_to_dict

    report = convcalc.analyze(convcalc.load_spec(text), input_shape=shape)
    assert render_json(report) == json.dumps(report_to_dict(report), indent=2)


def test_the_fast_json_with_training_is_the_document_it_extends():
    import convcalc
    from convcalc.arith.dims import to_json_dim
    from convcalc.render.report import report_to_dict
    from convcalc.render.summary import summary_chunks

    report = convcalc.analyze(convcalc.load_model("resnet18"))
    data = report_to_dict(report)
    for layer, row in zip(data["layers"], report.rows):
        layer["backward_macs"] = to_json_dim(row.backward_macs)
    data["totals"]["backward_macs"] = to_json_dim(report.backward_macs)
    data["totals"]["training_macs"] = to_json_dim(report.training_macs)
    assert "".join(summary_chunks(report, {"training": True})) == json.dumps(data, indent=2) + "\n"


FIELDS_2D = """\
name: varied
input: [3, 20, 30]
layers:
  - conv2d: {out_channels: 4, kernel_size: [3, 5], padding: [1, 2], dilation: [1, 2]}
  - relu
  - seq:
      - parallel:
          merge: concat
          branches:
            - [{conv2d: {out_channels: 2, kernel_size: 3, padding: 1}}, relu]
            - [{conv2d: {out_channels: 2, kernel_size: 1}}]
            - [{max_pool2d: {kernel_size: 3, stride: 1, padding: 1}}]
      - conv2d: {out_channels: 4, kernel_size: 1}
    repeat: 3
  - conv_transpose2d: {out_channels: 4, kernel_size: 2, stride: 2}
  - upsample: {scale_factor: 2, mode: bilinear}
  - conv2d: {out_channels: 4, kernel_size: 2, stride: 2}
  - global_avg_pool
  - flatten
  - linear: {out_features: 10}
"""

FIELDS_1D = """\
name: one-axis
input: [3, 50]
layers:
  - conv1d: {out_channels: 4, kernel_size: 3}
  - relu
  - max_pool1d: {kernel_size: 2}
  - conv1d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
"""

FIELDS_3D = """\
name: three-axes
input: [2, 6, 8, 10]
layers:
  - conv3d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - conv3d: {out_channels: 4, kernel_size: [1, 3, 3]}
"""


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("text", [FIELDS_2D, FIELDS_1D, FIELDS_3D], ids=["2d", "1d", "3d"])
def test_the_fast_json_of_every_sort_of_field_in_small_chunks(monkeypatch, text, training):
    """Fields of one, two (unequal) and three axes, fields that come back after others (a branch's),
    fractional jumps, periods above 1 and global fields; rows of three inputs; written three layers
    a chunk, so that the chunks' seams are in the document too."""
    import convcalc
    from convcalc.arith.dims import to_json_dim
    from convcalc.render import report as rendered
    from convcalc.render.summary import summary_chunks

    monkeypatch.setattr(rendered, "_CHUNK_ROWS", 3)
    report = convcalc.analyze(convcalc.load_spec(text))
    data = rendered.report_to_dict(report)
    if training:
        for layer, row in zip(data["layers"], report.rows):
            layer["backward_macs"] = to_json_dim(row.backward_macs)
        data["totals"]["backward_macs"] = to_json_dim(report.backward_macs)
        data["totals"]["training_macs"] = to_json_dim(report.training_macs)
    assert "".join(summary_chunks(report, {"training": training})) == json.dumps(data, indent=2) + "\n"
