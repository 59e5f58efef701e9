"""One input convention for every command: channels first, ``--layout hwc`` for the textbooks'
order, and a warning on stderr (the run still made) when a shape looks written the other way."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from convcalc.spec.layout import looks_other_layout, read_as, swap_layout
from convcalc.spec.zoo import builtin_names

WARNING = re.compile(r"^(?P<where>.+?): warning\[input-layout\]: (?P<message>.+)$")
CONV_3x3_64 = 64 * 3 * 3 * 3 + 64  # 1,792: conv2d 3 -> 64, kernel 3, with bias


def warnings(err: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in map(WARNING.match, err.splitlines()) if m]


def ok(run_cli, *args: str) -> tuple[str, str]:
    code, out, err = run_cli(*args)
    assert code == 0, f"exit {code}\n{out}\n{err}"
    return out, err


def params_line(out: str) -> str:
    return next(text.split()[1] for text in out.splitlines() if text.startswith("params "))


# -- the guess --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dims", "layout", "other"),
    [
        ((224, 224, 3), "chw", True),
        ((32, 32, 3), "chw", True),
        ((28, 28, 1), "chw", True),
        ((6, 6, 3), "chw", True),  # small, but two equal sizes beside a channel count
        ((480, 640, 3), "chw", True),  # not square, both large
        ((16, 112, 112, 3), "chw", True),  # D x H x W x C
        ((3, 224, 224), "hwc", True),
        ((3, 224, 224), "chw", False),
        ((224, 224, 3), "hwc", False),
        ((1, 28, 28), "chw", False),
        ((512, 7, 7), "chw", False),
        ((64, 3, 3), "chw", False),  # 3 x 3 pixels of 64 channels: a late feature map
        ((16, 5, 5), "chw", False),
        ((5, 5, 16), "chw", False),  # 16 is no channel count of an image: no guess
        ((8, 4, 3), "chw", False),
        ((224, 3), "chw", False),  # (C, L) and (L, C) are not guessed at
        ((3, "H", "W"), "chw", False),
        (("H", "W", 3), "hwc", False),
    ],
)
def test_looks_other_layout(dims, layout, other):
    assert looks_other_layout(dims, layout) is other


def test_read_as_names_each_axis_both_ways():
    assert read_as((224, 224, 3)) == "read channels first as C=224, H=224, W=3, but looks like H x W x C"
    assert read_as((3, 224, 224), "hwc") == "read channels last as H=3, W=224, C=224, but looks like C x H x W"
    assert read_as((16, 112, 112, 3)) == "read channels first as C=16, D=112, H=112, W=3, but looks like D x H x W x C"
    assert swap_layout((224, 224, 3)) == [3, 224, 224]
    assert swap_layout((3, 224, 224), "hwc") == [224, 224, 3]


def test_no_builtin_model_looks_channels_last():
    from convcalc import load_model

    for name in builtin_names():
        assert not looks_other_layout(load_model(name).input), name


# -- layer ------------------------------------------------------------------------------------------


def test_layer_reads_channels_first(run_cli):
    out, err = ok(run_cli, "layer", "conv2d", "--input", "3x224x224", "-k", "3", "-p", "1", "-n", "64")
    assert params_line(out) == f"{CONV_3x3_64:,}"
    assert out.splitlines()[0] == "conv2d  (3, 224, 224) -> (64, 224, 224)  (channels first)"
    assert err == ""


def test_layer_warns_on_a_channels_last_looking_input(run_cli):
    out, err = ok(run_cli, "layer", "conv2d", "--input", "224x224x3", "-k", "3", "-p", "1", "-n", "64")
    assert params_line(out) == f"{64 * 224 * 3 * 3 + 64:,}"  # what was asked: 224 input channels
    (warning,) = warnings(err)
    assert warning == {
        "where": "convcalc",
        "message": "--input 224x224x3 is read channels first as C=224, H=224, W=3, but looks like H x W x C"
                   " (write 3x224x224, or add --layout hwc)",
    }


def test_layer_layout_hwc_reads_and_prints_the_textbook_order(run_cli):
    out, err = ok(run_cli, "layer", "conv2d", "--input", "224x224x3", "--layout", "hwc", "-k", "3", "-p", "1", "-n", "64")
    assert params_line(out) == f"{CONV_3x3_64:,}"
    assert out.splitlines()[0] == "conv2d  (224, 224, 3) -> (224, 224, 64)  (H x W x C)"
    assert err == ""
    _, err = ok(run_cli, "layer", "conv2d", "--input", "3x224x224", "--layout", "hwc", "-k", "3", "-n", "64")
    assert warnings(err)[0]["message"].endswith("(write 224x224x3, or drop --layout hwc)")


def test_a_symbolic_channel_count_says_which_layout_is_read(run_cli):
    code, _, err = run_cli("layer", "conv2d", "--input", "HxWx3", "-k", "3", "-n", "64")
    assert code == 2
    assert err.strip() == (
        "convcalc: error[usage-input]: --input 'HxWx3': the channel count must be a number"
        " (chw: CxL, CxHxW or CxDxHxW; --layout hwc for channels last)"
    )
    out, _ = ok(run_cli, "layer", "conv2d", "--input", "HxWx3", "--layout", "hwc", "-k", "3", "-n", "64")
    assert params_line(out) == f"{CONV_3x3_64:,}"


def test_explain_reads_input_in_its_layout(run_cli):
    chw, err = ok(run_cli, "explain", "lenet5", "--input", "3x32x32", "--format", "json")
    hwc, _ = ok(run_cli, "explain", "lenet5", "--input", "32x32x3", "--layout", "hwc", "--format", "json")
    assert err == ""
    assert json.loads(chw)["totals"] == json.loads(hwc)["totals"]
    assert json.loads(hwc)["input_shape"] == [32, 32, 3]


# -- summary, rf, export and specs ------------------------------------------------------------------


def test_summary_input_in_either_layout(run_cli):
    chw, err = ok(run_cli, "summary", "resnet50", "--input", "3x224x224", "--format", "json")
    hwc, err_hwc = ok(run_cli, "summary", "resnet50", "--input", "224x224x3", "--layout", "hwc", "--format", "json")
    assert err == err_hwc == ""
    assert json.loads(chw)["totals"] == json.loads(hwc)["totals"]
    assert json.loads(hwc)["totals"]["params"] == 25_557_032
    assert json.loads(hwc)["input_shape"] == [3, 224, 224]  # the JSON report is channels first always


def test_summary_warns_on_a_channels_last_looking_input(run_cli):
    out, err = ok(run_cli, "summary", "resnet50", "--input", "224x224x3", "--format", "json")
    assert json.loads(out)["input_shape"] == [224, 224, 3]  # still made, as asked
    assert [w["where"] for w in warnings(err)] == ["convcalc"]


@pytest.mark.parametrize("command", ["rf", "export"])
def test_rf_and_export_read_input_in_their_layout(run_cli, command):
    _, err = ok(run_cli, command, "resnet18", "--input", "224x224x3", "--layout", "hwc")
    assert err == ""
    _, err = ok(run_cli, command, "resnet18", "--input", "224x224x3")
    assert len(warnings(err)) == 1


SPEC_HWC = "name: textbook order\ninput: [224, 224, 3]\nlayers:\n  - conv2d: {out_channels: 8, kernel_size: 3}\n"


@pytest.mark.parametrize("command", ["summary", "rf", "sizes", "explain", "export", "check"])
def test_a_spec_whose_input_looks_channels_last_warns_at_its_place(run_cli, tmp_path, command):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC_HWC, encoding="utf-8")
    args = ["--range", "8..9"] if command == "sizes" else []
    out, err = ok(run_cli, command, str(spec), *args)
    assert out
    (warning,) = warnings(err)
    assert warning == {
        "where": f"{spec}:2:8",
        "message": "input [224, 224, 3] is read channels first as C=224, H=224, W=3, but looks like H x W x C (write [3, 224, 224])",
    }


def test_a_spec_input_replaced_by_input_is_not_judged(run_cli, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC_HWC, encoding="utf-8")
    _, err = ok(run_cli, "summary", str(spec), "--input", "3x32x32")
    assert err == ""


def test_summary_json_stays_clean_with_a_warning(run_cli, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC_HWC, encoding="utf-8")
    out, err = ok(run_cli, "summary", str(spec), "--format", "json")
    assert json.loads(out)["totals"]["params"] == 8 * 224 * 3 * 3 + 8
    assert len(warnings(err)) == 1


def test_check_warns_without_failing(run_cli, tmp_path):
    """check says it at the spec's place and still exits 0 on held expectations; its JSON is clean."""
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC_HWC.replace("kernel_size: 3}", "kernel_size: 3}\n    expect: {params: 8*224*3*3 + 8}"), encoding="utf-8")
    out, err = ok(run_cli, "check", str(spec), "--format", "json")
    assert json.loads(out)["exit_code"] == 0
    assert [w["where"] for w in warnings(err)] == [f"{spec}:2:8"]


