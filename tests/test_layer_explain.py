"""`convcalc layer` and `convcalc explain`: one layer (or every layer of a spec) derived step by
step, with the textbook numbers of ../shared/reference/walkthroughs.yaml written out here."""

from __future__ import annotations

import ast
import json
import operator
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

from helpers import OUTPUT_SIZE_CASES


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, f"exit {code}\n{out}\n{err}"
    return out


def layer_json(*args: str) -> dict:
    return json.loads(ok("layer", *args, "--format", "json"))


def line(out: str, start: str) -> str:
    """The first output line that starts with ``start`` (leading spaces ignored)."""
    return next(text.strip() for text in out.splitlines() if text.strip().startswith(start))


# -- LeNet-5 CONV1 (walkthroughs.yaml lenet5_table) ------------------------------------------------


def test_conv2d_explain_shows_symbols_numbers_and_result():
    out = ok("layer", "conv2d", "--input", "32x32x3", "--layout", "hwc", "-k", "5", "-n", "6", "--explain")
    assert line(out, "H_out") == "H_out = floor((H_in + 2p - d*(k-1) - 1) / s) + 1 = floor((32 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 28"
    assert line(out, "params =") == "params = C_out*(C_in/groups)*k*k + C_out = 6*(3/1)*5*5 + 6 = 456"
    assert line(out, "MACs =") == f"MACs = H_out*W_out*C_out*(C_in/groups)*k*k = 28*28*6*(3/1)*5*5 = {28 * 28 * 6 * 3 * 5 * 5}"
    assert line(out, "FLOPs =") == f"FLOPs = 2*MACs + H_out*W_out*C_out = 2*352800 + 28*28*6 = {2 * 352800 + 28 * 28 * 6}"
    assert line(out, "RF H, W: r_out") == "RF H, W: r_out = r_in + (k_eff-1)*j_in = 1 + (5-1)*1 = 5"
    assert line(out, "RF H, W: start_out") == "RF H, W: start_out = start_in + ((k_eff-1)/2 - p)*j_in = 0 + ((5-1)/2 - 0)*1 = 2"
    assert line(out, "RF H, W: P_eff") == "RF H, W: P_eff = (r_out-1)/2 - start_out = (5-1)/2 - 2 = 0"
    assert line(out, "conv2d") == "conv2d  (32, 32, 3) -> (28, 28, 6)  (H x W x C)"
    assert line(out, "params ").split() == ["params", "456"]
    assert line(out, "activations").split() == ["activations", f"{28 * 28 * 6:,}"]


def test_without_explain_no_formulas():
    out = ok("layer", "conv2d", "--input", "3x32x32", "-k", "5", "-n", "6")
    assert "floor(" not in out
    assert line(out, "receptive field") == "receptive field  H: size 5, jump 1, start 2, padding 0"


def test_json_report():
    data = layer_json("conv2d", "--input", "32x32x3", "--layout", "hwc", "-k", "5", "-n", "6")
    (conv,) = data["layers"]
    assert (data["layout"], data["input_shape"], data["output_shape"]) == ("hwc", [32, 32, 3], [28, 28, 6])
    assert (conv["params"], conv["macs"], conv["flops"]) == (6 * 3 * 5 * 5 + 6, 28 * 28 * 6 * 3 * 5 * 5, 2 * 352800 + 28 * 28 * 6)
    assert conv["receptive_field"] == [{"axis": axis, "size": 5, "jump": 1, "start": 2, "padding": 0, "first": [0, 4], "period": 1} for axis in "HW"]
    assert conv["arguments"] == {"out_channels": 6, "kernel_size": 5, "padding": [[0, 0], [0, 0]]}
    assert data["totals"]["params"] == 456


def test_channels_first_by_default_as_every_command():
    data = layer_json("conv2d", "--input", "3x32x32", "-k", "5", "-n", "6")
    assert (data["layout"], data["input_shape"], data["output_shape"]) == ("chw", [3, 32, 32], [6, 28, 28])
    assert line(ok("layer", "conv", "--input", "3x32x32", "--layout", "chw", "-k", "5", "-n", "6"), "conv2d") == "conv2d  (3, 32, 32) -> (6, 28, 28)  (channels first)"


# -- walkthroughs.yaml output_size_formula: [in, f, s, p, d] -> out ---------------------------------


