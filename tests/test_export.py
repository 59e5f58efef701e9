"""``convcalc export --to torch``: every layer kind and every construct of the spec language exports,
the code is the idiomatic shape, and the module agrees with convcalc's report, row by row.

The parity checks need torch (skipped without it); the source, error and CLI tests do not.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from convcalc import analyze, load_model, load_spec
from convcalc.errors import SpecError, UsageError
from convcalc.interop.torch_export import export_torch
from convcalc.kinds import ALIASES, KINDS


def spec_of(text: str):
    return load_spec(textwrap.dedent(text), "test.yaml")


def layers_spec(input_shape: list, layers: list, blocks: dict | None = None):
    data = {"name": "case", "input": input_shape, "layers": layers, **({"blocks": blocks} if blocks else {})}
    return load_spec(yaml.safe_dump(data, sort_keys=False), "test.yaml")


def assert_parity(spec) -> str:
    """Export, run under PyTorch (meta device), compare every row; return the source."""
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import mismatches, probe

    report = analyze(spec)
    export = export_torch(report)
    result = probe(export, report)
    assert mismatches(report, result) == [], export.source
    assert len(result.layers) == sum(m is not None for m in export.modules)
    return export.source


# One case per layer kind (the registry): (input, layers). A kind added without a case here fails
# test_every_kind_has_an_export_case.
KIND_CASES = {
    "conv1d": ([3, 20], [{"conv1d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}}]),
    "conv2d": ([4, 9, 9], [{"conv2d": {"out_channels": 6, "kernel_size": [3, 1], "groups": 2, "dilation": 2, "bias": False}}]),
    "conv3d": ([2, 5, 6, 7], [{"conv3d": {"out_channels": 3, "kernel_size": 3, "padding": "same", "stride": 2}}]),
    "conv_transpose1d": ([3, 5], [{"conv_transpose1d": {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 1}}]),
    "conv_transpose2d": ([4, 5, 5], [{"conv_transpose2d": {"out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2, "dilation": 2}}]),
    "conv_transpose3d": ([2, 3, 3, 3], [{"conv_transpose3d": {"out_channels": 2, "kernel_size": 2, "padding": 1}}]),
    "max_pool1d": ([3, 11], [{"max_pool1d": {"kernel_size": 3, "stride": 2, "ceil_mode": True}}]),
    "max_pool2d": ([3, 11, 11], [{"max_pool2d": {"kernel_size": 3, "padding": 1, "dilation": 2}}]),
    "max_pool3d": ([2, 5, 5, 5], [{"max_pool3d": {"kernel_size": 2}}]),
    "avg_pool1d": ([3, 10], [{"avg_pool1d": {"kernel_size": 4, "padding": 2, "count_include_pad": False}}]),
    "avg_pool2d": ([3, 7, 7], [{"avg_pool2d": {"kernel_size": 3, "stride": 2, "ceil_mode": True, "divisor_override": 2}}]),
    "avg_pool3d": ([2, 4, 4, 4], [{"avg_pool3d": {"kernel_size": 2}}]),
    "adaptive_avg_pool1d": ([3, 10], [{"adaptive_avg_pool1d": {"output_size": 4}}]),
    "adaptive_avg_pool2d": ([3, 10, 9], [{"adaptive_avg_pool2d": {"output_size": [3, None]}}]),
    "adaptive_avg_pool3d": ([3, 4, 5, 6], [{"adaptive_avg_pool3d": {"output_size": 2}}]),
    "adaptive_max_pool1d": ([3, 10], [{"adaptive_max_pool1d": {"output_size": 3}}]),
    "adaptive_max_pool2d": ([3, 10, 9], [{"adaptive_max_pool2d": {"output_size": 4}}]),
    "adaptive_max_pool3d": ([3, 4, 5, 6], [{"adaptive_max_pool3d": {"output_size": [1, 2, 3]}}]),
    "global_avg_pool": ([5, 7, 7], [{"global_avg_pool": {"keepdim": False}}]),
    "global_max_pool": ([5, 4, 4, 4], ["global_max_pool"]),
    "linear": ([4, 3, 3], [{"linear": {"out_features": 8, "axis": "channels"}}, {"linear": {"out_features": 2, "axis": "last"}}, "flatten", {"linear": {"out_features": 5, "bias": False}}]),
    "flatten": ([4, 3, 5], [{"flatten": {"start_dim": 2}}, "flatten"]),
    "batch_norm1d": ([6, 8], [{"batch_norm1d": {"eps": 0.001}}, "flatten", "batch_norm1d"]),
    "batch_norm2d": ([6, 4, 4], [{"batch_norm2d": {"affine": False}}]),
    "batch_norm3d": ([6, 2, 2, 2], ["batch_norm3d"]),
    "layer_norm": ([6, 4, 5], ["layer_norm", {"layer_norm": {"normalized_shape": [4, 5], "bias": False}}, "flatten", "layer_norm"]),
    "group_norm": ([6, 4, 4], [{"group_norm": {"num_groups": 3, "affine": False}}]),
    "local_response_norm": ([6, 4, 4], [{"local_response_norm": {"size": 3, "k": 2}}]),
    "layer_scale": ([6, 4, 4], [{"layer_scale": {"init": 0.5}}, "flatten", "layer_scale"]),
    "relu": ([2, 3, 3], ["relu"]),
    "relu6": ([2, 3, 3], ["relu6"]),
    "leaky_relu": ([2, 3, 3], [{"leaky_relu": {"negative_slope": 0.2}}]),
    "elu": ([2, 3, 3], [{"elu": {"alpha": 0.5}}]),
    "gelu": ([2, 3, 3], [{"gelu": {"approximate": "tanh"}}]),
    "silu": ([2, 3, 3], ["silu"]),
    "sigmoid": ([2, 3, 3], ["sigmoid"]),
    "tanh": ([2, 3, 3], ["tanh"]),
    "hardswish": ([2, 3, 3], ["hardswish"]),
    "hardsigmoid": ([2, 3, 3], ["hardsigmoid"]),
    "softmax": ([4, 3, 3], [{"softmax": {"dim": -1}}, "softmax"]),
    "log_softmax": ([4, 3], [{"log_softmax": {"dim": 2}}]),
    "dropout": ([4, 3, 3], [{"dropout": {"p": 0.1}}, "dropout2d"]),
    "identity": ([4, 3, 3], ["identity"]),
    "zero_pad": ([2, 3, 3], [{"zero_pad": {"padding": [[0, 1], 2]}}, {"zero_pad": {"padding": 1}}]),
    "center_crop": ([2, 9, 8], [{"center_crop": {"size": [4, 5]}}, {"center_crop": {"size": 3}}]),
    "upsample": ([2, 4, 5], [{"upsample": {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}}, {"upsample": {"size": [3, 11]}}]),
    "add": ([3, 4, 4], [{"relu": None, "id": "a"}, "sigmoid", {"add": {"inputs": ["a", "previous"]}}]),
    "concat": ([3, 6, 6], [{"identity": None, "id": "a"}, {"conv2d": {"out_channels": 2, "kernel_size": 3}}, {"concat": {"inputs": ["a", "previous"], "crop": "center"}}]),
    "multiply": ([3, 4, 4], [{"identity": None, "id": "a"}, {"global_avg_pool": None}, "sigmoid", {"multiply": {"inputs": ["a", "previous"]}}]),
    "split": ([6, 4, 4], [{"split": {"split_size_or_sections": [2, 4]}, "id": ["a", "b"]}, {"concat": {"inputs": ["b", "a"]}},
                          {"split": {"split_size_or_sections": 4}, "id": ["c", "d"]}, {"relu": None, "input": "d"}]),
    "chunk": ([6, 4, 4], [{"chunk": {"chunks": 3}, "id": ["a", "b", "c"]}, {"add": {"inputs": ["a", "b", "c"]}}]),
    "channel_shuffle": ([6, 4, 4], [{"channel_shuffle": {"groups": 3}}]),
    "pixel_shuffle": ([8, 3, 3], [{"pixel_shuffle": {"upscale_factor": 2}}]),
    "pixel_unshuffle": ([2, 6, 6], [{"pixel_unshuffle": {"downscale_factor": 3}}]),
    "reshape": ([4, 3, 3], [{"reshape": {"shape": [-1, 9]}}, {"view": {"shape": [36]}}]),
    "permute": ([4, 3, 5], [{"permute": {"dims": [0, 2, 3, 1]}}]),
    "transpose": ([4, 3, 5], [{"transpose": {"dim0": 1, "dim1": -1}}]),
    "unflatten": ([12, 5], [{"unflatten": {"dim": 1, "unflattened_size": [3, -1]}}]),
    "narrow": ([6, 4, 4], [{"narrow": {"dim": 1, "start": 1, "length": 3}}, {"slice": {"dim": -1, "start": 0, "length": 2}}]),
    "select": ([5, 6, 2], [{"select": {"dim": 1, "index": 0}}, {"index": {"dim": -1, "index": -1}}]),
    "expand": ([1, 4], [{"expand": {"sizes": [3, -1]}}]),
    "roll": ([2, 4, 4], [{"roll": {"shifts": [1, -1], "dims": [2, 3]}}]),
    "gather": ([9, 3], [{"gather": {"index_shape": [4, 4]}}, {"index_select": {"dim": 3, "index_shape": [2]}}]),
    "mean": ([4, 5, 5], [{"mean": {"dim": [2, 3]}}]),
    "sum": ([4, 5, 5], [{"sum": {"dim": 1, "keepdim": True}}]),
    "amax": ([4, 5, 5], [{"amax": {"dim": -1}}]),
    "matmul": ([3, 4, 5], [{"identity": None, "id": "a"}, {"transpose": {"dim0": 2, "dim1": 3}, "id": "b"}, {"matmul": {"inputs": ["a", "b"]}},
                           {"select": {"dim": 1, "index": 0}, "id": "c"}, {"bmm": {"inputs": ["c", "c"]}}]),
    "multihead_attention": ([10, 12], [{"multihead_attention": {"embed_dim": 12, "num_heads": 3}}, {"mha": {"embed_dim": 12, "num_heads": 2, "bias": False}}]),
    "scaled_dot_product_attention": ([2, 5, 8], [{"identity": None, "id": "q"}, {"sdpa": {"inputs": ["q", "q", "q"]}}]),
    "parameter": ([5, 8], [{"identity": None, "id": "x"}, {"parameter": {"shape": [5, 8]}}, {"add": {"inputs": ["x", "previous"]}}]),
    "instance_norm1d": ([4, 9], [{"instance_norm1d": {"affine": True}}]),
    "instance_norm2d": ([4, 5, 5], ["instance_norm2d"]),
    "instance_norm3d": ([4, 3, 3, 3], [{"instance_norm3d": {"track_running_stats": True, "affine": True}}]),
    "prelu": ([4, 5, 5], ["prelu", {"prelu": {"num_parameters": 4}}]),
    "mish": ([2, 3, 3], ["mish"]),
    "selu": ([2, 3, 3], ["selu"]),
    "celu": ([2, 3, 3], [{"celu": {"alpha": 0.5}}]),
    "softplus": ([2, 3, 3], [{"softplus": {"beta": 2}}]),
    "hardtanh": ([2, 3, 3], [{"hardtanh": {"min_val": -2.0, "max_val": 2.0}}]),
    "log_sigmoid": ([2, 3, 3], ["log_sigmoid"]),
    "tanhshrink": ([2, 3, 3], ["tanhshrink", "swish"]),
    "lp_pool1d": ([3, 10], [{"lp_pool1d": {"norm_type": 2, "kernel_size": 3, "stride": 2}}]),
    "lp_pool2d": ([3, 7, 7], [{"lp_pool2d": {"norm_type": 1.5, "kernel_size": 2, "ceil_mode": True}}]),
}

# Pooling with TensorFlow's padding, and layers that read another tensor's size
FEATURE_CASES = {
    "pool same": ([3, 9, 8], [{"max_pool2d": {"kernel_size": 3, "stride": 2, "padding": "same"}}, {"avg_pool2d": {"kernel_size": 2, "padding": [[0, 1], 1]}}]),
    "upsample size_of": ([3, 19, 17], [{"conv2d": {"out_channels": 4, "kernel_size": 3, "stride": 2}}, {"upsample": {"size_of": "input", "mode": "bilinear"}}]),
    "concat tokens": ([4, 6], [{"identity": None, "id": "a"}, {"cat": {"inputs": ["a", "a"], "dim": 1}}, {"concat": {"inputs": ["previous", "previous"], "dim": 2}}]),
}


def test_every_kind_has_an_export_case():
    assert sorted(KIND_CASES) == sorted(KINDS)


@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_kind_exports_and_matches_pytorch(kind):
    input_shape, layers = KIND_CASES[kind]
    assert_parity(layers_spec(input_shape, layers))


@pytest.mark.parametrize("case", sorted(FEATURE_CASES))
def test_feature_exports_and_matches_pytorch(case):
    input_shape, layers = FEATURE_CASES[case]
    assert_parity(layers_spec(input_shape, layers))


def test_every_alias_has_an_export_case():
    written = json.dumps([KIND_CASES, FEATURE_CASES])
    assert [alias for alias in ALIASES if f'"{alias}"' not in written] == []


# -- constructs ---------------------------------------------------------------------------------

RESIDUAL_BLOCK = """
    name: residual net
    input: [3, 16, 16]
    blocks:
      basic:
        params: {width: ~, stride: 1}
        layers:
          - residual:
              body:
                - conv2d: {out_channels: $width, kernel_size: 3, stride: $stride, padding: 1, bias: false}
                - batch_norm2d
                - relu
                - conv2d: {out_channels: $width, kernel_size: 3, padding: 1, bias: false}
                - batch_norm2d
              shortcut:
                - conv2d: {out_channels: $width, kernel_size: 1, stride: $stride, bias: false}
                  when: ${stride != 1 or in_channels != width}
                - batch_norm2d:
                  when: ${stride != 1 or in_channels != width}
          - relu
    layers:
      - basic: {width: 8}
      - basic: {width: 16, stride: 2}
        repeat: 3
      - global_avg_pool: {keepdim: false}
      - linear: {out_features: 10}
