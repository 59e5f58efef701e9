"""torchvision's mobilenet_v3_small, shufflenet_v2_x1_0 and regnet_y_400mf as built-ins, exact and
with torchvision's names, and the names of the built-in mobilenet_v2.

References: the totals of ../shared/reference/published.yaml, written out here; and each model's
leaf modules from ../shared/reference/torchvision_layers.json (torchvision 0.28, torch 2.13: path,
type, hyper-parameters, shapes, params, MACs and the peer tools' totals), read from its
byte-for-byte copy ``tests/reference/torchvision_layers.json``.
"""

from __future__ import annotations

import json
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

from convcalc import analyze, load_model, load_spec
from convcalc.analysis.check import check_report
from convcalc.interop.compat import TOOLS, compat_total
from convcalc.interop.torch_export import export_torch
from convcalc.spec._expr import make_divisible

REFERENCE = Path(__file__).parent / "reference" / "torchvision_layers.json"
MODELS = ("mobilenet_v3_small", "shufflenet_v2_x1_0", "regnet_y_400mf")
PUBLISHED = [  # published.yaml: trainable parameters, conv and linear MACs without bias, output
    pytest.param("mobilenet_v3_small", 2_542_856, 56_510_400, (1000,), id="mobilenet_v3_small"),
    pytest.param("shufflenet_v2_x1_0", 2_278_604, 144_907_992, (1000,), id="shufflenet_v2_x1_0"),
    pytest.param("regnet_y_400mf", 4_344_144, 401_842_848, (1000,), id="regnet_y_400mf"),
]
# torchvision's module type -> convcalc's kind
KIND_OF = {
    "Conv2d": "conv2d", "BatchNorm2d": "batch_norm2d", "Linear": "linear", "ReLU": "relu", "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid", "Sigmoid": "sigmoid", "MaxPool2d": "max_pool2d", "AdaptiveAvgPool2d": "adaptive_avg_pool2d",
    "Dropout": "dropout",
}


@lru_cache(maxsize=None)
def report(name: str):
    return analyze(load_model(name))


@lru_cache(maxsize=None)
def reference(name: str) -> dict:
    whole = json.loads(REFERENCE.read_text())
    data = {**whole["models"][name], "columns": whole["columns"]}
    data["rows"] = [dict(zip(data["columns"], r)) for r in data["layers"]]
    return data


def called(name: str) -> list[dict]:
    """The leaf modules that run in torchvision's forward (ShuffleNet's stride-1 units hold an empty,
    never-called ``branch1 = nn.Sequential()``: a leaf without a row anywhere)."""
    return [r for r in reference(name)["rows"] if r["calls"]]


def hyper(row) -> dict:
    """A row's hyper-parameters, named as torchvision_layers.json names them."""
    layer, c_in, c_out = row.layer, row.input_shapes[0][0], row.output_shape[0]
    if row.kind == "conv2d":
        return {"cin": c_in, "cout": c_out, "k": layer.kernel_size, "s": layer.stride, "p": layer.padding, "d": layer.dilation,
                "g": layer.groups, "bias": layer.bias}
    if row.kind == "batch_norm2d":
        return {"c": c_in, "affine": layer.affine}
    if row.kind == "linear":
        return {"cin": c_in, "cout": c_out, "bias": layer.bias}
    if row.kind == "max_pool2d":
        return {"k": layer.kernel_size, "s": layer.stride, "p": layer.padding, "d": layer.dilation, "ceil": layer.ceil_mode}
    if row.kind == "adaptive_avg_pool2d":
        return {"out": layer.output_size}
    if row.kind == "dropout":
        return {"p": layer.p}
    return {}