@pytest.mark.parametrize(
    ("size", "f", "s", "p", "d", "out"),
    OUTPUT_SIZE_CASES,
    ids=lambda v: str(v),
)
def test_output_size_formula_cases(size, f, s, p, d, out):
    text = ok("layer", "conv", "--input", f"1x{size}x{size}", "-k", f, "-s", s, "-p", p, "-d", d, "-n", 1, "--explain")
    assert line(text, "H_out") == f"H_out = floor((H_in + 2p - d*(k-1) - 1) / s) + 1 = floor(({size} + 2*{p} - {d}*({f}-1) - 1) / {s}) + 1 = {out}"
    assert line(text, "RF H, W: k_eff") == f"RF H, W: k_eff = d*(k-1) + 1 = {d}*({f}-1) + 1 = {d * (f - 1) + 1}"


# -- walkthroughs.yaml parameter_examples and depthwise_separable -----------------------------------


@pytest.mark.parametrize(
    ("args", "params"),
    [
        (("conv", "--input", "3x39x39", "-k", 3, "-n", 10), 10 * 3 * 3 * 3 + 10),  # 280
        (("conv", "--input", "3x6x6", "-k", 3, "-n", 4, "--no-bias"), 4 * 3 * 3 * 3),  # 108
        (("conv", "--input", "3x6x6", "-k", 3, "-n", 4), 4 * 3 * 3 * 3 + 4),  # 112
        (("dense", "--input", "3x1000x1000", "-n", 1000, "--no-bias"), 1000 * 1000 * 3 * 1000),  # 3,000,000,000
        (("linear", "--input", "3x224x224", "-n", 128, "--no-bias"), 224 * 224 * 3 * 128),  # 19,267,584
    ],
    ids=["280", "108-no-bias", "112-bias", "dense-3x1000x1000", "dense-3x224x224"],
)
def test_parameter_examples(args, params):
    assert layer_json(*args)["layers"][-1]["params"] == params
    assert line(ok("layer", *args), "params ").split() == ["params", f"{params:,}"]


def test_dense_on_an_image_flattens_first():
    out = ok("layer", "linear", "--input", "3x224x224", "-n", 128, "--no-bias", "--explain")
    assert line(out, "features =") == f"features = 3*224*224 = {3 * 224 * 224}"
    assert line(out, "params =") == f"params = in*out = 150528*128 = {224 * 224 * 3 * 128}"
    assert line(out, "RF:") == "RF: global (every output sees the whole input)"
    assert line(out, "first") == "first            flatten: (3, 224, 224) -> (150528)"


def test_linear_on_features():
    out = ok("layer", "fc", "--input", "400", "-n", 120, "--explain")
    assert line(out, "params =") == f"params = in*out + out = 400*120 + 120 = {400 * 120 + 120}"


@pytest.mark.parametrize(
    ("args", "macs"),
    [
        (("conv", "--input", "3x6x6", "-k", 3, "-n", 5), 4 * 4 * 5 * 3 * 3 * 3),  # normal 2160
        (("conv", "--input", "3x6x6", "-k", 3, "-n", 3, "-g", 3), 4 * 4 * 3 * 3 * 3),  # depthwise 432
        (("conv", "--input", "3x4x4", "-k", 1, "-n", 5), 4 * 4 * 5 * 3),  # pointwise 240
    ],
    ids=["normal", "depthwise", "pointwise"],
)
def test_depthwise_separable(args, macs):
    assert layer_json(*args)["layers"][0]["macs"] == macs


def test_depthwise_separable_ratio():
    macs = [layer_json(*args)["layers"][0]["macs"] for args in (
        ("conv", "--input", "3x6x6", "-k", 3, "-n", 5),
        ("conv", "--input", "3x6x6", "-k", 3, "-n", 3, "-g", 3),
        ("conv", "--input", "3x4x4", "-k", 1, "-n", 5),
    )]
    assert (macs[1] + macs[2]) * 45 == macs[0] * 14  # 672 / 2160 = 14/45 = 1/5 + 1/9


def test_depthwise_formula_shows_groups():
    out = ok("layer", "conv", "--input", "3x6x6", "-k", 3, "-n", 3, "-g", 3, "--explain")
    assert line(out, "MACs =") == "MACs = H_out*W_out*C_out*(C_in/groups)*k*k = 4*4*3*(3/3)*3*3 = 432"


# -- transposed conv, pooling, 'same' padding, adaptive pooling ----------------------------------