"""


def test_residual_block_with_conditional_projection():
    source = assert_parity(spec_of(RESIDUAL_BLOCK))
    assert "class Basic(nn.Sequential):" in source
    assert "def __init__(self, in_channels, width, stride=1):" in source
    assert "nn.Conv2d(in_channels, width, kernel_size=1, stride=stride, bias=False)," in source
    assert "shortcut = self.shortcut(identity)\n        x = x + shortcut" in source
    # the first repetition takes 8 channels, the others 16
    assert "Basic(8, width=16, stride=2)," in source and source.count("Basic(16, width=16, stride=2),") == 2


def test_named_branches_concat_and_empty_branch():
    spec = spec_of("""
        name: branches
        input: [4, 8, 8]
        layers:
          - parallel:
              merge: concat
              branches:
                left: [{conv2d: {out_channels: 3, kernel_size: 1}}]
                right: [{max_pool2d: {kernel_size: 3, stride: 1, padding: 1}}, {conv2d: {out_channels: 2, kernel_size: 1}}]
                same: []
          - parallel:
              merge: add
              branches: [[], [{conv2d: {out_channels: 9, kernel_size: 3, padding: same}}]]
    """)
    source = assert_parity(spec)
    assert "x = self.left(x)\n        right = self.right(identity)\n        x = torch.cat([x, right, identity], dim=1)" in source
    assert "x = identity + x" in source
    assert 'padding="same"' in source


def test_squeeze_excitation_and_branches_with_graph_edges():
    spec = spec_of("""
        name: se
        input: [8, 6, 6]
        layers:
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
            id: features
          - parallel:
              merge: multiply
              branches:
                - []
                - [global_avg_pool, {conv2d: {out_channels: 2, kernel_size: 1}}, relu, {conv2d: {out_channels: 8, kernel_size: 1}}, sigmoid]
          - parallel:
              merge: concat
              branches:
                a: [{relu: ~, id: r}, {add: {inputs: [r, features]}}]
                b: [{conv2d: {out_channels: 4, kernel_size: 1}}]
    """)
    source = assert_parity(spec)
    assert "x = self.branch2(x)\n        x = features * x" in source
    # a branch that reads a tensor from outside it takes it as an argument
    assert "def forward(self, x, features):\n        r = self.relu(x)\n        x = r + features" in source
    assert "x = self.a(x, features)\n        b = self.b(identity)\n        x = torch.cat([x, b], dim=1)" in source


def test_unet_skips_read_tensors_by_id_and_crop():
    source = assert_parity(load_model("unet"))
    assert "enc4 = self.down3(enc3)" in source and "x = self.up1(x, enc4)" in source
    assert "cat_crop_enc4 = crop_like(enc4, [x])\n        x = torch.cat([cat_crop_enc4, x], dim=1)" in source


def test_same_padding_at_stride_two_is_an_explicit_pad():
    spec = layers_spec([3, 15, 16], [
        {"conv2d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"}},
        {"conv2d": {"out_channels": 4, "kernel_size": 4, "stride": 2, "padding": "same", "dilation": 2, "padding_mode": "reflect"}},
    ])
    source = assert_parity(spec)
    assert "nn.Sequential(SamePad(3, 2), nn.Conv2d(3, 4, kernel_size=3, stride=2))" in source
    assert 'SamePad(4, 2, dilation=2, mode="reflect")' in source
    assert "import torch.nn.functional as F" in source


def test_asymmetric_pairs_are_an_explicit_pad():
    spec = layers_spec([2, 7, 8], [
        {"conv2d": {"out_channels": 3, "kernel_size": 3, "padding": [[0, 1], [2, 1]]}},
        {"conv2d": {"out_channels": 3, "kernel_size": 3, "padding": [[1, 1], 2]}},
        {"conv2d": {"out_channels": 3, "kernel_size": 2, "padding": [[1, 0], 0], "padding_mode": "replicate"}},
    ])
    source = assert_parity(spec)
    assert "nn.Sequential(nn.ZeroPad2d((2, 1, 0, 1)), nn.Conv2d(2, 3, kernel_size=3))" in source  # F.pad order: W first
    assert "nn.Conv2d(3, 3, kernel_size=3, padding=(1, 2))" in source
    assert "nn.ReplicationPad2d((0, 0, 1, 0))" in source


def test_repeated_residual_becomes_a_class_with_the_parameters_it_uses():
    spec = spec_of("""
        name: repeats
        input: [4, 8, 8]
        blocks:
          stage:
            params: {width: ~, depth: 2}
            layers:
              - conv2d: {out_channels: $width, kernel_size: 1}
              - residual:
                  body: [{conv2d: {out_channels: $width, kernel_size: 3, padding: 1}}, relu]
                repeat: $depth
              - parallel:
                  merge: concat
                  branches: [[identity], [{conv2d: {out_channels: "${width // 2}", kernel_size: 1}}]]
                repeat: 2
        layers:
          - stage: {width: 6}
          - stage: {width: 4, depth: 3}
          - seq: [{conv2d: {out_channels: 5, kernel_size: 1}}, relu]
            repeat: 2
          - relu:
            repeat: 2
    """)
    source = assert_parity(spec)
    assert "class Residual(nn.Module):" in source and "def __init__(self, in_channels, width):" in source
    # each repetition concatenates width // 2 more channels
    assert "nn.Sequential(Parallel(width, width=width), Parallel(width + width // 2, width=width))" in source
    assert "nn.Sequential(*[Residual(width, width=width) for _ in range(3)])" in source
    assert "Stage(4, width=6)," in source and "Stage2(12, width=4)," in source  # depth 3: another class


def test_growing_repeats_carry_their_channel_count():
    """DenseNet-like: each repetition concatenates, so the width grows; the count after the loop
    is the loop's variable, and the block exposes it as ``out_channels``."""
    spec = spec_of("""
        name: dense
        input: [4, 8, 8]
        blocks:
          dense_layer:
            params: {growth: ~}
            layers:
              - conv2d: {out_channels: $growth, kernel_size: 3, padding: 1}
              - concat: {inputs: [block_input, previous]}
          dense_block:
            params: {n: ~, growth: 4}
            layers:
              - dense_layer: {growth: $growth}
                repeat: $n
        layers:
          - dense_block: {n: 3}
          - batch_norm2d
          - dense_block: {n: 2, growth: 2}
          - conv2d: {out_channels: 3, kernel_size: 1}
    """)
    source = assert_parity(spec)
    assert "DenseLayer(in_channels + growth + growth, growth=growth)," in source
    assert "nn.BatchNorm2d(16)," in source and "DenseBlock2(16, growth=2)," in source