# -- compare's inline layers ------------------------------------------------------------------------

CONV = "conv2d:out_channels=5,kernel_size=3"


def test_compare_inline_inputs_are_channels_first(run_cli):
    out, err = ok(run_cli, "compare", f"{CONV}@3x6x6", f"{CONV}@3x8x8", "--format", "json")
    assert err == ""
    entries = json.loads(out)["entries"]
    assert [e["params"] for e in entries] == [5 * 3 * 3 * 3 + 5] * 2
    assert [e["output_shape"] for e in entries] == [[5, 4, 4], [5, 6, 6]]


def test_compare_layout_hwc_reads_and_prints_channels_last(run_cli):
    out, err = ok(run_cli, "compare", f"{CONV}@6x6x3", f"{CONV}@8x8x3", "--layout", "hwc")
    assert err == ""
    assert out.splitlines()[0] == f"A: {CONV}@6x6x3  ((6, 6, 3) -> (4, 4, 5))"
    assert re.search(r"output shape\s+\(4, 4, 5\)\s+\(6, 6, 5\)", out), out
    text, _ = ok(run_cli, "compare", f"{CONV}@6x6x3", f"{CONV}@8x8x3", "--layout", "hwc", "--format", "csv")
    assert [(row["input_shape"], row["output_shape"]) for row in csv.DictReader(io.StringIO(text))] == [("6x6x3", "4x4x5"), ("8x8x3", "6x6x5")]
    data, _ = ok(run_cli, "compare", f"{CONV}@6x6x3", f"{CONV}@8x8x3", "--layout", "hwc", "--format", "json")
    assert [e["input_shape"] for e in json.loads(data)["entries"]] == [[3, 6, 6], [3, 8, 8]]


