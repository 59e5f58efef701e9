"""`convcalc compare`: side by side, exact ratios, and the textbook savings (walkthroughs.yaml:
``inception_bottleneck`` and ``depthwise_separable``)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from convcalc.spec.inline import inline_spec
from convcalc.analysis.compare import Bottleneck, Separable, compare, decimal_text
from convcalc.render.compare import ratio_cell
from helpers import analyze_model, analyze_text

NORMAL = "conv2d:out_channels=5,kernel_size=3@3x6x6"
SEPARABLE = "conv2d:out_channels=3,kernel_size=3,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6"


def test_inception_bottleneck_walkthrough(run_cli):
    code, out, err = run_cli("compare", "inception_direct", "inception_bottleneck")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "A: inception_direct  (Inception 5x5, direct; (192, 28, 28) -> (32, 28, 28))"
    macs = next(line for line in lines if line.strip().startswith("MACs")).split()
    assert macs == ["MACs", "120,422,400", "12,443,648", "0.103"]
    assert Fraction(12_443_648, 120_422_400) == Fraction(31, 300)
    assert lines[-2:] == [
        "B vs A (bottleneck): 1x1 conv 192 -> 16 channels, then the same 5x5 conv: 2,408,448 + 10,035,200 = 12,443,648 MACs",
        "  120,422,400 -> 12,443,648 MACs: 9.68x fewer, saves 107,978,752",
    ]
    assert 120_422_400 - (2_408_448 + 10_035_200) == 107_978_752


def test_depthwise_separable_walkthrough(run_cli):
    code, out, err = run_cli("compare", NORMAL, SEPARABLE)
    assert code == 0, err
    lines = out.splitlines()
    macs = next(line for line in lines if line.strip().startswith("MACs")).split()
    assert macs == ["MACs", "2,160", "672", "0.311"]
    assert lines[-2:] == [
        "B vs A (depthwise-separable): depthwise 432 + pointwise 240 = 672 MACs vs 2,160 for the normal conv",
        "  separable/normal = 1/N + 1/k^2 = 1/5 + 1/9 = 14/45 (0.311; N = 5 output channels, kernel 3x3)",
    ]
    # 4*4 positions: normal 5 filters of 3*3*3; depthwise 3 channels of 3*3; pointwise 5 filters of 3
    assert (4 * 4 * 5 * 27, 4 * 4 * 3 * 9, 4 * 4 * 5 * 3) == (2160, 432, 240)


def test_json(run_cli):
    code, out, err = run_cli("compare", NORMAL, SEPARABLE, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["baseline"] == NORMAL
    first, second = data["entries"]
    assert {"label", "name", "input_shape", "output_shape", "params", "macs", "flops", "activation_bytes", "ratio", "ratio_decimal"} <= set(second)
    assert (first["macs"], second["macs"]) == (2160, 672)
    assert (first["params"], second["params"]) == (5 * 27 + 5, (3 * 9 + 3) + (5 * 3 + 5))
    assert second["activation_bytes"] == 4 * (3 * 4 * 4 + 5 * 4 * 4)
    assert first["ratio"] == {"params": 1, "macs": 1, "flops": 1, "activation_bytes": 1}
    assert second["ratio"]["macs"] == "14/45"
    assert second["ratio_decimal"]["macs"] == pytest.approx(14 / 45)
    [saving] = data["savings"]
    assert saving["kind"] == "depthwise_separable"
    assert (saving["normal_macs"], saving["depthwise_macs"], saving["pointwise_macs"], saving["ratio"]) == (2160, 432, 240, "14/45")


def test_bottleneck_json(run_cli):
    data = json.loads(run_cli("compare", "inception_direct", "inception_bottleneck", "-f", "json")[1])
    [saving] = data["savings"]
    assert saving["kind"] == "bottleneck"
    assert (saving["reduce_macs"], saving["conv_macs"], saving["bottleneck_macs"]) == (2_408_448, 10_035_200, 12_443_648)
    assert (saving["saved_macs"], saving["factor"]) == (107_978_752, "300/31")
    assert Fraction(120_422_400, 12_443_648) == Fraction(300, 31)


def test_library_ratios_are_exact():
    comparison = compare([("normal", inline_report(NORMAL)), ("separable", inline_report(SEPARABLE))])
    assert comparison.ratio(1, "macs") == Fraction(672, 2160) == Fraction(1, 5) + Fraction(1, 9)
    [saving] = comparison.savings
    assert isinstance(saving, Separable) and saving.ratio == Fraction(14, 45)


def inline_report(text: str):
    from convcalc import analyze
    from convcalc.spec._yaml import Source
    from convcalc.spec import parse_spec

    return analyze(parse_spec(inline_spec(text), Source(text)))


def test_either_order_is_recognised():
    comparison = compare([("separable", inline_report(SEPARABLE)), ("normal", inline_report(NORMAL))])
    [saving] = comparison.savings
    assert (saving.separable, saving.normal) == ("separable", "normal")
    assert comparison.ratio(1, "macs") == Fraction(45, 14)


def test_three_dimensional_identity():
    normal = inline_report("conv3d:out_channels=8,kernel_size=3@4x5x5x5")
    separable = inline_report("conv3d:out_channels=4,kernel_size=3,groups=4+conv3d:out_channels=8,kernel_size=1@4x5x5x5")
    [saving] = compare([("a", normal), ("b", separable)]).savings
    assert saving.lines()[1] == "separable/normal = 1/N + 1/k^3 = 1/8 + 1/27 = 35/216 (0.162; N = 8 output channels, kernel 3x3x3)"
    assert Fraction(1, 8) + Fraction(1, 27) == Fraction(35, 216)


@pytest.mark.parametrize(
    "other",
    [
        "conv2d:out_channels=3,kernel_size=5,padding=1,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6",  # another kernel
        "conv2d:out_channels=6,kernel_size=3,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6",  # 2 filters per channel
        "conv2d:out_channels=8,kernel_size=1+conv2d:out_channels=5,kernel_size=3@3x6x6",  # a 1x1 that widens
        "conv2d:out_channels=5,kernel_size=3+relu@3x6x6",  # one conv
    ],
)
def test_no_saving_for_other_pairs(other):
    assert compare([("a", inline_report(NORMAL)), ("b", inline_report(other))]).savings == ()


def test_bottleneck_from_inline_layers():
    direct = inline_report("conv2d:out_channels=32,kernel_size=5,padding=same@192x28x28")
    reduced = inline_report("conv2d:out_channels=16,kernel_size=1+conv2d:out_channels=32,kernel_size=5,padding=same@192x28x28")
    [saving] = compare([("direct", direct), ("reduced", reduced)]).savings
    assert isinstance(saving, Bottleneck)
    assert (saving.direct_macs, saving.bottleneck_macs) == (28 * 28 * 32 * 192 * 25, 28 * 28 * 16 * 192 + 28 * 28 * 32 * 16 * 25)
    assert saving.bottleneck_macs == analyze_model("inception_bottleneck").totals.macs


def test_three_entries_and_built_ins(run_cli):
    code, out, err = run_cli("compare", "resnet18", "resnet34", "resnet50", "-f", "json")
    assert code == 0, err
    entries = json.loads(out)["entries"]
    assert [e["macs"] for e in entries] == [1_814_073_344, 3_663_761_408, 4_089_184_256]
    assert entries[2]["ratio"]["macs"] == str(Fraction(4_089_184_256, 1_814_073_344))


def test_dtype_and_batch_scale_activation_memory(run_cli):
    data = json.loads(run_cli("compare", NORMAL, SEPARABLE, "--dtype", "float16", "--batch", "8", "-f", "json")[1])
    assert data["entries"][0]["activation_bytes"] == 5 * 4 * 4 * 8 * 2


def test_inline_values():
    spec = inline_spec("conv2d:out_channels=4,kernel_size=[3,1],bias=false,padding=same+relu@2x5x5")
    assert spec["input"] == [2, 5, 5]
    assert spec["layers"] == [
        {"conv2d": {"out_channels": 4, "kernel_size": [3, 1], "bias": False, "padding": "same"}, "name": "layer1"},
        {"relu": None, "name": "layer2"},
    ]


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (Fraction(14, 45), "0.311"),  # 0.3111...
        (Fraction(8, 5), "1.60"),  # trailing zeros kept: three significant digits
        (Fraction(3), "3.00"),
        (Fraction(828113, 7797293), "0.106"),  # 0.10620...
        (Fraction(1, 12345), "0.0000810"),  # 0.000081004...: no exponent
        (Fraction(2499, 2500), "1.00"),  # 0.9996 rounds into one more digit
        (Fraction(9995, 1000), "10.0"),  # a tie, to even: 999.5 -> 1000
        (Fraction(10005, 1000), "10.0"),  # a tie, to even: 1000.5 -> 1000
        (Fraction(2048, 3), "683"),  # from 100 on, the nearest integer
        (Fraction(1234), "1,234"),
        (Fraction(0), "0"),
    ],
)
def test_decimal_text_three_significant_digits(ratio, text):
    assert decimal_text(ratio) == text


def test_ratio_cell():
    assert ratio_cell(Fraction(14, 45)) == "0.311"
    assert ratio_cell(None) == "-"


def test_ratio_to_zero_is_undefined():
    pool = analyze_text("name: p\ninput: [3, 6, 6]\nlayers:\n  - max_pool2d: {kernel_size: 2}\n")
    comparison = compare([("pool", pool), ("conv", inline_report(NORMAL))])
    assert comparison.ratio(1, "params") is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["inception_direct"], 2, "convcalc: error[usage-compare]: give 2 to 26 specs, models or inline layers to compare, got 1"),
        (["vgg16", "conv2d:out_channels@3x6x6"], 2, "convcalc: error[usage-layer]: 'conv2d:out_channels@3x6x6': 'out_channels' is not ARG=VALUE"),
        (["vgg16", "conv2d:out_channels=5,kernel_size=3@3x0x6"], 2, "convcalc: error[usage-input]: "),
        (["vgg16", "conv2dd:out_channels=5@3x6x6"], 1, "convcalc: error[spec-unknown-kind]: conv2dd:out_channels=5@3x6x6: unknown layer kind 'conv2dd' (did you mean 'conv2d'?)"),
        (["vgg16", "conv2d:out_channels=5,kernel_size=9@3x6x6"], 1, "convcalc: error[shape-kernel-too-large]: conv2d:out_channels=5,kernel_size=9@3x6x6: layer1 (conv2d): kernel larger"),
        (["vgg16", "nosuchmodel"], 2, "convcalc: error[usage-unknown-model]: "),
    ],
)
def test_errors(run_cli, args, code, message):
    got, out, err = run_cli("compare", *args)
    assert got == code, err
    assert err.startswith(message), err
    assert "Traceback" not in err