def test_when_with_ids_inputs_and_chosen_tensors():
    source = assert_parity(load_model("resnet18"))
    assert "class BasicDownsample(nn.Module):" in source  # the uses that keep the `when:` projection
    assert "projection = self.downsample(identity)\n        x = out + projection" in source
    assert "out = self.bn2(x)\n        x = out + identity" in source
    assert "nn.Sequential(BasicDownsample(64, planes=128, stride=2), Basic(128, planes=128, stride=2))" in source


def test_alternative_bodies_know_which_condition_holds():
    """Inside ``when: in_channels != out`` the width after ``when: in_channels == out`` is known."""
    source = assert_parity(load_model("efficientnet_b0"))
    assert "out if in_channels == out else in_channels" not in source


def test_one_dimensional_and_three_dimensional_networks():
    assert_parity(layers_spec([2, 32], [
        {"conv1d": {"out_channels": 4, "kernel_size": 5, "padding": "same", "stride": 3}}, "relu",
        {"max_pool1d": {"kernel_size": 2}}, {"upsample": {"scale_factor": 2, "mode": "linear"}},
        {"layer_scale": None}, "global_avg_pool", "flatten", {"linear": {"out_features": 3}},
    ]))
    assert_parity(layers_spec([1, 6, 8, 8], [
        {"conv3d": {"out_channels": 2, "kernel_size": [1, 3, 3], "padding": [0, 1, 1]}}, "batch_norm3d",
        {"upsample": {"scale_factor": [1, 2, 2], "mode": "trilinear"}}, {"layer_scale": None}, {"global_max_pool": {"keepdim": False}},
    ]))


