"""Built-in ResNets, GoogLeNet and the Inception walkthrough: exact totals, torchvision's paths, spot checks.

Totals are those of the PyTorch definitions named in each spec's description (torchvision's
resnetN and googlenet with aux_logits=False): trainable parameters = sum(p.numel()), MACs = conv and
linear multiply-accumulates without bias, one 224x224 image.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
from helpers import analyze_model, analyze_text

from convcalc.render import display_rows

# torchvision's resnet101 is resnet50 with 23 instead of 6 bottlenecks in layer3; each added one is
# a 1x1 1024->256, a 3x3 256->256 and a 1x1 256->1024 conv on a 14x14 map, with batch norms
RESNET101_EXTRA_BLOCK_MACS = 14 * 14 * (1024 * 256 + 256 * 256 * 9 + 256 * 1024)

MODELS = [
    ("resnet18", 11_689_512, 1_814_073_344, [1000]),
    ("resnet34", 21_797_672, 3_663_761_408, [1000]),
    ("resnet50", 25_557_032, 4_089_184_256, [1000]),
    ("resnet101", 44_549_160, 4_089_184_256 + 17 * RESNET101_EXTRA_BLOCK_MACS, [1000]),
    ("resnet152", 60_192_808, 11_513_626_624, [1000]),
    ("googlenet", 6_624_904, 1_498_376_192, [1000]),
    ("inception_direct", 32 * 192 * 5 * 5 + 32, 28 * 28 * 32 * 192 * 5 * 5, [32, 28, 28]),
    ("inception_bottleneck", (16 * 192 + 16) + (32 * 16 * 5 * 5 + 32), 2_408_448 + 10_035_200, [32, 28, 28]),
]


@lru_cache(maxsize=None)
def report(name: str):
    return analyze_model(name)


def row(name: str, path: str):
    return next(r for r in report(name).rows if r.path == path)


def group(name: str, path: str):
    return next(g for g in report(name).groups if g.path == path)


@pytest.mark.parametrize(("model", "params", "macs", "output"), MODELS, ids=[m[0] for m in MODELS])
def test_summary_json_totals(run_cli, model, params, macs, output):
    code, out, err = run_cli("summary", model, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["params"], data["totals"]["macs"], data["output_shape"]) == (params, macs, output)


def test_resnet50_depth_1_is_stem_stages_and_head():
    rows = display_rows(report("resnet50"), 1)
    assert [r.label for r in rows] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc",
    ]
    assert sum(r.params for r in rows) == 25_557_032
    stages = {r.label: (r.kind, r.output_shape) for r in rows if r.label.startswith("layer")}
    assert stages == {
        "layer1": ("bottleneck x3", (256, 56, 56)),
        "layer2": ("bottleneck x4", (512, 28, 28)),
        "layer3": ("bottleneck x6", (1024, 14, 14)),
        "layer4": ("bottleneck x3", (2048, 7, 7)),
    }


def test_resnet50_depth_1_table_from_the_command_line(run_cli):
    code, out, err = run_cli("summary", "resnet50", "--depth", "1", "--format", "markdown")
    assert code == 0, err
    assert "layer4" in out and "layer4.0" not in out and "25,557,032" in out


@pytest.mark.parametrize(
    "path",
    ["conv1", "bn1", "layer1.0.conv1", "layer1.0.downsample.0", "layer2.0.downsample.1", "layer3.1.conv2", "layer4.2.bn3", "fc"],
)
def test_resnet50_paths_are_torchvision_module_names(path):
    assert row("resnet50", path).params > 0


def test_resnet50_bottleneck_shapes_and_params():
    assert group("resnet50", "layer1.0").output_shape == (256, 56, 56)
    # the first block: 1x1 64->64, 3x3 64->64, 1x1 64->256, projection 1x1 64->256, four batch norms
    first = group("resnet50", "layer1.0")
    assert sum(r.params for r in report("resnet50").rows[first.first : first.end]) == (
        64 * 64 + 64 * 64 * 9 + 64 * 256 + 64 * 256 + 2 * (64 + 64 + 256 + 256)
    )


def test_resnet50_stride_is_on_the_3x3_conv():
    """torchvision's "v1.5": layer2.0.conv1 keeps 56x56, its 3x3 conv2 and the projection stride 2."""
    assert row("resnet50", "layer2.0.conv1").output_shape == (128, 56, 56)
    conv2 = row("resnet50", "layer2.0.conv2")
    assert (conv2.args["kernel_size"], conv2.args["stride"], conv2.output_shape) == (3, 2, (128, 28, 28))
    assert row("resnet50", "layer2.0.downsample.0").args["stride"] == 2
    assert "stride" not in row("resnet50", "layer2.1.conv2").args


