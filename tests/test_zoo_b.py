"""Built-in MobileNet v1 and v2, EfficientNet-B0, ConvNeXt-T and U-Net, to the unit.

Totals: ../shared/reference/published.yaml (trainable parameters as ``sum(p.numel())`` of the
PyTorch definition each spec names, MACs of convolution and linear layers, bias ignored), written
out here so that a change on either side shows.
"""

from __future__ import annotations

import pytest

import convcalc
from convcalc.analysis.check import check_report

PUBLISHED = [
    pytest.param("mobilenet_v1", (1000,), 4_231_976, 568_740_352, id="mobilenet_v1"),
    pytest.param("mobilenet_v2", (1000,), 3_504_872, 300_774_272, id="mobilenet_v2"),
    pytest.param("efficientnet_b0", (1000,), 5_288_548, 385_814_752, id="efficientnet_b0"),
    pytest.param("convnext_tiny", (1000,), 28_589_128, 4_455_531_264, id="convnext_tiny"),
    pytest.param("unet", (2, 388, 388), 31_030_658, 150_428_424_448, id="unet"),
]
NAMES = [p.values[0] for p in PUBLISHED]


def analyze(name: str) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_model(name))


def paths_of(report: convcalc.Report, kind: str) -> list[str]:
    return [r.path for r in report.rows if r.kind == kind]


@pytest.mark.parametrize(("name", "output", "params", "macs"), PUBLISHED)
def test_published_totals(name, output, params, macs):
    report = analyze(name)
    assert report.output_shape == output
    assert report.totals.params == params
    assert report.totals.macs == macs


@pytest.mark.parametrize("name", NAMES)
def test_spec_expectations_hold(name):
    verdicts = check_report(analyze(name))
    failed = [v.render() for v in verdicts if not v.ok]
    assert verdicts and not failed, "\n".join(failed)


# --- MobileNet v1 ------------------------------------------------------------------------------


def test_mobilenet_v1_depthwise_row_has_no_bias():
    """A depthwise 3x3 conv has one 3x3 filter per channel and no bias: 3*3*C parameters."""
    row = analyze("mobilenet_v1").row("features.1.0")
    assert (row.kind, row.args["groups"]) == ("conv2d", 32)
    assert row.output_shape == (32, 112, 112)
    assert row.params == 3 * 3 * 32 == 288
    assert row.macs == 112 * 112 * 32 * 3 * 3


def test_mobilenet_v1_every_depthwise_conv_counts_3x3xC():
    report = analyze("mobilenet_v1")
    depthwise = [r for r in report.rows if r.kind == "conv2d" and r.args.get("groups", 1) > 1]
    assert len(depthwise) == 13
    for row in depthwise:
        channels = row.output_shape[0]
        assert row.args["groups"] == row.input_shapes[0][0] == channels
        assert row.params == 3 * 3 * channels, row.path


def test_mobilenet_v1_pointwise_and_head():
    report = analyze("mobilenet_v1")
    assert report.row("features.1.3").params == 32 * 64
    assert report.row("features.9.3").macs == 7 * 7 * 1024 * 1024
    assert report.row("classifier").params == 1024 * 1000 + 1000


# --- MobileNet v2 ------------------------------------------------------------------------------


def test_mobilenet_v2_residual_only_at_stride_1_and_same_width():
    """Table 2: the first block of each sequence changes width or stride; the n - 1 others add."""
    report = analyze("mobilenet_v2")
    residual_blocks = [1, 2, 3, 2, 2]  # n - 1 for the sequences of 24, 32, 64, 96 and 160 channels
    expected = [f"features.{i}.add" for i in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]  # x + self.conv(x)
    assert paths_of(report, "add") == expected
    assert len(expected) == sum(residual_blocks)


def test_mobilenet_v2_inverted_residual_layers():
    report = analyze("mobilenet_v2")
    # features.2: 16 -> 24 channels, t = 6, stride 2, on 112x112
    assert report.row("features.2.conv.0.0").params == 16 * (16 * 6)
    assert report.row("features.2.conv.1.0").output_shape == (96, 56, 56)
    assert report.row("features.2.conv.1.0").params == 3 * 3 * 96
    assert report.row("features.2.conv.2").params == 96 * 24
    # features.1 has t = 1: no expansion, the depthwise conv reads the stem's 32 channels; the
    # expansion dropped by `when:` takes no index, so it is conv.0, as in torchvision
    assert report.row("features.1.conv.0.0").params == 3 * 3 * 32
    assert report.row("features.1.conv.1").params == 32 * 16
    assert report.row("classifier.1").params == 1280 * 1000 + 1000


# --- EfficientNet-B0 ---------------------------------------------------------------------------