def test_names_become_identifiers():
    spec = layers_spec([3, 8, 8], [
        {"conv2d": {"out_channels": 4, "kernel_size": 1}, "name": "1x1", "id": "skip"},
        {"relu": None, "name": "forward"},
        {"relu": None, "name": "conv-b"},
        {"seq": [{"conv2d": {"out_channels": 4, "kernel_size": 1}, "name": "conv"}, {"add": {"inputs": ["skip", "previous"]}}], "name": "stage"},
    ])
    source = assert_parity(spec)
    for attr in ("self.layer_1x1 = ", "self.forward_ = ", "self.conv_b = ", "self.stage = Stage(4)"):
        assert attr in source


def test_block_parameters_named_like_the_code_s_own_names():
    spec = spec_of("""
        name: names
        input: [3, 8, 8]
        blocks:
          b:
            params: {nn: ~, x: 1, max: 2}
            layers: [{conv2d: {out_channels: "${max(nn, max)}", kernel_size: $x}}]
        layers: [{b: {nn: 5}}]
    """)
    source = assert_parity(spec)
    assert "def __init__(self, in_channels, nn_, x_=1, max_=2):" in source
    assert "nn.Conv2d(in_channels, max(nn_, max_), kernel_size=x_)" in source and "B(3, nn_=5)" in source