def torchvision_state_dict(rows: list[dict]) -> dict[str, tuple]:
    """torchvision's state_dict, key -> shape: a leaf module with parameters gives ``path.weight``
    and ``path.bias`` when it has one; a batch norm also its buffers ``running_mean``,
    ``running_var`` and ``num_batches_tracked``."""
    state = {}
    for r in rows:
        hp, path = r["hp"], r["name"]
        if r["type"] == "Conv2d":
            state[f"{path}.weight"] = (hp["cout"], hp["cin"] // hp["g"], hp["k"], hp["k"])
        elif r["type"] == "Linear":
            state[f"{path}.weight"] = (hp["cout"], hp["cin"])
        elif r["type"] == "BatchNorm2d":
            state |= {f"{path}.{key}": (hp["c"],) for key in ("weight", "bias", "running_mean", "running_var")}
            state[f"{path}.num_batches_tracked"] = ()
        else:
            assert not r["params"], r
        if r["type"] in ("Conv2d", "Linear") and hp["bias"]:
            state[f"{path}.bias"] = (hp["cout"],)
    return state


# -- every model: totals, rows, peer tools, state_dict ----------------------------------------------


@pytest.mark.parametrize(("name", "params", "macs", "output"), PUBLISHED)
def test_published_totals(name, params, macs, output):
    got = report(name)
    assert (got.totals.params, got.totals.macs, got.output_shape) == (params, macs, output)
    ref = reference(name)
    assert (ref["params"], ref["macs"], tuple(ref["output"][1:])) == (params, macs, output)


@pytest.mark.parametrize("name", MODELS)
def test_spec_expectations_hold(name):
    verdicts = check_report(report(name))
    assert verdicts and all(v.ok for v in verdicts), "\n".join(v.render() for v in verdicts if not v.ok)


@pytest.mark.parametrize("name", MODELS)
def test_every_leaf_module_is_a_row_with_its_numbers(name):
    """Each of torchvision's leaf modules, with or without parameters, is the row at its path: kind,
    hyper-parameters, input and output shapes, params and MACs."""
    got = report(name)
    for ref in called(name):
        row = got.row(ref["name"])
        assert row is not None, f"no row {ref['name']} ({ref['type']})"
        ours = {"type": row.kind, "hp": hyper(row), "in": [1, *row.input_shapes[0]], "out": [1, *row.output_shape],
                "params": row.params, "macs": row.macs}
        theirs = {"type": KIND_OF[ref["type"]], **{k: ref[k] for k in ("hp", "in", "out", "params", "macs")}}
        assert ours == theirs, ref["name"]
    assert sum(r.params for r in got.rows) == sum(r["params"] for r in called(name))


@pytest.mark.parametrize("name", MODELS)
def test_exported_modules_are_torchvisions_in_call_order(name):
    """Rows torchvision computes without a module (torch.cat, x.chunk, the residual add, the
    squeeze-excitation product, x.mean, torch.flatten, the channel shuffle) are no module in the
    export either: what is left is torchvision's leaf modules, named alike, in the order they run."""
    export = export_torch(report(name))
    assert [m for m in export.modules if m is not None] == [r["name"] for r in called(name)]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", MODELS)
def test_compat_totals_equal_the_tools(name, tool):
    assert compat_total(report(name), tool).total == reference(name)["tools"][tool]["macs"]


@pytest.mark.parametrize("name", MODELS)
def test_exported_state_dict_is_torchvisions_key_by_key_and_shape_by_shape(name):
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    export = export_torch(report(name))
    model = build(export.source, export.class_name, device="meta")
    assert {key: tuple(t.shape) for key, t in model.state_dict().items()} == torchvision_state_dict(reference(name)["rows"])
    assert sum(p.numel() for p in model.parameters()) == reference(name)["params"]


# -- ShuffleNet V2 ---------------------------------------------------------------------------------


def test_shufflenet_splits_with_chunk_and_shuffles():
    got = report("shufflenet_v2_x1_0")
    chunk = got.row("stage2.1.chunk")
    assert chunk.kind == "chunk" and chunk.output_shapes == ((58, 28, 28), (58, 28, 28))
    branch2 = got.row("stage2.1.branch2.0")
    assert (branch2.inputs, branch2.input_ports) == ((chunk.index,), (1,))  # x2, the second half
    cat = got.row("stage2.1.cat")
    assert cat.inputs[0] == chunk.index and cat.input_ports[0] == 0 and cat.output_shape == (116, 28, 28)  # x1 passes through
    shuffle = got.row("stage2.1.shuffle")
    assert (shuffle.kind, shuffle.functional, shuffle.layer.groups) == ("channel_shuffle", True, 2)
    assert [r.path for r in got.rows if r.kind == "chunk"] == [f"stage{s}.{i}.chunk" for s, n in ((2, 4), (3, 8), (4, 4)) for i in range(1, n)]
    # only the first unit of a stage has branch1, on the whole input, stride 2
    assert [r.path for r in got.rows if r.path.endswith("branch1.0")] == ["stage2.0.branch1.0", "stage3.0.branch1.0", "stage4.0.branch1.0"]
    assert got.row("stage3.0.branch1.0").params == 116 * 3 * 3  # depthwise on the 116 input channels
    assert got.row("stage3.0.branch2.0").params == 116 * 116  # 1x1 to 232 // 2
    never_called = [r["name"] for r in reference("shufflenet_v2_x1_0")["rows"] if not r["calls"]]
    assert never_called == [f"stage{s}.{i}.branch1" for s, n in ((2, 4), (3, 8), (4, 4)) for i in range(1, n)]


def test_shufflenet_export_uses_torch_chunk_and_a_channel_shuffle():
    source = export_torch(report("shufflenet_v2_x1_0")).source
    assert "x1, x2 = torch.chunk(x, 2, dim=1)" in source
    assert "torch.cat([x1, x], dim=1)" in source
    assert "F.channel_shuffle(x, groups=2)" in source and "nn.ChannelShuffle" not in source
    assert "x.mean((2, 3))" in source


def test_channel_shuffle_as_a_function_equals_torchvisions_view_transpose_view():
    torch = pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    spec = "name: s\ninput: [6, 2, 2]\nlayers:\n  - channel_shuffle: {groups: 3}\n    functional: true\n"
    export = export_torch(analyze(load_spec(spec, "s.yaml")))
    x = torch.arange(24.0).reshape(1, 6, 2, 2)
    torchvision = x.view(1, 3, 2, 2, 2).transpose(1, 2).contiguous().view(1, -1, 2, 2)  # shufflenetv2.channel_shuffle
    assert torch.equal(build(export.source, export.class_name, device="cpu")(x), torchvision)


# -- MobileNet V3 Small ----------------------------------------------------------------------------


def test_mobilenet_v3_activation_per_block():
    """ReLU in the first three blocks ("RE"), Hardswish from the fourth on ("HS"), one block definition."""
    got = report("mobilenet_v3_small")
    assert [got.row(f"features.{n}.block.0.2").kind for n in range(2, 12)] == ["relu"] * 2 + ["hardswish"] * 8
    assert got.row("features.1.block.0.2").kind == "relu"  # expansion 16 = input 16: no expansion conv, block.0 is the depthwise
    assert got.row("features.1.block.0.0").layer.groups == 16
    assert got.row("features.0.2").kind == got.row("features.12.2").kind == got.row("classifier.1").kind == "hardswish"


def test_mobilenet_v3_squeeze_excitation_as_torchvision_writes_it():
    """_make_divisible(expanded // 4, 8) channels, a quarter of the expansion; 1x1 convs with bias;
    ReLU, then Hardsigmoid gates the depthwise output."""
    got = report("mobilenet_v3_small")
    for se, expanded in (("features.1.block.1", 16), ("features.4.block.2", 96), ("features.7.block.2", 120), ("features.9.block.2", 288)):
        squeeze = make_divisible(expanded // 4, 8)
        fc1, fc2 = got.row(f"{se}.fc1"), got.row(f"{se}.fc2")
        assert fc1.output_shape == (squeeze, 1, 1)
        assert (fc1.params, fc2.params) == (expanded * squeeze + squeeze, squeeze * expanded + expanded)
        assert got.row(f"{se}.scale_activation").kind == "hardsigmoid"
        assert got.row(f"{se}.scale").kind == "multiply"
    assert make_divisible(16 // 4, 8) == 8 and make_divisible(120 // 4, 8) == 32  # rounded up to 8, and 30 to 32
    assert [r.path for r in got.rows if r.kind == "add"] == [f"features.{n}.add" for n in (3, 5, 6, 8, 10, 11)]


# -- RegNetY-400MF ---------------------------------------------------------------------------------


def test_regnet_stages_widths_and_groups():
    """Widths 48, 104, 208, 440 with depths 1, 3, 6, 6 (the first stage has one block); groups of
    8 channels in the 3x3; a projection only in the first block of a stage."""
    got = report("regnet_y_400mf")
    for stage, (width, depth) in enumerate(((48, 1), (104, 3), (208, 6), (440, 6)), start=1):
        blocks = sorted({r.path.split(".")[2] for r in got.rows if r.path.startswith(f"trunk_output.block{stage}.")})
        assert blocks == [f"block{stage}-{i}" for i in range(depth)]
        conv = got.row(f"trunk_output.block{stage}.block{stage}-0.f.b.0")
        assert (conv.output_shape[0], conv.layer.groups, conv.layer.stride) == (width, width // 8, 2)
    assert [r.path for r in got.rows if ".proj.0" in r.path] == [f"trunk_output.block{s}.block{s}-0.proj.0" for s in range(1, 5)]


def test_regnet_squeeze_is_a_quarter_of_the_block_input_rounded():
    got = report("regnet_y_400mf")
    for path, w_in, w_b in (("block1.block1-0", 32, 48), ("block2.block2-0", 48, 104), ("block2.block2-1", 104, 104),
                            ("block4.block4-0", 208, 440), ("block4.block4-5", 440, 440)):
        squeeze = int(round(0.25 * w_in))
        fc1 = got.row(f"trunk_output.{path}.f.se.fc1")
        assert fc1.output_shape == (squeeze, 1, 1)
        assert fc1.params == w_b * squeeze + squeeze
    assert (int(round(0.25 * 32)), int(round(0.25 * 48)), int(round(0.25 * 104)), int(round(0.25 * 440))) == (8, 12, 26, 110)


# -- MobileNet V2's names --------------------------------------------------------------------------

# torchvision's mobilenet_v2 inverted_residual_setting: expansion t, channels c, blocks n, first stride s
MOBILENET_V2_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def torchvision_mobilenet_v2_leaves() -> list[tuple[str, str]]:
    """torchvision's mobilenet_v2 leaf modules in call order, (path, type), from its definition:
    features.0 and features.18 are Conv2dNormActivation (0 conv, 1 norm, 2 ReLU6); block N's
    ``conv`` Sequential holds Conv2dNormActivation(expand, only when t > 1), Conv2dNormActivation
    (depthwise), Conv2d (project), BatchNorm2d; classifier = Sequential(Dropout, Linear)."""
    def conv_bn_relu6(path: str) -> list[tuple[str, str]]:
        return [(f"{path}.0", "Conv2d"), (f"{path}.1", "BatchNorm2d"), (f"{path}.2", "ReLU6")]

    leaves = conv_bn_relu6("features.0")
    index = 1
    for t, _, n, _ in MOBILENET_V2_SETTING:
        for _ in range(n):
            conv = f"features.{index}.conv"
            first = 1 if t != 1 else 0  # the depthwise conv: after the expansion, or first
            for k in range(first + 1):
                leaves += conv_bn_relu6(f"{conv}.{k}")
            leaves += [(f"{conv}.{first + 1}", "Conv2d"), (f"{conv}.{first + 2}", "BatchNorm2d")]
            index += 1
    return leaves + conv_bn_relu6(f"features.{index}") + [("classifier.0", "Dropout"), ("classifier.1", "Linear")]


def test_mobilenet_v2_modules_are_torchvisions():
    """Every exported module is torchvision's, in call order; the pooling and the flatten are
    functions in torchvision's forward, and the residual add is ``x + self.conv(x)``."""
    got = analyze(load_model("mobilenet_v2"))
    export = export_torch(got)
    leaves = torchvision_mobilenet_v2_leaves()
    assert len(leaves) == 3 + (3 + 2) + 16 * (3 + 3 + 2) + 3 + 2 == 141
    assert [m for m in export.modules if m is not None] == [path for path, _ in leaves]
    kinds = {"Conv2d": "conv2d", "BatchNorm2d": "batch_norm2d", "ReLU6": "relu6", "Dropout": "dropout", "Linear": "linear"}
    assert [got.row(path).kind for path, _ in leaves] == [kinds[t] for _, t in leaves]
    assert [(r.path, r.functional) for r in got.rows if r.kind in ("adaptive_avg_pool2d", "flatten")] == [("avgpool", True), ("flatten", True)]
    assert "F.adaptive_avg_pool2d(x, 1)" in export.source and "torch.flatten(x, 1, -1)" in export.source
    assert [r.path for r in got.rows if r.kind == "add"] == [f"features.{n}.add" for n in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]


def test_mobilenet_v2_state_dict_keys_are_torchvisions():
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    export = export_torch(analyze(load_model("mobilenet_v2")))
    model = build(export.source, export.class_name, device="meta")
    keys = set()
    for path, kind in torchvision_mobilenet_v2_leaves():
        if kind in ("Conv2d", "BatchNorm2d", "Linear"):
            keys.add(f"{path}.weight")
        if kind in ("BatchNorm2d", "Linear"):
            keys.add(f"{path}.bias")
        if kind == "BatchNorm2d":
            keys |= {f"{path}.running_mean", f"{path}.running_var", f"{path}.num_batches_tracked"}
    assert set(model.state_dict()) == keys
    assert sum(p.numel() for p in model.parameters()) == 3_504_872


# -- the export ------------------------------------------------------------------------------------


def test_copies_named_by_their_index_are_modules_side_by_side_in_the_export():
    """torchvision's AnyStage holds block2-0, block2-1 ... directly (DenseNet's _DenseBlock holds
    denselayer1 ...): the export puts the copies in the parent, not in a Sequential of their own,
    so that every module name is the row's path and the state_dict keys are torchvision's."""
    got = analyze(load_spec(textwrap.dedent("""
        name: stages
        input: [8, 4, 4]
        blocks:
          unit:
            params: {stride: 1}
            layers:
              - conv2d: {out_channels: 8, kernel_size: 3, padding: 1, stride: $stride}
                name: conv
          stage:
            params: {n: ~, stage: ~}
            layers:
              - unit: {stride: "${2 if i == 0 else 1}"}
                repeat: $n
                name: "block${stage}-${i}"
        layers:
          - stage: {n: 2, stage: 1}
            name: block1
          - unit: {}
            repeat: 2
            name: "head${i + 1}"
    """), "stages.yaml"))
    export = export_torch(got)
    assert [r.path for r in got.rows] == ["block1.block1-0.conv", "block1.block1-1.conv", "head1.conv", "head2.conv"]
    assert list(export.modules) == [r.path for r in got.rows]
    assert '("block1-0", Unit(in_channels, stride=2)),' in export.source and '("head1", Unit(8)), ("head2", Unit(8))' in export.source


def test_a_symbolic_report_substituted_keeps_every_output_of_a_chunk():
    """A chunk's second output is counted in the activations; substituted, it is a number too."""
    spec = load_spec("name: c\ninput: [8, 32, 32]\nlayers:\n  - chunk: {chunks: 2}\n    id: [a, b]\n  - conv2d: {out_channels: 4, kernel_size: 1}\n    input: b\n", "c.yaml")
    symbolic = analyze(spec, input_shape=(8, "H", "W")).subs({"H": 32, "W": 32})
    assert symbolic.rows[0].output_shapes == ((4, 32, 32), (4, 32, 32))
    assert symbolic.totals == analyze(spec).totals
    assert symbolic.totals.activations == 2 * 4 * 32 * 32 + 4 * 32 * 32