def test_transposed_conv():
    out = ok("layer", "deconv", "--input", "4x4x16", "--layout", "hwc", "-k", 3, "-s", 2, "-p", 1, "--output-padding", 1, "-n", 8, "--explain")
    assert line(out, "conv_transpose2d") == "conv_transpose2d  (4, 4, 16) -> (8, 8, 8)  (H x W x C)"
    assert line(out, "H_out") == "H_out = (H_in - 1)*s - 2p + d*(k-1) + output_padding + 1 = (4 - 1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 8"
    assert line(out, "params =") == f"params = C_in*(C_out/groups)*k*k + C_out = 16*(8/1)*3*3 + 8 = {16 * 8 * 3 * 3 + 8}"
    assert line(out, "MACs (") == f"MACs (per input position) = H_in*W_in*C_in*(C_out/groups)*k*k = 4*4*16*(8/1)*3*3 = {4 * 4 * 16 * 8 * 3 * 3}"
    assert line(out, "RF H, W: output o") == "RF H, W: output o reads every input i with i*s - p + t*d equal to o, t from 0 to k-1 (s 2, p 1, d 1, k 3)"
    assert line(out, "RF H, W: j_out") == "RF H, W: j_out = j_in/s = 1/2 = 1/2"
    # output 0 reads input 0 (t = 1); output 1 reads inputs 0 and 1 (t = 2 and 0): two fields, of 1 and 2 pixels
    assert line(out, "RF H, W: size") == "RF H, W: size 2 (the largest field), jump 1/2; the first output reads [0, 0], start 0; the fields repeat every 2 outputs"
    rf = layer_json("deconv", "--input", "16x4x4", "-k", 3, "-s", 2, "-p", 1, "--output-padding", 1, "-n", 8)["layers"][0]["receptive_field"][0]
    assert rf == {"axis": "H", "size": 2, "jump": "1/2", "start": 0, "padding": 0, "first": [0, 0], "period": 2}


@pytest.mark.parametrize(
    ("size", "args", "out"),
    [
        (32, ("-k", 1, "-s", 2), 16),
        (5, ("-k", 2, "-s", 2, "-p", 1), 3),
    ],
    ids=["32-k1-s2", "5-k2-s2-p1"],
)
def test_ceil_mode_pool(size, args, out):
    data = layer_json("pool", "--input", f"4x{size}x{size}", *args, "--ceil-mode")
    assert (data["layers"][0]["kind"], data["output_shape"]) == ("max_pool2d", [4, out, out])


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    out = ok("layer", "maxpool", "--input", "16x5x5", "-k", 2, "-s", 2, "-p", 1, "--ceil-mode", "--explain")
    assert line(out, "H_out") == (
        "H_out = ceil((H_in + 2p - d*(k-1) - 1) / s) + 1 = ceil((5 + 2*1 - 1*(2-1) - 1) / 2) + 1 - 1 = 3"
        " (the last window would start in the padding)"
    )
    # windows [-1, 0], [1, 2], [3, 4] hold 1 + 2 + 2 = 5 input elements per axis; max: window - 1 each
    assert line(out, "FLOPs =").startswith(f"FLOPs = C*taps_H*taps_W - C*H_out*W_out = 16*5*5 - 16*3*3 = {16 * 5 * 5 - 16 * 3 * 3}")


def test_tf_same_at_stride_2_pads_2_before_and_3_after():
    out = ok("layer", "conv", "--input", "3x224x224", "-k", 7, "-s", 2, "-p", "same", "-n", 64, "--explain")
    assert line(out, "H_out") == "H_out = floor((H_in + p_before + p_after - d*(k-1) - 1) / s) + 1 = floor((224 + 2 + 3 - 1*(7-1) - 1) / 2) + 1 = 112"
    assert "padding=[[2, 3], [2, 3]]" in line(out, "arguments")
    assert line(out, "RF H, W: start_out") == "RF H, W: start_out = start_in + ((k_eff-1)/2 - p)*j_in = 0 + ((7-1)/2 - 2)*1 = 1"
    data = layer_json("conv", "--input", "3x224x224", "-k", 7, "-s", 2, "-p", "same", "-n", 64)
    assert (data["output_shape"], data["layers"][0]["arguments"]["padding"]) == ([64, 112, 112], [[2, 3], [2, 3]])


def test_explicit_padding_pairs_and_per_axis_values():
    data = layer_json("conv", "--input", "1x10x12", "-k", "3,5", "-p", "0:1,2", "-n", 1)
    assert data["output_shape"] == [1, (10 + 0 + 1 - 3) + 1, (12 + 2 * 2 - 5) + 1]