@pytest.mark.parametrize(
    ("model", "with_projection", "without_projection"),
    [("resnet18", "layer2.0", "layer1.0"), ("resnet50", "layer1.0", "layer1.1"), ("resnet152", "layer3.0", "layer3.35")],
)
def test_projection_only_where_the_shape_changes(model, with_projection, without_projection):
    paths = {r.path for r in report(model).rows}
    assert f"{with_projection}.downsample.0" in paths
    assert f"{without_projection}.conv1" in paths and f"{without_projection}.downsample.0" not in paths


def test_googlenet_inception3a():
    assert group("googlenet", "inception3a").output_shape == (256, 28, 28)
    # a branch of one block is that block, named as the branch (torchvision's inception3a.branch1.conv)
    assert [g.path for g in report("googlenet").groups if g.kind == "branch" and g.path.startswith("inception3a.")] == [
        "inception3a.branch2", "inception3a.branch3", "inception3a.branch4",
    ]
    assert row("googlenet", "inception3a.branch1.conv").params == 64 * 192
    # torchvision's quirk: the branch drawn as 5x5 in the paper is a 3x3 conv, 16 -> 32 channels
    conv = row("googlenet", "inception3a.branch3.1.conv")
    assert (conv.args["kernel_size"], conv.params) == (3, 32 * 16 * 3 * 3)
    assert row("googlenet", "inception3a.branch4.0").kind == "max_pool2d"


def test_googlenet_convs_have_no_bias_and_batch_norm_eps_0_001():
    rows = report("googlenet").rows
    assert all(r.args.get("bias") is False for r in rows if r.kind == "conv2d")
    assert all(r.args.get("eps") == 0.001 for r in rows if r.kind == "batch_norm2d")


def test_inception_walkthrough_per_layer_macs():
    assert [r.macs for r in report("inception_bottleneck").rows] == [28 * 28 * 16 * 192, 28 * 28 * 32 * 16 * 5 * 5]
    assert [r.macs for r in report("inception_bottleneck").rows] == [2_408_448, 10_035_200]
    assert report("inception_direct").totals.macs == 120_422_400


def test_block_input_names_the_tensor_entering_a_block():
    report = analyze_text(
        """
        name: shortcut
        input: [8, 4, 4]
        blocks:
          unit:
            layers:
              - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
                name: conv
              - add: {inputs: [previous, block_input]}
                name: add
        layers:
          - unit:
            name: u
        """
    )
    add = next(r for r in report.rows if r.path == "u.add")
    assert add.inputs == (0, -1)


def test_a_block_of_one_unnamed_item_adds_no_path_segment():
    report = analyze_text(
        """
        name: one item
        input: [8, 4, 4]
        blocks:
          pair:
            layers:
              - parallel:
                  merge: concat
                  branches:
                    left: [{conv2d: {out_channels: 2, kernel_size: 1}}]
                    right: [{conv2d: {out_channels: 3, kernel_size: 1}}]
        layers:
          - pair:
            name: p
        """
    )
    assert [r.path for r in report.rows] == ["p.left", "p.right", "p.concat"]  # a branch of one layer is that layer
    assert [(g.path, g.kind) for g in report.groups if g.path == "p"] == [("p", "pair")]
