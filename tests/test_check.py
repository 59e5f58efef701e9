"""``convcalc check``: expectations, budgets, baselines, the report formats and the exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from convcalc.analysis.check import check_file, load_baseline, parse_budget, parse_quantity, parse_tolerance
from convcalc.render.github import escape_data, escape_property
from convcalc.errors import Position, SpecError, UsageError

ROOT = Path(__file__).resolve().parents[1]
ANSWERS = Path(__file__).resolve().parent / "check_specs"
BUILTIN_SPECS = sorted((ROOT / "specs").glob("*.yaml"))
ERROR_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z-]+)\]: (?P<message>.*)$")
ANNOTATION = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),title=convcalc (?P<code>[a-z-]+)::(?P<message>.*)$")

# conv1: 6*(3*5*5) + 6 = 456 params, output (6, 28, 28); fc: 6*28*28*10 + 10 = 47050 params.
GUARDED = """\
name: guarded
input: [3, 32, 32]
layers:
  - conv2d: {out_channels: 6, kernel_size: 5}
    name: conv1
    expect: {shape: [6, 27, 27], params: 450}
  - relu
  - flatten
  - linear: {out_features: 10}
    name: fc
expect: {params: 47506}
budget: {params: "<= 40K", macs: "<= 1M"}
"""
FIXED = GUARDED.replace("[6, 27, 27], params: 450", "[6, 28, 28], params: 456").replace("<= 40K", "<= 50K")


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def error_lines(out: str) -> list[re.Match]:
    return [m for m in map(ERROR_LINE.match, out.splitlines()) if m]


# --- budgets: human units, exact -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "op", "limit"),
    [
        ("params", "<= 25M", "<=", 25 * 10**6),
        ("macs", "<= 4.2G", "<=", 42 * 10**8),
        ("macs", "< 4.2e9", "<", 42 * 10**8),
        ("activation_bytes", "<= 200MiB", "<=", 200 * 2**20),
        ("activation_bytes", "<= 1.5GB", "<=", 15 * 10**8),
        ("peak_activation_bytes", "< 512KiB", "<", 512 * 2**10),
        ("peak_activation_bytes", "<= 3B", "<=", 3),
        ("receptive_field", ">= 200", ">=", 200),
        ("layers", "<= 200", "<=", 200),
        ("params", "== 62_006", "==", 62006),
        ("params", "100k", "<=", 100 * 10**3),  # a bare number is a ceiling
        ("flops", "> 0.5T", ">", 5 * 10**11),
        ("params", "<= 1.0005K", "<=", Fraction(10005, 10)),  # never rounded
        ("features.stage4.params", "<= 8M", "<=", 8 * 10**6),
    ],
)
def test_budget_parser(key, text, op, limit):
    budget = parse_budget(key, text)
    assert (budget.op, budget.limit) == (op, limit)
    assert isinstance(budget.limit, Fraction)


def test_budget_integer_value_is_a_ceiling():
    budget = parse_budget("layers", 200)
    assert (budget.op, budget.limit, budget.path, budget.metric) == ("<=", 200, "", "layers")


def test_budget_path_and_metric():
    budget = parse_budget("features.stage4.params", "<= 8M")
    assert (budget.path, budget.metric) == ("features.stage4", "params")


def test_parse_quantity_is_exact():
    assert parse_quantity("4.2G") == 4_200_000_000
    assert parse_quantity("0.1K") == 100
    assert parse_quantity("1.5KiB", byte_units=True) == 3 * 2**9


@given(whole=st.integers(0, 10**6), thousandths=st.integers(0, 999), unit=st.sampled_from(["", "K", "M", "G", "T", "KiB", "MiB", "GiB", "TiB", "KB", "MB"]))
def test_parse_quantity_exact_for_any_decimal(whole, thousandths, unit):
    scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "KB": 10**3, "MB": 10**6}[unit]
    assert parse_quantity(f"{whole}.{thousandths:03d}{unit}", byte_units=True) == Fraction(whole * 1000 + thousandths, 1000) * scale


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("params", "<= 4.2Q", "unknown unit 'Q'"),
        ("params", "<= 25MiB", "byte units are for activation_bytes"),
        ("params", "about 25M", "cannot read"),
        ("params", "=< 3", "cannot read"),
        ("params", "<= -1", "cannot read"),
        ("params", "<=", "cannot read"),
        ("macs", "<= 1e999", "out of range"),
        ("activation_bytes", "<= 2 MiBs", "unknown unit 'MiBs'"),
    ],
)
def test_budget_parser_rejects(key, text, reason):
    where = Position("net.yaml", 12, 11)
    with pytest.raises(SpecError) as caught:
        parse_budget(key, text, where)
    assert caught.value.code == "check-budget-syntax"
    assert caught.value.pos == where
    assert reason in caught.value.message


@pytest.mark.parametrize(("text", "value"), [("1%", Fraction(1, 100)), ("0.5%", Fraction(1, 200)), ("0", 0), ("0%", 0)])
def test_tolerance(text, value):
    assert parse_tolerance(text) == value


@pytest.mark.parametrize("text", ["1", "-1%", "one%", "%"])
def test_tolerance_rejects(text):
    with pytest.raises(UsageError):
        parse_tolerance(text)


# --- the CI guard ----------------------------------------------------------------------------


def test_two_wrong_expectations_and_a_broken_budget(run_cli, tmp_path):
    spec = write(tmp_path, "guarded.yaml", GUARDED)
    code, out, err = run_cli("check", "--format", "human", spec)
    assert code == 1, out + err
    found = [(int(m["line"]), int(m["col"]), m["code"], m["message"]) for m in error_lines(out)]
    assert found == [
        (6, 21, "check-expect", "conv1 shape: expected (6, 27, 27), got (6, 28, 28)"),
        (6, 42, "check-expect", "conv1 params: expected 450, got 456"),
        (12, 18, "check-budget", "model params: expected <= 40K (<= 40000), got 47506"),
    ], out
    assert all(m["file"] == spec for m in error_lines(out))
    assert "    params = C_out*(C_in/groups)*k*k + C_out = 6*(3/1)*5*5 + 6 = 456" in out.splitlines()
    assert "    params = sum over the 4 layers of model (2 non-zero) = 456 + 47050 = 47506" in out.splitlines()
    assert out.splitlines()[-1] == f"{spec}: 3 expectations, 2 budgets: 3 failed"


def test_fixed_spec_passes(run_cli, tmp_path):
    spec = write(tmp_path, "guarded.yaml", FIXED)
    code, out, err = run_cli("check", "--format", "human", spec)
    assert code == 0, out + err
    assert out == f"{spec}: 3 expectations, 2 budgets: all hold\n"


def test_missing_file_exits_2(run_cli, tmp_path):
    code, out, _ = run_cli("check", "--format", "human", str(tmp_path / "absent.yaml"))
    assert code == 2, out
    assert "error[io-missing]" in out


def test_worst_exit_over_many_files(run_cli, tmp_path):
    good = write(tmp_path, "good.yaml", FIXED)
    bad = write(tmp_path, "bad.yaml", GUARDED)
    absent = str(tmp_path / "absent.yaml")
    assert run_cli("check", good, good)[0] == 0
    assert run_cli("check", good, bad)[0] == 1
    code, out, _ = run_cli("check", "--format", "human", absent, bad, good)
    assert code == 2
    assert out.splitlines()[-1] == "3 files: 1 ok, 1 failed, 1 error"


def test_exit_zero(run_cli, tmp_path):
    bad = write(tmp_path, "bad.yaml", GUARDED)
    assert run_cli("check", "--exit-zero", bad)[0] == 0
    assert run_cli("check", "--exit-zero", bad, str(tmp_path / "absent.yaml"))[0] == 2  # could not run


def test_spec_error_is_reported_and_other_files_go_on(run_cli, tmp_path):
    broken = write(tmp_path, "broken.yaml", FIXED.replace("conv2d:", "conv2e:"))
    good = write(tmp_path, "good.yaml", FIXED)
    code, out, _ = run_cli("check", "--format", "human", broken, good)
    assert code == 1, out
    (line,) = error_lines(out)
    assert (line["file"], line["line"], line["col"], line["code"]) == (broken, "4", "5", "spec-unknown-kind")
    assert f"{good}: 3 expectations, 2 budgets: all hold" in out.splitlines()


def test_builtin_model_name(run_cli):
    code, out, _ = run_cli("check", "--format", "human", "lenet5")
    assert (code, out) == (0, "lenet5.yaml: 5 expectations, 0 budgets: all hold\n")


def test_malformed_budget_exits_1_at_its_value(run_cli, tmp_path):
    spec = write(tmp_path, "typo.yaml", FIXED.replace("<= 1M", "<= 4.2Q"))
    code, out, _ = run_cli("check", "--format", "human", spec)
    assert code == 1
    (line,) = error_lines(out)
    assert (line["line"], line["col"], line["code"]) == ("12", "34", "check-budget-syntax")


def test_unknown_layer_in_a_budget(run_cli, tmp_path):
    spec = write(tmp_path, "unknown.yaml", FIXED.replace('macs: "<= 1M"', 'conv2.params: "<= 1K"'))
    code, out, _ = run_cli("check", "--format", "human", spec)
    assert code == 1
    (line,) = error_lines(out)
    assert line["code"] == "check-unknown-layer"
    assert line["message"] == "budget conv2.params: no layer or block at 'conv2' (did you mean 'conv1'?)"


def test_expectation_written_as_arithmetic(tmp_path):
    spec = write(tmp_path, "arith.yaml", FIXED.replace("params: 456", 'params: "6*(3*5*5) + 6", activations: "28*28*6"'))
    result = check_file(spec)
    assert result.status == "ok", result.failures
    assert result.count("expect") == 4


def test_unreadable_expectation(tmp_path):
    spec = write(tmp_path, "bad_expect.yaml", FIXED.replace("params: 456", 'params: "6*(3*5*5"'))
    result = check_file(spec)
    assert (result.status, result.exit_code, result.error.code) == ("error", 1, "check-expect-syntax")


# --- what expectations and budgets measure ----------------------------------------------------


RESIDUAL = """\
name: residual
input: [3, 32, 32]
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
    name: stem
  - residual:
      body:
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
        - relu
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
    name: res
    expect: {shape: [8, 32, 32], params: "2 * (8*8*9 + 8)", activations: "4 * 8*32*32", receptive_field: 7}
  - global_avg_pool
  - flatten
  - linear: {out_features: 10}