def test_compare_warns_on_a_channels_last_looking_inline_input(run_cli):
    _, err = ok(run_cli, "compare", f"{CONV}@6x6x3", f"{CONV}@3x6x6")
    (warning,) = warnings(err)
    assert warning["message"] == (
        f"{CONV}@6x6x3: the input 6x6x3 is read channels first as C=6, H=6, W=3, but looks like H x W x C"
        " (write 3x6x6, or add --layout hwc)"
    )


# -- apply: channels-first stacks of matrices -------------------------------------------------------


def test_apply_reads_a_stack_channel_by_channel(run_cli):
    out, err = ok(run_cli, "apply", "--input", "[[[1,2],[3,4]],[[5,6],[7,8]]]", "--kernel", "[[[1]],[[10]]]", "--format", "json")
    assert err == ""
    assert json.loads(out)["output"] == [[1 + 10 * 5, 2 + 10 * 6], [3 + 10 * 7, 4 + 10 * 8]]


def test_apply_warns_on_pixels_written_with_their_channels(run_cli):
    image = [[[r * 10 + c, 0, 0] for c in range(5)] for r in range(5)]  # 5 x 5 pixels, 3 channels each
    text = json.dumps(image).replace(" ", "")
    _, err = ok(run_cli, "apply", "--input", text, "--pool", "max", "--pool-size", "1")
    (warning,) = warnings(err)
    assert warning == {
        "where": "convcalc",
        "message": "the input (5 matrices of 5x3) is read channels first as C=5, H=5, W=3, but looks like H x W x C"
                   " (give one matrix per channel: 3 matrices of 5x5)",
    }


def test_apply_help_states_the_convention(run_cli):
    out, _ = ok(run_cli, "apply", "--help")
    assert "channels first" in re.sub(r"\s+", " ", out.replace("│", " "))


def test_readme_states_one_convention():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "convcalc layer conv2d --input 3x224x224 -k 3 -p 1 -n 64" in readme
