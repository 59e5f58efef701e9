"""The command line as a user runs it: exit codes, one-line errors, the JSON contract, the table."""

from __future__ import annotations

import json
import re

import pytest

ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z0-9-]+)\]: ")


@pytest.mark.parametrize(
    ("model", "params", "macs", "output"),
    [
        ("vgg16", 138357544, 15470264320, [1000]),
        ("vgg19", 143667240, 19632062464, [1000]),
        ("alexnet", 62378344, 1135256096, [1000]),
        ("alexnet_grouped", 60965224, 724406816, [1000]),
        ("lenet5", 62006, 651720, [10]),
        ("toy39", 25340, 2794630, [1960]),
    ],
)
def test_summary_json_totals(run_cli, model, params, macs, output):
    code, out, err = run_cli("summary", model, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["params"], data["totals"]["macs"], data["output_shape"]) == (params, macs, output)
    assert data["totals"]["params"] == sum(layer["params"] for layer in data["layers"])
    assert data["totals"]["activation_bytes"] == 4 * data["totals"]["activations"]


def test_json_contract_keys(run_cli):
    data = json.loads(run_cli("summary", "lenet5", "-f", "json")[1])
    assert data["schema_version"] == 1
    assert {"name", "input_shape", "batch", "output_shape", "layers", "totals", "diagnostics"} <= set(data)
    first = data["layers"][0]
    assert {"path", "name", "kind", "input_shape", "output_shape", "params", "buffers", "macs", "flops", "activations", "receptive_field"} <= set(first)
    assert first["receptive_field"] == [{"size": 5, "jump": 1, "start": 2, "padding": 0, "first": [0, 4], "period": 1}] * 2
    assert data["layers"][2]["receptive_field"][0] == {"size": 6, "jump": 2, "start": "5/2", "padding": 0, "first": [0, 5], "period": 1}
    assert set(data["totals"]) >= {"params", "buffers", "macs", "flops", "activations", "activation_bytes"}


def test_lenet5_hwc_table(run_cli):
    code, out, _ = run_cli("summary", "lenet5", "--layout", "hwc")
    assert code == 0
    conv1 = next(line for line in out.splitlines() if line.strip().startswith("CONV1"))
    assert "(28, 28, 6)" in conv1 and "4,704" in conv1 and " 456 " in conv1
    params = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] in ("CONV1", "POOL1", "CONV2", "POOL2", "FC3", "FC4", "FC5"):
            params[cells[0]] = int(re.search(r"\)\s+[\d,]+\s+([\d,]+)", line).group(1).replace(",", ""))
    assert list(params.values()) == [456, 0, 2416, 0, 48120, 10164, 850]


def test_csv_and_markdown(run_cli):
    code, out, _ = run_cli("summary", "toy39", "-f", "csv")
    lines = out.splitlines()
    assert lines[0].startswith("path,kind,input_shape,output_shape,params")
    assert lines[1].split(",")[:5] == ["0", "conv2d", "3x39x39", "10x37x37", "280"]
    code, out, _ = run_cli("summary", "toy39", "-f", "markdown", "--layout", "hwc")
    assert "| 0 | conv2d | (37, 37, 10) | 13,690 | 280 |" in out


def test_depth_collapses_blocks(run_cli):
    out = run_cli("summary", "vgg16", "--depth", "1")[1]
    labels = [line.split()[0] for line in out.splitlines()[4:] if line.strip() and not line.startswith(" ─")]
    assert labels[:4] == ["features", "avgpool", "2", "classifier"]


def write(tmp_path, text: str):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return str(path)


def test_kernel_larger_than_input(run_cli, tmp_path):
    spec = write(tmp_path, "name: t\ninput: [3, 5, 5]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 7}\n")
    code, out, err = run_cli("summary", spec)
    assert code == 1, out + err
    first = err.splitlines()[0]
    m = ERROR_LINE.match(first)
    assert m and (m["line"], m["col"], m["code"]) == ("4", "44", "shape-kernel-too-large"), first
    assert "floor((5 + 2*0 - 1*(7-1) - 1) / 1) + 1 = -1" in first
    assert "Traceback" not in out + err