def test_efficientnet_b0_squeeze_excitation():
    """torchvision squeezes to max(1, in // 4) channels of the block's input, both 1x1 convs with bias."""
    report = analyze("efficientnet_b0")
    block_in, expanded = 16, 16 * 6  # features.2.0: 16 -> 24 channels, stride 2
    squeeze = max(1, block_in // 4)
    fc1 = report.row("features.2.0.block.2.fc1")
    fc2 = report.row("features.2.0.block.2.fc2")
    assert fc1.output_shape == (squeeze, 1, 1) == (4, 1, 1)
    assert fc1.params == expanded * squeeze + squeeze
    assert fc2.params == squeeze * expanded + expanded
    assert (fc1.macs, fc2.macs) == (expanded * squeeze, squeeze * expanded)
    gate = report.row("features.2.0.block.2.scale")
    assert gate.kind == "multiply"
    assert gate.input_shapes == ((expanded, 56, 56), (expanded, 1, 1))
    assert gate.output_shape == (expanded, 56, 56)


def test_efficientnet_b0_squeeze_channels_follow_the_block_input():
    report = analyze("efficientnet_b0")
    squeezed = [r.output_shape[0] for r in report.rows if r.path.endswith(".fc1")]
    block_inputs = [32, 16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192]
    assert squeezed == [max(1, c // 4) for c in block_inputs]


def test_efficientnet_b0_residual_adds():
    report = analyze("efficientnet_b0")
    adds = paths_of(report, "add")
    assert adds == [
        "features.2.1.block.add", "features.3.1.block.add",
        "features.4.1.block.add", "features.4.2.block.add",
        "features.5.1.block.add", "features.5.2.block.add",
        "features.6.1.block.add", "features.6.2.block.add", "features.6.3.block.add",
    ]


# --- ConvNeXt-T --------------------------------------------------------------------------------


def test_convnext_tiny_linear_counts_macs_per_position():
    """A channels-last linear layer runs at every pixel: stage 1 is 56x56 positions of 96 -> 384."""
    report = analyze("convnext_tiny")
    expand = report.row("features.1.0.block.2")
    assert (expand.kind, expand.input_shapes[0], expand.output_shape) == ("linear", (96, 56, 56), (384, 56, 56))
    assert expand.params == 96 * 384 + 384
    assert expand.macs == 56 * 56 * 96 * 384
    project = report.row("features.1.0.block.4")
    assert project.macs == 56 * 56 * 384 * 96
    assert report.row("features.7.2.block.2").macs == 7 * 7 * 768 * 3072


def test_convnext_tiny_block_parts():
    report = analyze("convnext_tiny")
    assert report.row("features.0.0").params == 96 * 3 * 4 * 4 + 96
    assert report.row("features.1.0.block.0").params == 96 * 7 * 7 + 96
    assert report.row("features.1.0.block.1").params == 2 * 96
    assert report.row("features.1.0.block.layer_scale").params == 96
    assert report.row("features.2.1").params == 192 * 96 * 2 * 2 + 192
    assert report.row("classifier.2").macs == 768 * 1000
    assert len(paths_of(report, "add")) == 3 + 3 + 9 + 3


# --- U-Net -------------------------------------------------------------------------------------


def test_unet_maps_572_to_388():
    report = analyze("unet")
    assert report.input_shape == (1, 572, 572)
    assert report.output_shape == (2, 388, 388)


def test_unet_crops_every_skip():
    """Each encoder map is centre-cropped to the up-convolution's size before the concat."""
    report = analyze("unet")
    crops = [(r.path, r.input_shapes[0], r.output_shape, r.args["crop"]) for r in report.rows if r.kind == "center_crop"]
    assert crops == [
        ("up1.cat_crop_enc4", (512, 64, 64), (512, 56, 56), [[(64 - 56) // 2, (64 + 56) // 2]] * 2),
        ("up2.cat_crop_enc3", (256, 136, 136), (256, 104, 104), [[(136 - 104) // 2, (136 + 104) // 2]] * 2),
        ("up3.cat_crop_enc2", (128, 280, 280), (128, 200, 200), [[(280 - 200) // 2, (280 + 200) // 2]] * 2),
        ("up4.cat_crop_enc1", (64, 568, 568), (64, 392, 392), [[(568 - 392) // 2, (568 + 392) // 2]] * 2),
    ]
    assert report.row("up4.cat").output_shape == (64 + 64, 392, 392)


def test_unet_up_convolution_halves_channels():
    report = analyze("unet")
    up = report.row("up1.up")
    assert (up.kind, up.input_shapes[0], up.output_shape) == ("conv_transpose2d", (1024, 28, 28), (512, 56, 56))
    assert up.params == 1024 * 512 * 2 * 2 + 512
    assert up.macs == 28 * 28 * 1024 * 512 * 2 * 2