# -- the built-ins read as PyTorch people write it ------------------------------------------------

def test_vgg16_reads_like_torchvision():
    spec = load_model("vgg16")
    source = export_torch(analyze(spec)).source
    assert "class Stage(nn.Sequential):" in source and "def __init__(self, in_channels, channels):" in source
    assert '("stage2", Stage(64, channels=128)),' in source and '("stage3", Stage2(128, channels=256)),' in source
    assert '("classifier", nn.Sequential(\n' in source
    assert "convcalc's counts for one 3x224x224 input:" in source and "138,357,544" in source


def test_googlenet_inception_is_four_sequential_branches_concatenated():
    spec = load_model("googlenet")
    source = export_torch(analyze(spec)).source
    assert "x = torch.cat([x, branch2, branch3, branch4], dim=1)" in source
    assert '("inception3a", Inception(192, ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32)),' in source


@pytest.mark.parametrize("name", ["lenet5", "vgg16", "resnet50", "convnext_tiny", "unet", "efficientnet_b0"])
def test_the_file_imports_only_torch(name):
    """And the standard library's collections (an ``OrderedDict`` names a Sequential's children)."""
    spec = load_model(name)
    tree = ast.parse(export_torch(analyze(spec)).source)
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert modules and all(m in ("torch", "collections") or m.startswith("torch.") for m in modules)