def test_unknown_kind_did_you_mean(run_cli, tmp_path):
    spec = write(tmp_path, "name: t\ninput: [3, 5, 5]\nlayers:\n  - conv2: {out_channels: 4, kernel_size: 3}\n")
    code, out, err = run_cli("summary", spec)
    assert code == 1
    assert ERROR_LINE.match(err)["code"] == "spec-unknown-kind"
    assert "did you mean 'conv2d'?" in err
    assert err.startswith(f"{spec}:4:5:")


def test_unknown_argument_did_you_mean(run_cli, tmp_path):
    spec = write(tmp_path, "name: t\ninput: [3, 5, 5]\nlayers:\n  - conv2d: {out_channels: 4, kernal_size: 3}\n")
    code, _, err = run_cli("summary", spec)
    assert code == 1 and "unknown argument 'kernal_size' for conv2d (did you mean 'kernel_size'?)" in err
    assert err.startswith(f"{spec}:4:31:")


def test_missing_file_and_bad_usage_exit_2(run_cli, tmp_path):
    code, _, err = run_cli("summary", str(tmp_path / "nope.yaml"))
    assert code == 2 and "error[io-missing]" in err
    code, _, err = run_cli("summary", "lenet5", "--input", "3xx5")
    assert code == 2 and "error[usage-input]" in err
    assert run_cli("summary", "lenet5", "--format", "yaml")[0] == 2


def test_output_file_is_written_whole_or_not_at_all(run_cli, tmp_path):
    target = tmp_path / "report.json"
    assert run_cli("summary", "lenet5", "-f", "json", "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["totals"]["params"] == 62006
    bad = write(tmp_path, "name: t\ninput: [3, 5, 5]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 7}\n")
    other = tmp_path / "other.json"
    assert run_cli("summary", bad, "-f", "json", "-o", str(other))[0] == 1
    assert not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml", "report.json"]


def test_input_override_and_layout(run_cli):
    data = json.loads(run_cli("summary", "toy39", "--input", "39x39x1", "--layout", "hwc", "-f", "json")[1])
    assert data["input_shape"] == [1, 39, 39]
    assert data["totals"]["params"] == 25340 - 10 * 2 * 9


def test_models_lists_builtins(run_cli):
    code, out, _ = run_cli("models", "--format", "json")
    entries = {e["name"]: e for e in json.loads(out)}
    assert entries["vgg16"]["params"] == 138357544 and entries["alexnet"]["macs"] == 1135256096


def test_schema_is_json_schema(run_cli):
    schema = json.loads(run_cli("schema")[1])
    assert schema["title"] == "convcalc spec"
    assert "layers" in schema["properties"] and "conv2d" in json.dumps(schema)


def test_rendered_table_golden():
    from rich.console import Console

    from convcalc.render import render_table
    from helpers import analyze_model

    console = Console(width=120, record=True, color_system=None, file=open("/dev/null", "w"))
    render_table(analyze_model("toy39"), console)
    text = console.export_text()
    assert text.splitlines()[0].strip() == "toy-39  input (3, 39, 39)"
    # MACs 37*37*10*27 = 369,630; FLOPs 2*369,630 + 37*37*10 bias adds = 752,950
    lines = text.splitlines()
    assert "0      conv2d   (10, 37, 37)  13,690     280    369,630    752,950       3" in lines
    assert "6      flatten  (1960)         1,960       0          0          0  global" in lines
    assert "total           (1960)        44,820  25,340  2,794,630  5,632,120" in lines


@pytest.mark.parametrize(
    "args",
    [("--input", "3x²x5"), ("--input", "3xHxW", "--set", "H=²"), ("--input", "3xHxW", "--sweep", "H=1" + "0" * 5000)],
    ids=["superscript input", "superscript set", "5000-digit sweep"],
)
def test_odd_digits_are_usage_errors(run_cli, args):
    code, out, err = run_cli("summary", "lenet5", *args)
    assert code == 2 and "error[usage-" in err and "internal" not in err, out + err