def test_adaptive_pool_13_to_6():
    out = ok("layer", "adaptive_pool", "--input", "13x13x256", "--layout", "hwc", "--output-size", 6, "--explain")
    assert line(out, "adaptive_avg_pool2d") == "adaptive_avg_pool2d  (13, 13, 256) -> (6, 6, 256)  (H x W x C)"
    assert line(out, "H fixed-window") == (
        "H fixed-window equivalent: s = floor(H_in/H_out) = floor(13/6) = 2, k = H_in - (H_out-1)*s = 13 - (6-1)*2 = 3"
    )
    # PyTorch's windows [floor(13i/6), ceil(13(i+1)/6)) all hold 3 inputs, 13/6 apart on average
    assert line(out, "RF H, W: output i") == "RF H, W: output i reads the inputs floor(i*n/m) to ceil((i+1)*n/m) - 1 (n 13, m 6)"
    assert line(out, "RF H, W: j_out") == "RF H, W: j_out = j_in*n/m = 1*13/6 = 13/6"
    assert line(out, "RF H, W: size") == "RF H, W: size 3 (the largest field), jump 13/6; the first output reads [0, 2], start 1; the fields repeat every 6 outputs"


@pytest.mark.parametrize(
    ("kind", "shape", "resolved"),
    [
        ("conv", "4x100", "conv1d"),
        ("conv", "3x16x32x32", "conv3d"),
        ("pool", "3x32x32", "max_pool2d"),
        ("avgpool", "3x32x32", "avg_pool2d"),
        ("MaxPool2d", "3x32x32", "max_pool2d"),
        ("deconv", "3x8x8", "conv_transpose2d"),
        ("conv_transpose", "4x8", "conv_transpose1d"),
        ("adaptive_max_pool", "3x8x8x8", "adaptive_max_pool3d"),
    ],
)
def test_short_names_follow_the_input_rank(kind, shape, resolved):
    options = {"conv": ("-k", 1, "-n", 2), "deconv": ("-k", 2, "-n", 2), "conv_transpose": ("-k", 2, "-n", 2), "adaptive_max_pool": ("--output-size", 2)}
    data = layer_json(kind, "--input", shape, *options.get(kind, ("-k", 2)))
    assert data["layers"][0]["kind"] == resolved


# -- explain ---------------------------------------------------------------------------------------


def test_explain_lenet5_conv1():
    out = ok("explain", "lenet5", "--layer", "CONV1")
    assert line(out, "CONV1") == "CONV1 (conv2d)  (3, 32, 32) -> (6, 28, 28)"
    assert line(out, "H_out").endswith("= 28")
    assert line(out, "params =").endswith("= 456")
    assert "POOL1" not in out and "FC3" not in out


def test_explain_every_layer_ends_each_formula_with_the_reported_value():
    data = json.loads(ok("explain", "lenet5", "--format", "json"))
    assert len(data["layers"]) == 13
    for layer in data["layers"]:
        for key, value in (("params", layer["params"]), ("MACs", layer["macs"]), ("FLOPs", layer["flops"])):
            lines = [f for f in layer["formulas"] if f.startswith(f"{key} =")]
            assert all(f.endswith(f"= {value}") or f" = {value} (" in f for f in lines), (layer["path"], lines)
    fc3 = next(layer for layer in data["layers"] if layer["name"] == "FC3")
    assert fc3["formulas"][0] == f"params = in*out + out = 400*120 + 120 = {400 * 120 + 120}"


def test_explain_block_path_selects_every_row_under_it_in_the_textbook_layout():
    """walkthroughs.yaml vgg16 slide_errata: the fourth stage's convs are 28x28x512, not 14x14x512."""
    out = ok("explain", "vgg16", "--layer", "stage4", "--layout", "hwc")
    headers = [text for text in out.splitlines() if text.startswith("features.")]
    assert len(headers) == 7
    assert headers[0] == "features.stage4.conv.0.conv (conv2d)  (28, 28, 256) -> (28, 28, 512)"
    assert headers[-1] == "features.stage4.pool (max_pool2d)  (28, 28, 512) -> (14, 14, 512)"


def test_explain_glob_and_input_override():
    data = json.loads(ok("explain", "vgg16", "--layer", "stage1.*.conv", "--input", "3x32x32", "--format", "json"))
    assert [layer["path"] for layer in data["layers"]] == ["features.stage1.conv.0.conv", "features.stage1.conv.1.conv"]
    assert data["layers"][1]["receptive_field"][0]["size"] == 5


