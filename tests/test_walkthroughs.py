"""The textbook walkthroughs, reproduced to the unit.

Source: ../shared/reference/walkthroughs.yaml (recomputed course examples). Shapes there are
[height, width, channels]; convcalc's are channels first.
"""

from __future__ import annotations

import pytest

from convcalc.kinds import KINDS, RFAxis, Tensor

from helpers import OUTPUT_SIZE_CASES, analyze_model, analyze_text


def conv_out(size: int, f: int, s: int, p: int, d: int) -> int:
    layer = KINDS["conv1d"](out_channels=1, kernel_size=f, stride=s, padding=p, dilation=d)
    return layer.infer(Tensor((1, size), (RFAxis(),))).shape[1]


# output_size_formula: [in, f, s, p, d] -> out
@pytest.mark.parametrize(
    ("size", "f", "s", "p", "d", "out"),
    OUTPUT_SIZE_CASES,
    ids=lambda v: str(v),
)
def test_output_size_formula(size, f, s, p, d, out):
    assert conv_out(size, f, s, p, d) == (size + 2 * p - d * (f - 1) - 1) // s + 1 == out


def test_same_padding_keeps_size_for_odd_kernels():
    for f in (1, 3, 5, 7, 9, 11):
        assert conv_out(57, f, 1, (f - 1) // 2, 1) == 57


def rows_by_kind(report, *kinds):
    return [r for r in report.rows if r.kind in kinds]


def test_toy_39():
    report = analyze_model("toy39")
    convs = rows_by_kind(report, "conv2d")
    assert [r.output_shape for r in convs] == [(10, 37, 37), (20, 17, 17), (40, 7, 7)]
    assert [r.params for r in convs] == [10 * 3 * 3 * 3 + 10, 20 * 10 * 5 * 5 + 20, 40 * 20 * 5 * 5 + 40] == [280, 5020, 20040]
    assert report.output_shape == (7 * 7 * 40,) == (1960,)


def test_lenet5_table():
    report = analyze_model("lenet5")
    named = {r.name: r for r in report.rows if r.name}
    table = [  # name, hwc shape, activation size, params
        ("CONV1", (28, 28, 6), 4704, 6 * 3 * 5 * 5 + 6),
        ("POOL1", (14, 14, 6), 1176, 0),
        ("CONV2", (10, 10, 16), 1600, 16 * 6 * 5 * 5 + 16),
        ("POOL2", (5, 5, 16), 400, 0),
        ("FC3", (120,), 120, 400 * 120 + 120),
        ("FC4", (84,), 84, 120 * 84 + 84),
        ("FC5", (10,), 10, 84 * 10 + 10),
    ]
    for name, hwc, size, params in table:
        row = named[name]
        chw = hwc if len(hwc) == 1 else (hwc[2], hwc[0], hwc[1])
        assert (row.output_shape, row.activations, row.params) == (chw, size, params), name
    assert [p for *_, p in table] == [456, 0, 2416, 0, 48120, 10164, 850]
    assert report.totals.params == 62006
    assert named["CONV1"].activations != 4707  # the slide erratum: 28*28*6 = 4704


def test_lenet5_one_channel_variant():
    report = analyze_model("lenet5", input_shape=(1, 32, 32))
    assert report.totals.params == 62006 - 6 * 2 * 5 * 5 == 61706


ALEXNET = [  # hwc output, params
    ((55, 55, 96), 96 * 3 * 11 * 11 + 96),
    ((27, 27, 96), 0),
    ((27, 27, 256), 256 * 96 * 5 * 5 + 256),
    ((13, 13, 256), 0),
    ((13, 13, 384), 384 * 256 * 3 * 3 + 384),
    ((13, 13, 384), 384 * 384 * 3 * 3 + 384),
    ((13, 13, 256), 256 * 384 * 3 * 3 + 256),
    ((6, 6, 256), 0),
    ((9216,), 0),
    ((4096,), 9216 * 4096 + 4096),
    ((4096,), 4096 * 4096 + 4096),
    ((1000,), 4096 * 1000 + 1000),
]


def test_alexnet_227():
    report = analyze_model("alexnet")
    rows = rows_by_kind(report, "conv2d", "max_pool2d", "flatten", "linear")
    got = [(r.output_shape if len(r.output_shape) == 1 else (*r.output_shape[1:], r.output_shape[0]), r.params) for r in rows]
    assert got == ALEXNET
    assert [p for _, p in ALEXNET if p] == [34944, 614656, 885120, 1327488, 884992, 37752832, 16781312, 4097000]
    assert report.totals.params == 62378344


def test_alexnet_grouped():
    report = analyze_model("alexnet_grouped")
    saved = (256 * 96 * 25 + 384 * 384 * 9 + 256 * 384 * 9) // 2
    assert report.totals.params == 62378344 - saved == 60965224


VGG16_STAGES = [  # convs, filters, hwc after convs, hwc after pool
    (2, 64, (224, 224, 64), (112, 112, 64)),
    (2, 128, (112, 112, 128), (56, 56, 128)),
    (3, 256, (56, 56, 256), (28, 28, 256)),
    (3, 512, (28, 28, 512), (14, 14, 512)),
    (3, 512, (14, 14, 512), (7, 7, 512)),
]


def hwc(shape):
    return (*shape[1:], shape[0])


def test_vgg16_stages():
    report = analyze_model("vgg16")
    convs = rows_by_kind(report, "conv2d")
    pools = rows_by_kind(report, "max_pool2d")
    at = 0
    for (n, filters, conv_out_hwc, pool_out_hwc), pool in zip(VGG16_STAGES, pools):
        stage = convs[at : at + n]
        at += n
        assert all(hwc(r.output_shape) == conv_out_hwc for r in stage)
        assert all(r.args["kernel_size"] == 3 and r.args["padding"] == [[1, 1], [1, 1]] for r in stage)
        assert hwc(pool.output_shape) == pool_out_hwc
    assert hwc(convs[7].output_shape) == (28, 28, 512)  # the slide erratum writes 14x14x512
    linears = rows_by_kind(report, "linear")
    assert [r.output_shape for r in linears] == [(4096,), (4096,), (1000,)]
    assert report.row("flatten") is None and rows_by_kind(report, "flatten")[0].output_shape == (7 * 7 * 512,) == (25088,)
    assert report.totals.params == 138357544
    assert report.totals.macs == 15470264320


def test_vgg19():
    report = analyze_model("vgg19")
    assert (report.totals.params, report.totals.macs) == (143667240, 19632062464)
    assert len(rows_by_kind(report, "conv2d")) == 2 + 2 + 4 + 4 + 4


@pytest.mark.parametrize(
    ("what", "layer", "input_shape", "params"),
    [  # the walkthrough's numbers, and their derivation
        ("10 filters of 3x3x3 with bias", "conv2d: {out_channels: 10, kernel_size: 3}", [3, 6, 6], 280),
        ("4 filters of 3x3x3 without bias", "conv2d: {out_channels: 4, kernel_size: 3, bias: false}", [3, 6, 6], 108),
        ("4 filters of 3x3x3 with bias", "conv2d: {out_channels: 4, kernel_size: 3}", [3, 6, 6], 112),
        ("dense 1000x1000x3 -> 1000, weights only", "linear: {out_features: 1000, bias: false}", [3, 1000, 1000], 3000000000),
        ("dense 224x224x3 -> 128, weights only", "linear: {out_features: 128, bias: false}", [3, 224, 224], 19267584),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_parameter_examples(what, layer, input_shape, params):
    flatten = "  - flatten\n" if layer.startswith("linear") else ""
    report = analyze_text(f"name: t\ninput: {input_shape}\nlayers:\n{flatten}  - {layer}\n")
    row = report.rows[-1]
    c_in = row.input_shapes[0][0]
    weights = row.output_shape[0] * c_in * (9 if row.kind == "conv2d" else 1)
    assert row.params == weights + (row.output_shape[0] if "bias: false" not in layer else 0) == params


def test_inception_and_separable_single_layers():
    direct = analyze_text("name: t\ninput: [192, 28, 28]\nlayers:\n  - conv2d: {out_channels: 32, kernel_size: 5, padding: same}\n")
    assert direct.totals.macs == 28 * 28 * 32 * 192 * 5 * 5 == 120422400
    bottleneck = analyze_text(
        "name: t\ninput: [192, 28, 28]\nlayers:\n  - conv2d: {out_channels: 16, kernel_size: 1}\n  - conv2d: {out_channels: 32, kernel_size: 5, padding: 2}\n"
    )
    assert [r.macs for r in bottleneck.rows] == [28 * 28 * 16 * 192, 28 * 28 * 32 * 16 * 25] == [2408448, 10035200]
    assert bottleneck.totals.macs == 12443648
    normal = analyze_text("name: t\ninput: [3, 6, 6]\nlayers:\n  - conv2d: {out_channels: 5, kernel_size: 3}\n")
    separable = analyze_text(
        "name: t\ninput: [3, 6, 6]\nlayers:\n  - conv2d: {out_channels: 3, kernel_size: 3, groups: 3}\n  - conv2d: {out_channels: 5, kernel_size: 1}\n"
    )
    assert normal.totals.macs == 4 * 4 * 5 * 3 * 3 * 3 == 2160
    assert [r.macs for r in separable.rows] == [4 * 4 * 3 * 3 * 3, 4 * 4 * 5 * 3] == [432, 240]