def test_rows_map_to_the_modules_that_compute_them():
    spec = load_model("vgg16")
    report = analyze(spec)
    modules = dict(zip((r.path for r in report.rows), export_torch(report).modules))
    # the module tree is the group tree: a row's module is named by its path
    assert modules["features.stage1.conv.0.conv"] == "features.stage1.conv.0.conv"
    assert modules["features.stage3.conv.2.1"] == "features.stage3.conv.2.1"
    assert modules["classifier.6"] == "classifier.6"
    spec = load_model("resnet50")
    report = analyze(spec)
    modules = dict(zip((r.path for r in report.rows), export_torch(report).modules))
    assert modules["layer2.0.downsample.0"] == "layer2.0.downsample.0"
    assert modules["layer2.0.add"] is None  # written in forward


# -- what cannot be exported says so, at its place in the spec --------------------------------------

def export_error(text: str) -> UsageError:
    spec = spec_of(text)
    with pytest.raises(UsageError) as caught:
        export_torch(analyze(spec))
    assert caught.value.code == "export-unsupported"
    return caught.value


def test_avg_pool1d_divisor_override_is_refused_before_any_export():
    """nn.AvgPool1d has no divisor_override, so neither has convcalc's avg_pool1d: an unknown
    argument, where it is written (the export's own refusal is never reached)."""
    with pytest.raises(SpecError) as caught:
        analyze(spec_of("""
            name: p
            input: [2, 8]
            layers:
              - avg_pool1d: {kernel_size: 2, divisor_override: 3}
        """))
    assert caught.value.code == "spec-unknown-arg" and caught.value.pos.line == 5


