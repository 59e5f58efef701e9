"""The published numbers that disagree with exact counts, as the spec descriptions state them:
AlexNet's "253,440" conv1 neurons and GoogLeNet's "12x fewer parameters than AlexNet"."""

from __future__ import annotations

import math
from fractions import Fraction

import yaml
from helpers import analyze_model, analyze_text

import convcalc
from convcalc.spec.zoo import specs_dir

ALEXNET_TORCHVISION_PARAMS = 61_100_840  # published.yaml alexnet_tv


def description(name: str) -> str:
    return " ".join(convcalc.load_model(name).description.split())


def test_alexnet_253440_is_no_conv1_geometry():
    conv1 = analyze_model("alexnet").rows[0]
    assert conv1.activations == 55 * 55 * 96 == 290_400
    assert math.isqrt(253_440 // 96) ** 2 != 253_440 // 96 and 253_440 % 96 == 0
    # at 224 the network's fc6 would need other weights; its conv1 alone is as the paper's figure suggests
    at_224 = analyze_text("name: conv1\ninput: [3, 224, 224]\nlayers:\n  - conv2d: {out_channels: 96, kernel_size: 11, stride: 4}\n").rows[0]
    assert at_224.output_shape == (96, 54, 54) and at_224.activations == 54 * 54 * 96 == 279_936
    text = description("alexnet")
    for figure in ("253,440", "2,640", "54*54*96 = 279,936", "55*55*96 = 290,400"):
        assert figure in text


def test_googlenet_parameter_ratios():
    googlenet = analyze_model("googlenet").totals.params
    alexnet, grouped = analyze_model("alexnet").totals.params, analyze_model("alexnet_grouped").totals.params
    assert Fraction(alexnet, googlenet) == Fraction(7_797_293, 828_113)
    ratios = [round(float(Fraction(a, googlenet)), 2) for a in (alexnet, grouped, ALEXNET_TORCHVISION_PARAMS)]
    assert ratios == [9.42, 9.20, 9.22]
    text = description("googlenet")
    assert "7797293/828113 = 9.42x" in text and "9.20x" in text and "9.22x" in text


def test_googlenet_with_the_papers_5x5_kernels():
    spec = yaml.safe_load((specs_dir() / "googlenet.yaml").read_text())
    branch = spec["blocks"]["inception"]["layers"][0]["parallel"]["branches"]["branch3"][1]["conv_bn"]
    branch.update(kernel_size=5, padding=2)
    params = convcalc.analyze(convcalc.load_spec(yaml.safe_dump(spec), "googlenet5.yaml")).totals.params
    reduce_then_5x5 = [(16, 32), (32, 96), (16, 48), (24, 64), (24, 64), (32, 64), (32, 128), (32, 128), (48, 128)]
    assert params == 6_624_904 + sum(a * b * (5 * 5 - 3 * 3) for a, b in reduce_then_5x5) == 7_005_832
    assert round(62_378_344 / params, 2) == 8.90
    assert "7,005,832 parameters, 8.90x" in description("googlenet")