expect: {receptive_field: 3}
budget:
  res.params: "<= 1K"
  res.layers: "== 4"
  receptive_field: ">= 200"
  peak_activation_bytes: "<= 10KiB"
"""


def test_group_expectations_and_budgets(tmp_path):
    result = check_file(write(tmp_path, "residual.yaml", RESIDUAL))
    failures = {(v.code, v.message) for v in result.failures}
    assert failures == {
        # the final layer is linear: it sees the whole input
        ("check-expect", "model receptive_field: expected 3, got global"),
        ("check-budget", "res (residual) params: expected <= 1K (<= 1000), got 1168"),
        # peak at res.1: the stem output (kept for the add), res.0 and res.1, each 8*32*32 floats
        ("check-budget", "model peak_activation_bytes: expected <= 10KiB (<= 10240), got 98304"),
    }
    peak = next(v for v in result.failures if "peak" in v.message)
    assert peak.actual == 3 * 8 * 32 * 32 * 4
    assert peak.formulas == ("peak at res.1 (relu): 24576 elements alive * batch 1 * 4 bytes (float32) = 98304",)
    held = {v.message for v in result.verdicts if v.ok}
    assert "res (residual) receptive_field = (7, 7)" in held  # 3 + 2 + 2, through the body
    assert "model receptive_field = global, >= 200" in held  # a global field satisfies >=
    assert "res (residual) layers = 4, == 4" in held  # conv, relu, conv, add


def test_duplicate_names_check_their_own_layer(tmp_path):
    text = """\
    name: twins
    input: [3, 8, 8]
    blocks:
      pair:
        params: {c: ~}
        layers:
          - conv2d: {out_channels: $c, kernel_size: 3, padding: 1}
    layers:
      - conv2d: {out_channels: 4, kernel_size: 3}
        name: a
        expect: {params: 112}
      - conv2d: {out_channels: 5, kernel_size: 3}
        name: a
        expect: {params: 185}
      - pair: {c: 6}
        name: s
        expect: {params: 276}
      - pair: {c: 7}
        name: s
        expect: {params: 385}
    """
    # 4*(3*9)+4 = 112, 5*(4*9)+5 = 185, 6*(5*9)+6 = 276, 7*(6*9)+7 = 385
    result = check_file(write(tmp_path, "twins.yaml", text))
    assert result.status == "ok", [v.message for v in result.failures]


def test_symbolic_sizes(tmp_path):
    text = """\
    name: symbolic
    input: [3, H, W]
    layers:
      - conv2d: {out_channels: 6, kernel_size: 5}
        expect: {shape: [6, "H-4", "W-4"], macs: "6*75*(H-4)*(W-4)", params: 456}
    budget: {params: "<= 1K", macs: "<= 1M"}
    """
    result = check_file(write(tmp_path, "symbolic.yaml", text))
    (failure,) = result.failures
    assert failure.code == "check-budget"
    assert failure.message.endswith("which depends on H, W: cannot decide")


# --- the homework checker: the two slide errata (walkthroughs.yaml) ----------------------------


def test_lenet_slide_erratum_is_flagged():
    """lenet5_table: the slide prints CONV1's activation size as 4707; 28*28*6 = 4704."""
    result = check_file(str(ANSWERS / "lenet5_answers.yaml"))
    (wrong,) = result.failures
    assert (wrong.code, wrong.pos.line, wrong.expected, wrong.actual) == ("check-expect", 9, 4707, 28 * 28 * 6)
    assert wrong.message == "CONV1 activations: expected 4707, got 4704"
    assert wrong.formulas == ("activations = C*H*W = 6*28*28 = 4704",)
    assert result.count("expect") == 7 * 3 + 2  # every cell of the table, and the totals


