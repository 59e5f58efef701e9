"""torchvision's alexnet, vgg16_bn, squeezenet1_0 and densenet121 as built-ins, to the unit.

Totals are those of ../shared/reference/published.yaml, written here as the arithmetic of each
architecture. Every leaf module torchvision runs is compared, in call order, with the row of the
same path (kind, hyper-parameters, shapes, params, MACs), and the --compat totals with the five
peer tools' measurements, both from ``tests/reference/torchvision_layers.json`` (a byte-for-byte
copy of ../shared/reference/torchvision_layers.json: torchvision 0.28, torch 2.13, batch 1).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from helpers import analyze_model

from convcalc.interop.compat import compat_total

REFERENCE = Path(__file__).parent / "reference" / "torchvision_layers.json"
MODELS = ("alexnet_tv", "vgg16_bn", "squeezenet1_0", "densenet121")


@lru_cache(maxsize=None)
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def report(name: str):
    return analyze_model(name)


def tv_layers(name: str) -> list[dict]:
    data = reference()
    return [dict(zip(data["columns"], layer)) for layer in data["models"][name]["layers"]]


# -- the totals, from the architecture ----------------------------------------------------------------


def conv(c_in: int, c_out: int, k: int, size: int, bias: bool = True) -> tuple[int, int]:
    """(params, MACs) of a k x k convolution with a size x size output."""
    return c_out * c_in * k * k + (c_out if bias else 0), size * size * c_out * c_in * k * k


def linear(n_in: int, n_out: int) -> tuple[int, int]:
    return n_in * n_out + n_out, n_in * n_out


def total(*layers: tuple[int, int]) -> tuple[int, int]:
    return sum(p for p, _ in layers), sum(m for _, m in layers)


ALEXNET_TV = total(
    conv(3, 64, 11, 55), conv(64, 192, 5, 27), conv(192, 384, 3, 13), conv(384, 256, 3, 13), conv(256, 256, 3, 13),
    linear(256 * 6 * 6, 4096), linear(4096, 4096), linear(4096, 1000),
)

VGG16_CONVS = [(64, 224)] * 2 + [(128, 112)] * 2 + [(256, 56)] * 3 + [(512, 28)] * 3 + [(512, 14)] * 3
VGG16_BN = total(
    *(conv(c_in, c_out, 3, size) for (c_in, _), (c_out, size) in zip([(3, 0), *VGG16_CONVS], VGG16_CONVS)),
    *((2 * c_out, 0) for c_out, _ in VGG16_CONVS),  # batch norm: scale and shift per channel, no MACs
    linear(512 * 7 * 7, 4096), linear(4096, 4096), linear(4096, 1000),
)

# torchvision's Fire(inplanes, squeeze, expand1x1, expand3x3) modules, and their map size
FIRES = [(96, 16, 64, 64, 54), (128, 16, 64, 64, 54), (128, 32, 128, 128, 54), (256, 32, 128, 128, 27),
         (256, 48, 192, 192, 27), (384, 48, 192, 192, 27), (384, 64, 256, 256, 27), (512, 64, 256, 256, 13)]
SQUEEZENET = total(
    conv(3, 96, 7, 109),
    *(layer for c_in, s, e1, e3, size in FIRES for layer in (conv(c_in, s, 1, size), conv(s, e1, 1, size), conv(s, e3, 3, size))),
    conv(512, 1000, 1, 13),
)


def densenet(blocks=(6, 12, 24, 16), growth=32, bn_size=4, features=64) -> tuple[int, int]:
    """torchvision's DenseNet: each dense layer sees every feature before it; a transition halves."""
    layers, size = [conv(3, features, 7, 112, bias=False), (2 * features, 0)], 56
    for b, n in enumerate(blocks):
        for l in range(n):
            c_in = features + l * growth
            layers += [(2 * c_in, 0), conv(c_in, bn_size * growth, 1, size, bias=False),
                       (2 * bn_size * growth, 0), conv(bn_size * growth, growth, 3, size, bias=False)]
        features += n * growth
        if b < len(blocks) - 1:
            layers += [(2 * features, 0), conv(features, features // 2, 1, size, bias=False)]
            features, size = features // 2, size // 2
    return total(*layers, (2 * features, 0), linear(features, 1000))


TOTALS = {
    "alexnet_tv": (61_100_840, 714_188_480, ALEXNET_TV),
    "vgg16_bn": (138_365_992, 15_470_264_320, VGG16_BN),
    "squeezenet1_0": (1_248_424, 818_924_576, SQUEEZENET),
    "densenet121": (7_978_856, 2_834_161_664, densenet()),
}


@pytest.mark.parametrize("name", MODELS)
def test_exact_totals(name):
    params, macs, derived = TOTALS[name]
    r = report(name)
    assert (r.totals.params, r.totals.macs, r.output_shape) == (params, macs, (1000,)) == (*derived, (1000,))
    tv = reference()["models"][name]
    assert (tv["params"], tv["macs"], tv["output"]) == (params, macs, [1, 1000])


def test_vgg16_bn_is_vgg16_with_13_batch_norms():
    """torchvision's make_layers keeps each conv's bias before its batch norm: only the norms' 2*C are added."""
    assert report("vgg16_bn").totals.params - analyze_model("vgg16").totals.params == 2 * (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512)
    assert report("vgg16_bn").totals.macs == analyze_model("vgg16").totals.macs
    assert all(r.layer.bias for r in report("vgg16_bn").rows if r.kind == "conv2d")


def test_densenet121_channels_grow_by_32_per_layer():
    rows = {r.path: r for r in report("densenet121").rows}
    assert rows["features.denseblock1.denselayer6.cat"].output_shape == (64 + 6 * 32, 56, 56)
    assert rows["features.denseblock2.denselayer1.norm1"].input_shapes == ((256 // 2, 28, 28),)
    assert rows["features.denseblock3.denselayer24.cat"].output_shape == (256 + 24 * 32, 14, 14)
    assert rows["features.norm5"].output_shape == (512 + 16 * 32, 7, 7)
    assert {rows[f"features.denseblock4.denselayer{n}.conv2"].output_shape[0] for n in range(1, 17)} == {32}


def test_squeezenet_fire_concatenates_its_expands():
    rows = {r.path: r for r in report("squeezenet1_0").rows}
    cat = rows["features.12.cat"]
    assert cat.input_shapes == ((256, 13, 13), (256, 13, 13)) and cat.output_shape == (512, 13, 13)
    assert rows["features.12.expand3x3"].input_shapes == rows["features.12.squeeze"].output_shapes  # not the expand1x1's output


# -- every leaf module of torchvision, row by row ---------------------------------------------------

KIND_OF_TYPE = {
    "Conv2d": "conv2d", "BatchNorm2d": "batch_norm2d", "ReLU": "relu", "MaxPool2d": "max_pool2d", "AvgPool2d": "avg_pool2d",
    "AdaptiveAvgPool2d": "adaptive_avg_pool2d", "Linear": "linear", "Dropout": "dropout",
}
# what torchvision's forward() calls as a function: no module, no row in the reference
FUNCTIONS = {"alexnet_tv": {"flatten"}, "vgg16_bn": {"flatten"}, "squeezenet1_0": {"cat", "flatten"},
             "densenet121": {"cat", "relu", "avgpool", "flatten"}}


def one(value):
    """A per-axis argument as torchvision's hyper-parameters write it: one int when every axis agrees."""
    if isinstance(value, (tuple, list)) and len(set(value)) == 1:
        return value[0]
    return value


def hyper_parameters(row) -> dict:
    """The row's hyper-parameters under the reference's names ("hp" in torchvision_layers.json)."""
    layer, c_in = row.layer, row.input_shapes[0][0]
    if row.kind == "conv2d":
        return {"cin": c_in, "cout": layer.out_channels, "k": one(layer.kernel_size), "s": one(layer.stride), "p": one(layer.padding),
                "d": one(layer.dilation), "g": layer.groups, "bias": layer.bias}
    if row.kind == "batch_norm2d":
        return {"c": c_in, "affine": layer.affine}
    if row.kind == "max_pool2d":
        return {"k": one(layer.kernel_size), "s": one(layer.stride), "p": one(layer.padding), "d": one(layer.dilation), "ceil": layer.ceil_mode}
    if row.kind == "avg_pool2d":
        return {"k": one(layer.kernel_size), "s": one(layer.stride), "p": one(layer.padding), "ceil": layer.ceil_mode,
                "incl_pad": layer.count_include_pad}
    if row.kind == "adaptive_avg_pool2d":
        return {"out": one(layer.output_size)}
    if row.kind == "dropout":
        return {"p": layer.p}
    if row.kind == "linear":
        return {"cin": row.input_shapes[0][-1], "cout": layer.out_features, "bias": layer.bias}
    return {}


@pytest.mark.parametrize("name", MODELS)
def test_modules_are_torchvisions_in_call_order(name):
    """The rows that are modules are torchvision's leaf modules, path for path; the others are the
    functions its forward() calls."""
    rows = report(name).rows
    assert [r.path for r in rows if not r.functional] == [layer["name"] for layer in tv_layers(name)]
    assert {r.path.rsplit(".", 1)[-1] for r in rows if r.functional} == FUNCTIONS[name]


@pytest.mark.parametrize("name", MODELS)
def test_every_row_equals_torchvisions_module(name):
    rows = {r.path: r for r in report(name).rows}
    for layer in tv_layers(name):
        row = rows[layer["name"]]
        ours = {"kind": row.kind, "hp": hyper_parameters(row), "calls": 1, "in": [1, *row.input_shapes[0]], "out": [1, *row.output_shape],
                "params": row.params, "macs": row.macs}
        theirs = {"kind": KIND_OF_TYPE[layer["type"]], **{key: layer[key] for key in ("hp", "calls", "in", "out", "params", "macs")}}
        assert ours == theirs, layer["name"]


# -- what the peer tools report -----------------------------------------------------------------------

TOOLS = {  # measured on torchvision's models (torchvision_layers.json "tools")
    ("alexnet_tv", "ptflops"): 716_441_128,
    ("alexnet_tv", "fvcore"): 714_197_696,
    ("alexnet_tv", "torchinfo"): 714_682_664,
    ("vgg16_bn", "ptflops"): 15_550_320_616,
    ("vgg16_bn", "fvcore"): 15_497_384_448,
    ("vgg16_bn", "torchinfo"): 15_483_829_480,
    ("squeezenet1_0", "ptflops"): 836_821_960,
    ("squeezenet1_0", "fvcore"): 819_093_576,
    ("squeezenet1_0", "torchinfo"): 823_270_824,
    ("densenet121", "ptflops"): 2_899_843_048,
    ("densenet121", "fvcore"): 2_865_546_752,
    ("densenet121", "torchinfo"): 2_834_246_312,
}


@pytest.mark.parametrize(("name", "tool"), list(TOOLS), ids=[f"{m}-{t}" for m, t in TOOLS])
def test_compat_total_equals_the_tool(name, tool):
    assert reference()["models"][name]["tools"][tool]["macs"] == TOOLS[(name, tool)]
    result = compat_total(report(name), tool)
    assert (result.total, result.partial) == (TOOLS[(name, tool)], False)


def test_densenet121_ptflops_counts_forwards_functions_once():
    """F.relu and F.adaptive_avg_pool2d after `features` (1024 x 7 x 7 each) are counted once by the
    patched functions; written as modules, ptflops would count each twice (hook + patch): +100,352."""
    r = report("densenet121")
    breakdown = compat_total(r, "ptflops").breakdown
    assert breakdown["activations called as functions: 1 per element"] == 1024 * 7 * 7
    assert breakdown["pooling called as a function: 1 per input element"] == 1024 * 7 * 7
    as_modules = compat_total(r, "ptflops", calls={"relu": "module", "avgpool": "module"}).total
    assert as_modules - TOOLS[("densenet121", "ptflops")] == 2 * 1024 * 7 * 7 == 100_352


def test_squeezenet_torchinfo_adds_a_bias_per_output_element():
    bias_adds = sum(size * size * (s + e1 + e3) for _, s, e1, e3, size in FIRES) + 109 * 109 * 96 + 13 * 13 * 1000
    assert TOOLS[("squeezenet1_0", "torchinfo")] - SQUEEZENET[1] == bias_adds == reference()["models"]["squeezenet1_0"]["bias_adds"]


# -- the export loads torchvision's weights ------------------------------------------------------------


def torchvision_state_dict_keys(name: str) -> list[str]:
    """What ``torchvision.models.NAME().state_dict()`` holds, read off its leaf modules."""
    keys = []
    for layer in tv_layers(name):
        if layer["type"] == "BatchNorm2d":
            keys += [f"{layer['name']}.{key}" for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
        elif layer["params"]:
            keys += [f"{layer['name']}.weight"] + ([f"{layer['name']}.bias"] if layer["hp"]["bias"] else [])
    return keys


@pytest.mark.parametrize("name", MODELS)
def test_export_has_torchvisions_modules_and_state_dict_keys(name):
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build
    from convcalc.interop.torch_export import export_torch

    export = export_torch(report(name))
    model = build(export.source, export.class_name)
    assert list(model.state_dict()) == torchvision_state_dict_keys(name)
    assert {layer["name"]: type(model.get_submodule(layer["name"])).__name__ for layer in tv_layers(name)} == {
        layer["name"]: layer["type"] for layer in tv_layers(name)
    }


def test_copies_named_by_their_index_export_side_by_side():
    """``name: "denselayer${i + 1}"`` puts the copies next to each other in the parent module, as their
    row paths say; a block used with three more copies is a numbered class, not StackConv3Conv4Conv5."""
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build
    from convcalc.interop.torch_export import export_torch
    from helpers import analyze_text

    r = analyze_text("""
        name: dense
        input: [4, 8, 8]
        blocks:
          stack:
            params: {n: ~}
            layers:
              - conv2d: {out_channels: 4, kernel_size: 1, bias: false}
                repeat: $n
                name: "conv${i + 1}"
        layers:
          - stack: {n: 2}
            name: block1
          - stack: {n: 5}
            name: block2
    """)
    export = export_torch(r)
    assert list(build(export.source, export.class_name).state_dict()) == [f"{r.path}.weight" for r in r.rows] == [
        "block1.conv1.weight", "block1.conv2.weight", *(f"block2.conv{n}.weight" for n in range(1, 6)),
    ]
    assert "class Stack(nn.Sequential):" in export.source and "class Stack2(nn.Sequential):" in export.source