def test_a_block_used_at_two_sizes_gets_a_class_for_each():
    """The features after a block's flatten differ between its uses: the linear layer's width is
    a number, so the two uses' code differs and each has its class."""
    source = assert_parity(spec_of("""
        name: head
        input: [2, 8, 8]
        blocks:
          head:
            layers: [flatten, {linear: {out_features: 3}}]
        layers:
          - parallel:
              merge: concat
              branches: [[head], [{max_pool2d: {kernel_size: 2}}, head]]
    """))
    assert "nn.Linear(128, 3)" in source and "nn.Linear(32, 3)" in source and "class Head2(nn.Sequential):" in source


def test_a_padding_parameter_is_written_as_each_use_means_it():
    """`padding: $pad` is 1 in one use and TensorFlow's 'same' at stride 2 in the other: the code
    of each use says what PyTorch needs for it."""
    source = assert_parity(spec_of("""
        name: p
        input: [2, 8, 8]
        blocks:
          b:
            params: {pad: 0, stride: 1}
            layers: [{conv2d: {out_channels: 2, kernel_size: 3, stride: $stride, padding: $pad}}]
        layers:
          - b: {pad: 1}
          - b: {pad: same, stride: 2}
    """))
    assert "nn.Conv2d(in_channels, 2, kernel_size=3, padding=pad, stride=stride)" in source
    assert "SamePad(3, stride)" in source


def test_a_tensor_read_after_the_repetition_that_defines_it_is_returned():
    source = assert_parity(spec_of("""
        name: p
        input: [2, 8, 8]
        layers:
          - seq: [{relu: ~, id: inner}, {add: {inputs: [inner, previous]}}]
            repeat: 2
          - add: {inputs: [inner, previous]}
    """))
    assert "return x, inner" in source


def test_symbolic_input_needs_a_size():
    error = export_error("""
        name: p
        input: [2, H, W]
        layers: [relu]
    """)
    assert "--input" in error.hint


# -- the command ----------------------------------------------------------------------------------

def test_export_command_writes_a_runnable_file(run_cli, tmp_path):
    target = tmp_path / "lenet.py"
    code, out, err = run_cli("export", "lenet5", "--to", "torch", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert "class LeNet5(nn.Sequential):" in target.read_text()
    pytest.importorskip("torch")
    run = subprocess.run([sys.executable, str(target)], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["parameters: 62,006", "output: (1, 10)"]


def test_export_command_prints_and_takes_an_input_size(run_cli):
    code, out, _ = run_cli("export", "vgg16", "--input", "3x64x64")
    assert code == 0
    assert "output = model(torch.zeros(1, 3, 64, 64))" in out
    assert "convcalc's counts for one 3x64x64 input:" in out


def test_export_command_reports_what_it_cannot_export(run_cli, tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text("name: p\ninput: [2, L]\nlayers:\n  - relu\n")
    code, out, err = run_cli("export", str(spec))
    assert code == 2 and out == ""
    assert err.startswith(f"{spec}:4:") and "error[export-unsupported]" in err and "symbolic sizes" in err