def test_vgg_slide_erratum_is_flagged():
    """vgg16: the slide lists stage 4's convs as 14x14x512; after the 28x28x256 pool they are 28x28x512."""
    result = check_file(str(ANSWERS / "vgg16_answers.yaml"))
    wrong = result.failures
    assert [v.message.split(" ")[0] for v in wrong] == ["conv4_1", "conv4_2", "conv4_3"]
    for v in wrong:
        assert (v.expected, v.actual) == ([512, 14, 14], [512, 28, 28])
        assert "H_out = floor((H_in + 2p - d*(k-1) - 1) / s) + 1 = floor((28 + 2*1 - 1*(3-1) - 1) / 1) + 1 = 28" in v.formulas
    assert result.count("expect") == 18 + 3 * 2 + 3  # 13 convs and 5 pools, 3 linears, the totals


def test_student_sees_each_answer_marked(run_cli):
    code, out, _ = run_cli("check", "--format", "human", "--verbose", str(ANSWERS / "lenet5_answers.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert sum(": ok: " in line for line in lines) == 22
    assert any(line.endswith(": ok: POOL1 activations = 1176") for line in lines)  # "14*14*6"


# --- built-in specs: every expectation holds ---------------------------------------------------


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=lambda p: p.name)
def test_builtin_spec_expectations_hold(spec):
    result = check_file(str(spec))
    assert result.status == "ok", [v.render() for v in result.failures]


# --- formats -----------------------------------------------------------------------------------


def test_json_shape(run_cli, tmp_path):
    bad = write(tmp_path, "bad.yaml", GUARDED)
    good = write(tmp_path, "good.yaml", FIXED)
    broken = write(tmp_path, "broken.yaml", "name: x\n")
    absent = str(tmp_path / "absent.yaml")
    code, out, _ = run_cli("check", "--format", "json", bad, good, broken, absent)
    assert code == 2
    data = json.loads(out)
    assert set(data) == {"schema_version", "files", "exit_code"}
    assert (data["schema_version"], data["exit_code"]) == (1, 2)
    for entry in data["files"]:
        assert set(entry) == {"file", "status", "exit_code", "errors", "checked", "skipped"}
        assert entry["skipped"] is None
        assert isinstance(entry["file"], str) and isinstance(entry["checked"], int)
        assert entry["status"] in ("ok", "failed", "error") and entry["exit_code"] in (0, 1, 2)
        for error in entry["errors"]:
            assert set(error) == {"code", "message", "line", "col", "expected", "actual", "formula"}
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
            assert error["line"] is None or isinstance(error["line"], int)
            assert error["col"] is None or isinstance(error["col"], int)
            assert error["formula"] is None or isinstance(error["formula"], str)
    by_file = {entry["file"]: entry for entry in data["files"]}
    assert [(by_file[f]["status"], by_file[f]["exit_code"], by_file[f]["checked"]) for f in (bad, good, broken, absent)] == [
        ("failed", 1, 5), ("ok", 0, 5), ("error", 1, 0), ("error", 2, 0),
    ]
    first = by_file[bad]["errors"][0]
    assert first == {
        "code": "check-expect", "message": "conv1 shape: expected (6, 27, 27), got (6, 28, 28)", "line": 6, "col": 21,
        "expected": [6, 27, 27], "actual": [6, 28, 28], "formula": first["formula"],
    }
    assert first["formula"].splitlines()[0] == "C_out = out_channels = 6"
    assert by_file[bad]["errors"][2]["expected"] == "<= 40K"
    assert by_file[absent]["errors"][0]["code"] == "io-missing"


def test_github_annotations(run_cli, tmp_path):
    bad = write(tmp_path, "bad.yaml", GUARDED)
    code, out, _ = run_cli("check", "--format", "github", bad)
    assert code == 1
    annotations = [m for m in map(ANNOTATION.match, out.splitlines()) if m]
    assert [(m["line"], m["col"], m["code"]) for m in annotations] == [("6", "21", "check-expect"), ("6", "42", "check-expect"), ("12", "18", "check-budget")]
    assert all(m["file"] == escape_property(bad) for m in annotations)
    assert annotations[1]["message"] == "conv1 params: expected 450, got 456%0Aparams = C_out*(C_in/groups)*k*k + C_out = 6*(3/1)*5*5 + 6 = 456"


def test_auto_format_under_github_actions(tmp_path):
    from typer.testing import CliRunner

    from convcalc.cli import app

    bad = write(tmp_path, "bad.yaml", GUARDED)
    under_actions = CliRunner().invoke(app, ["check", bad], env={"GITHUB_ACTIONS": "true"})
    elsewhere = CliRunner().invoke(app, ["check", bad], env={"GITHUB_ACTIONS": ""})
    assert under_actions.stdout.startswith("::error file=")
    assert ERROR_LINE.match(elsewhere.stdout.splitlines()[0])


def test_github_escaping():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


# --- baseline ----------------------------------------------------------------------------------


def test_baseline_drift_names_the_layers(run_cli, tmp_path):
    spec = write(tmp_path, "net.yaml", FIXED)
    code, saved, err = run_cli("summary", spec, "--format", "json")
    assert code == 0, err
    baseline = tmp_path / "baseline.json"
    baseline.write_text(saved)
    assert run_cli("check", spec, "--baseline", str(baseline))[0] == 0

    changed = write(tmp_path, "net.yaml", FIXED.replace("out_channels: 6", "out_channels: 7").replace("- relu", "- tanh:\n    name: act").replace("[6, 28, 28], params: 456", "[7, 28, 28], params: 532"))
    code, out, _ = run_cli("check", "--format", "human", changed, "--baseline", str(baseline), "--tolerance", "1%")
    assert code == 1, out
    messages = [m["message"] for m in error_lines(out) if m["code"] == "check-baseline"]
    assert f"total params drifted: expected 47506 (baseline {baseline}, tolerance 1%), got 55422 (+16.66%)" in messages
    assert any(m.startswith("layer conv1 changed") and "params expected 456, got 532" in m for m in messages)
    assert any(m.startswith("layer act (tanh) added") for m in messages)
    assert any(m.startswith("layer 1 removed") for m in messages)
    assert any(m.startswith("layer fc changed") for m in messages)
    conv1 = next(v for v in check_file(changed, load_baseline(str(baseline)), Fraction(1, 100)).failures if v.message.startswith("layer conv1"))
    assert conv1.expected == {"path": "conv1", "output_shape": [6, 28, 28], "params": 6 * 75 + 6, "macs": 28 * 28 * 6 * 75}
    assert conv1.actual == {"path": "conv1", "output_shape": [7, 28, 28], "params": 7 * 75 + 7, "macs": 28 * 28 * 7 * 75}


def test_baseline_within_tolerance(run_cli, tmp_path):
    spec = write(tmp_path, "net.yaml", FIXED)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(run_cli("summary", spec, "--format", "json")[1])
    data = json.loads(baseline.read_text())
    data["totals"]["params"] += 100  # 100 / 47606 is 0.21%
    baseline.write_text(json.dumps(data))
    assert run_cli("check", spec, "--baseline", str(baseline), "--tolerance", "1%")[0] == 0
    assert run_cli("check", spec, "--baseline", str(baseline), "--tolerance", "0.1%")[0] == 1


@pytest.mark.parametrize("content", ["not json", "[]", '{"totals": {}, "layers": [{"params": 1}]}', '{"totals": {"params": "x"}}', '{"totals": {"params": true}, "layers": []}'])
def test_malformed_baseline_exits_2(run_cli, tmp_path, content):
    spec = write(tmp_path, "net.yaml", FIXED)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    code, _, err = run_cli("check", spec, "--baseline", str(baseline))
    assert code == 2
    assert "error[usage-baseline]" in err


def test_baseline_usage(run_cli, tmp_path):
    spec = write(tmp_path, "net.yaml", FIXED)
    assert run_cli("check", spec, "--tolerance", "1%")[0] == 2
    assert run_cli("check", spec, spec, "--baseline", str(tmp_path / "b.json"))[0] == 2


# --- pre-commit --------------------------------------------------------------------------------


def test_pre_commit_hook_on_a_sample_repository(tmp_path):
    """Run the hook as pre-commit would: its entry, on the staged files of its `types` (yaml)."""
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["language"], hook["types"]) == ("convcalc-check", "python", ["yaml"])
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write(repo / "specs", "net.yml", FIXED)
    write(repo, "README.md", "not a spec\n")
    write(repo, ".pre-commit-config.yaml", "repos: []\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    entry = hook["entry"].split()
    executable = shutil.which(entry[0]) or str(Path(sys.executable).with_name(entry[0]))

    def run_hook() -> subprocess.CompletedProcess:
        staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=repo, check=True, capture_output=True, text=True).stdout.split()
        files = [f for f in staged if f.endswith((".yaml", ".yml"))]
        return subprocess.run([executable, *entry[1:], *files], cwd=repo, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})

    passed = run_hook()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines() == [
        ".pre-commit-config.yaml: skipped, not a convcalc spec: none of its keys (repos) is one of input, batch, layers, blocks, expect, budget",
        "specs/net.yml: 3 expectations, 2 budgets: all hold",
        "2 files: 1 ok, 1 skipped",
    ]
    write(repo / "specs", "net.yml", GUARDED)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    failed = run_hook()
    assert failed.returncode == 1
    assert [m["file"] for m in error_lines(failed.stdout)] == ["specs/net.yml"] * 3