# -- errors ----------------------------------------------------------------------------------------


def test_kernel_larger_than_input_is_one_clean_line():
    code, out, err = run("layer", "conv2d", "--input", "3x5x5", "-k", 7, "-n", 4)
    assert code == 1, out + err
    assert err.strip() == (
        "convcalc: error[shape-kernel-too-large]: conv2d: kernel larger than the padded input along H: "
        "H_out = floor((5 + 2*0 - 1*(7-1) - 1) / 1) + 1 = -1"
    )


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("layer", "cnov2d", "--input", "3x32x32", "-k", 5, "-n", 6), 2, "error[usage-kind]: unknown layer kind 'cnov2d' (did you mean 'conv2d'?)"),
        (("layer", "conv2d", "--input", "3x32x32", "-k", 5), 2, "error[usage-missing]: conv2d needs -n/--filters (out_channels)"),
        (("layer", "maxpool", "--input", "3x32x32", "-k", 2, "-g", 2), 2, "error[usage-option]: -g/--groups does not apply to max_pool2d"),
        (("layer", "conv", "--input", "400", "-k", 3, "-n", 2), 2, "error[usage-input]: conv needs spatial axes"),
        (("layer", "conv", "--input", "3x0x32", "-k", 3, "-n", 2), 2, "error[usage-input]: --input '3x0x32'"),
        (("layer", "conv", "--input", "3x32x32", "-k", "abc", "-n", 2), 2, "error[usage-option]: -k/--kernel 'abc'"),
        (("layer", "add", "--input", "3x32x32"), 2, "error[usage-kind]: add merges several tensors"),
        (("layer", "conv", "--input", "3x32x32", "-k", 0, "-n", 2), 1, "error[spec-range]: conv2d: kernel_size"),
        (("layer", "conv", "--input", "3x32x32", "-k", 3, "-n", 6, "-g", 2), 1, "error[arg-groups]: conv2d: groups=2 does not divide"),
        (("layer", "pool", "--input", "3x32x32", "-k", 2, "-p", 2), 1, "error[arg-pool-padding]"),
        (("explain", "lenet5", "--layer", "CONV9"), 2, "error[usage-layer]: no layer 'CONV9' in LeNet-5 (did you mean 'CONV"),
        (("explain", "no_such_model.yaml"), 2, "error["),
    ],
    ids=["unknown-kind", "missing-filters", "option-not-taken", "no-spatial-axes", "zero-size", "not-a-number",
         "merge", "zero-kernel", "groups", "pool-padding", "unknown-layer", "missing-spec"],
)
def test_errors(args, code, expected):
    got, out, err = run(*args)
    assert got == code, out + err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err and "<layer>:" not in err


# -- every receptive-field line is arithmetic that holds -------------------------------------------


def _evaluate(expr: str) -> Fraction:
    """Exact value of ``+ - * /`` arithmetic on integers (each number read as a Fraction)."""
    operators = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def value(node):
        if isinstance(node, ast.Constant):
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        return operators[type(node.op)](value(node.left), value(node.right))

    return value(ast.parse(expr, mode="eval").body)


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "unet"),
        ("explain", "resnet18"),
        ("layer", "conv", "--input", "3x224x224", "-k", 7, "-s", 2, "-p", "same", "-n", 8),
        ("layer", "conv", "--input", "1x7x7", "-k", 3, "-d", 2, "-n", 1),
        ("layer", "adaptive_pool", "--input", "2x13x9", "--output-size", "6,4"),
        ("layer", "pool", "--input", "1x5x5", "-k", 2, "-s", 2, "-p", 1, "--ceil-mode"),
    ],
    ids=["unet", "resnet18", "same-s2", "dilated", "adaptive", "ceil-mode"],
)
def test_receptive_field_lines_substitute_into_their_result(args):
    data = json.loads(ok(*args, "--format", "json"))
    checked = 0
    for layer in data["layers"]:
        for formula in layer["formulas"]:
            parts = formula.split(": ", 1)[-1].split(" = ")
            if not formula.startswith("RF ") or len(parts) != 4:
                continue
            numbers, result = parts[2], parts[3].split(" (")[0]
            assert _evaluate(numbers) == _evaluate(result), (layer["path"], formula)
            checked += 1
    assert checked >= 2
