"""Built-in Inception v3 and ViT-Ti/16, to the unit, with torchvision's module names.

Inception v3 is checked row by row against ``tests/reference/torchvision_layers.json`` (a copy of ``../shared/reference/torchvision_layers.json``) (every
leaf module of torchvision's inception_v3 at 299x299 with aux_logits=False, in call order, and the
totals the peer tools printed for it). ViT-Ti/16 is not in that file: its rows are checked against
the formula in ``published.yaml``'s comment (patch conv + 12 x (in_proj + q·kᵀ + attn·v + out_proj
+ MLP) + head), and its tool totals against the tools themselves, run on the exported module, where
they are installed.
"""

from __future__ import annotations

import json
import textwrap
import warnings
from functools import lru_cache
from pathlib import Path

import pytest

import convcalc
from convcalc.arith.dims import prod
from convcalc.interop.compat import compat_total
from convcalc.interop.torch_export import export_torch

REFERENCE = Path(__file__).parent / "reference"  # torchvision_layers.json: a copy of ../shared/reference's
TOOLS = ("ptflops", "fvcore", "torchinfo")

# ViT-Ti/16: 196 patches + the class token = 197 tokens of 192; 3 heads; MLP 768
TOKENS, HIDDEN, MLP = 197, 192, 768
PATCH_CONV_MACS = 14 * 14 * HIDDEN * (3 * 16 * 16)  # 28,901,376
IN_PROJ_MACS = TOKENS * HIDDEN * 3 * HIDDEN  # 21,786,624
SCORES_MACS = TOKENS * TOKENS * HIDDEN  # q·kᵀ, and as many for attn·v: 7,451,328
OUT_PROJ_MACS = TOKENS * HIDDEN * HIDDEN  # 7,262,208
MLP_MACS = 2 * TOKENS * HIDDEN * MLP  # 58,097,664
HEAD_MACS = HIDDEN * 1000
VIT_MACS = PATCH_CONV_MACS + 12 * (IN_PROJ_MACS + 2 * SCORES_MACS + OUT_PROJ_MACS + MLP_MACS) + HEAD_MACS
BLOCK_PARAMS = 2 * (2 * HIDDEN) + (4 * HIDDEN * HIDDEN + 4 * HIDDEN) + (HIDDEN * MLP + MLP) + (MLP * HIDDEN + HIDDEN)
VIT_PARAMS = (HIDDEN * 3 * 16 * 16 + HIDDEN) + HIDDEN + TOKENS * HIDDEN + 12 * BLOCK_PARAMS + 2 * HIDDEN + (HIDDEN * 1000 + 1000)


@lru_cache(maxsize=None)
def report(name: str) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_model(name))


@lru_cache(maxsize=None)
def torchvision(model: str) -> dict:
    return json.loads((REFERENCE / "torchvision_layers.json").read_text())["models"][model]


def rows_by_path(name: str) -> dict:
    return {r.path: r for r in report(name).rows}


def pair(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


# torchvision's hyper-parameters (the "hp" column) as convcalc's layer arguments
HYPER = {
    "Conv2d": ("conv2d", lambda layer, row: {
        "cin": row.input_shapes[0][0], "cout": layer.out_channels, "k": pair(layer.kernel_size), "s": pair(layer.stride),
        "p": pair(layer.padding), "d": pair(layer.dilation), "g": layer.groups, "bias": layer.bias,
    }),
    "BatchNorm2d": ("batch_norm2d", lambda layer, row: {"c": row.output_shape[0], "affine": layer.affine}),
    "MaxPool2d": ("max_pool2d", lambda layer, row: {
        "k": pair(layer.kernel_size), "s": pair(layer.stride), "p": pair(layer.padding), "d": pair(layer.dilation), "ceil": layer.ceil_mode,
    }),
    "AdaptiveAvgPool2d": ("adaptive_avg_pool2d", lambda layer, row: {"out": pair(layer.output_size)}),
    "Dropout": ("dropout", lambda layer, row: {"p": layer.p}),
    "Linear": ("linear", lambda layer, row: {"cin": row.input_shapes[0][0], "cout": layer.out_features, "bias": layer.bias}),
}


def torchvision_hp(module: str, hp: dict) -> dict:
    sizes = () if module == "Dropout" else ("k", "s", "p", "d", "out")  # a dropout's p is its probability
    return {key: pair(value) if key in sizes else value for key, value in hp.items()}


# --- both ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params", "macs"), [
    ("inception_v3", 23_834_568, 5_713_216_096),
    ("vit_ti_16", VIT_PARAMS, VIT_MACS),
])
def test_totals_are_published(run_cli, name, params, macs):
    code, out, err = run_cli("summary", name, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["params"], data["totals"]["macs"], data["output_shape"]) == (params, macs, [1000])
    code, out, err = run_cli("check", name)
    assert code == 0, out + err


def test_vit_totals_are_the_published_formula():
    assert (VIT_PARAMS, VIT_MACS) == (5_717_416, 1_253_683_200)


# --- Inception v3 against torchvision ------------------------------------------------------------


def test_inception_v3_modules_are_torchvision_modules_in_call_order():
    """Every row PyTorch runs as a module is one of torchvision's, in the same order; the rest
    (F.relu, F.avg_pool2d, F.max_pool2d, torch.cat, torch.flatten) are marked functional."""
    modules = [r.path for r in report("inception_v3").rows if not r.functional]
    assert modules == [layer[0] for layer in torchvision("inception_v3")["layers"]]
    functional = {r.kind for r in report("inception_v3").rows if r.functional}
    assert functional == {"relu", "avg_pool2d", "max_pool2d", "concat", "flatten"}


def test_inception_v3_rows_equal_torchvision_layers():
    """Kind, hyper-parameters, input and output shapes, params and MACs of all 193 leaf modules."""
    rows = rows_by_path("inception_v3")
    columns = torchvision("inception_v3")["layers"]
    assert len(columns) == 193
    for name, module, hp, calls, shape_in, shape_out, params, macs, *_ in columns:
        row = rows[name]
        kind, ours = HYPER[module]
        assert row.kind == kind, name
        assert ours(row.layer, row) == torchvision_hp(module, hp), name
        assert (calls, tuple(shape_in[1:]), tuple(shape_out[1:])) == (1, row.input_shapes[0], row.output_shape), name
        assert (row.params, row.macs) == (params, macs), name


def test_inception_v3_factorised_convs():
    """InceptionC's 1x7 / 7x1 pair at 17x17 with channels_7x7 = 128 (Mixed_6b)."""
    rows = rows_by_path("inception_v3")
    one_by_seven, seven_by_one = rows["Mixed_6b.branch7x7_2.conv"], rows["Mixed_6b.branch7x7_3.conv"]
    assert (one_by_seven.params, one_by_seven.macs) == (128 * 128 * 1 * 7, 17 * 17 * 128 * 128 * 7)
    assert (seven_by_one.params, seven_by_one.macs) == (192 * 128 * 7 * 1, 17 * 17 * 192 * 128 * 7)
    assert rows["Mixed_7b.branch3x3_cat"].output_shape == (384 + 384, 8, 8)
    assert rows["Mixed_7b.cat"].output_shape == (320 + 768 + 768 + 192, 8, 8)


@pytest.mark.parametrize("tool", TOOLS)
def test_inception_v3_compat_totals_equal_the_tools(tool):
    assert compat_total(report("inception_v3"), tool).total == torchvision("inception_v3")["tools"][tool]["macs"]


def test_inception_v3_ptflops_counts_the_functions_through_its_patches():
    """ptflops' module hooks do not see F.relu, F.avg_pool2d, F.max_pool2d; its patches count them
    once, 1 per element (8,967,488 ReLU elements, 2,577,152 pooled input elements). Counted as modules, the ReLUs
    would count twice (hook + patch) and the pools once more: 11,544,640 too many. The patches'
    share is what ptflops reports without them ("ptflops_nofunc")."""
    tools = torchvision("inception_v3")["tools"]
    ptflops = compat_total(report("inception_v3"), "ptflops")
    relu = sum(r.activations for r in report("inception_v3").rows if r.kind == "relu")
    pooled = sum(prod(r.input_shapes[0]) for r in report("inception_v3").rows if r.kind in ("avg_pool2d", "max_pool2d") and r.functional)
    assert (relu, pooled) == (8_967_488, 2_577_152)
    as_modules = compat_total(report("inception_v3"), "ptflops", calls={"*": "module"})
    assert as_modules.total - tools["ptflops"]["macs"] == relu + pooled == 11_544_640
    patched = ("activations called as functions: 1 per element", "pooling called as a function: 1 per input element", "pooling again: patched F.*pool*")
    assert ptflops.breakdown[patched[0]] == relu
    assert sum(ptflops.breakdown[key] for key in patched) == tools["ptflops"]["macs"] - tools["ptflops_nofunc"]["macs"]


def test_inception_v3_export_state_dict_is_torchvision_s():
    torch = pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    expected = set()
    for name, module, *_ in torchvision("inception_v3")["layers"]:
        suffixes = {"Conv2d": ("weight",), "Linear": ("weight", "bias"),
                    "BatchNorm2d": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}.get(module, ())
        expected |= {f"{name}.{s}" for s in suffixes}
    export = export_torch(report("inception_v3"))
    model = build(export.source, export.class_name)
    assert set(model.state_dict()) == expected
    assert "F.avg_pool2d(" in export.source and "F.max_pool2d(" in export.source and "F.relu(" in export.source
    assert isinstance(model.get_submodule("maxpool1"), torch.nn.MaxPool2d)


# --- ViT-Ti/16 -----------------------------------------------------------------------------------


VIT_WEIGHTS = [
    "conv_proj", "class_token", "encoder.pos_embedding",
    *(f"encoder.layers.encoder_layer_{i}.{m}" for i in range(12) for m in ("ln_1", "self_attention", "ln_2", "mlp.0", "mlp.3")),
    "encoder.ln", "heads.head",
]


def test_vit_rows_with_parameters_are_torchvision_s():
    assert [r.path for r in report("vit_ti_16").rows if r.params] == VIT_WEIGHTS


def test_vit_rows_follow_the_formula():
    rows = rows_by_path("vit_ti_16")
    block = "encoder.layers.encoder_layer_7"
    expected = {
        "conv_proj": ((HIDDEN, 14, 14), HIDDEN * 3 * 16 * 16 + HIDDEN, PATCH_CONV_MACS),
        "class_token": ((1, HIDDEN), HIDDEN, 0),
        "cat": ((TOKENS, HIDDEN), 0, 0),
        "encoder.pos_embedding": ((TOKENS, HIDDEN), TOKENS * HIDDEN, 0),
        f"{block}.ln_1": ((TOKENS, HIDDEN), 2 * HIDDEN, 0),
        f"{block}.self_attention": ((TOKENS, HIDDEN), 4 * HIDDEN * HIDDEN + 4 * HIDDEN, IN_PROJ_MACS + 2 * SCORES_MACS + OUT_PROJ_MACS),
        f"{block}.mlp.0": ((TOKENS, MLP), HIDDEN * MLP + MLP, TOKENS * HIDDEN * MLP),
        f"{block}.mlp.1": ((TOKENS, MLP), 0, 0),
        f"{block}.mlp.3": ((TOKENS, HIDDEN), MLP * HIDDEN + HIDDEN, TOKENS * MLP * HIDDEN),
        "encoder.ln": ((TOKENS, HIDDEN), 2 * HIDDEN, 0),
        "class_token_out": ((HIDDEN,), 0, 0),
        "heads.head": ((1000,), HIDDEN * 1000 + 1000, HEAD_MACS),
    }
    assert {path: (rows[path].output_shape, rows[path].params, rows[path].macs) for path in expected} == expected
    assert [rows[f"{block}.{m}"].kind for m in ("ln_1", "self_attention", "dropout", "add_1", "ln_2", "mlp.0", "mlp.1", "mlp.2", "mlp.3", "mlp.4", "add_2")] == [
        "layer_norm", "multihead_attention", "dropout", "add", "layer_norm", "linear", "gelu", "dropout", "linear", "dropout", "add"]


def test_vit_export_state_dict_is_torchvision_s():
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    export = export_torch(report("vit_ti_16"))
    state = build(export.source, export.class_name).state_dict()
    parts = {"ln_1": ("weight", "bias"), "self_attention": ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"),
             "ln_2": ("weight", "bias"), "mlp.0": ("weight", "bias"), "mlp.3": ("weight", "bias")}
    expected = {"class_token", "encoder.pos_embedding", "conv_proj.weight", "conv_proj.bias", "encoder.ln.weight", "encoder.ln.bias",
                "heads.head.weight", "heads.head.bias"}
    expected |= {f"encoder.layers.encoder_layer_{i}.{m}.{s}" for i in range(12) for m, ss in parts.items() for s in ss}
    assert set(state) == expected
    shapes = {key: tuple(state[key].shape) for key in ("class_token", "encoder.pos_embedding", "encoder.layers.encoder_layer_0.self_attention.in_proj_weight")}
    assert shapes == {"class_token": (1, 1, HIDDEN), "encoder.pos_embedding": (1, TOKENS, HIDDEN),
                      "encoder.layers.encoder_layer_0.self_attention.in_proj_weight": (3 * HIDDEN, HIDDEN)}


@lru_cache(maxsize=None)
def vit_module():
    torch = pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    export = export_torch(report("vit_ti_16"))
    return torch, build(export.source, export.class_name, device="cpu")


def test_vit_flop_counter_misses_the_fused_attention_matmuls():
    """On CPU, with the fused attention kernels on (PyTorch's default), FlopCounterMode does not
    see q·kᵀ and attn·v: 12 x 2 x 197*197*192 = 178,831,872 MACs short. convcalc's parity check
    (torch_check.probe) runs the math path and counts them."""
    torch, model = vit_module()
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() // 2 == VIT_MACS - 12 * 2 * SCORES_MACS == 1_074_851_328
    assert 12 * 2 * SCORES_MACS == 178_831_872


def test_vit_compat_ptflops_equals_ptflops_on_the_export():
    """torchvision's VisionTransformer has these module types (Conv2d, LayerNorm, MultiheadAttention,
    Linear, GELU, Dropout), so the tools count the export as they count it; ptflops has a hook of
    its own for nn.MultiheadAttention."""
    torch, model = vit_module()
    ptflops = pytest.importorskip("ptflops")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured, _ = ptflops.get_model_complexity_info(model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, verbose=False)
    assert compat_total(report("vit_ti_16"), "ptflops").total == measured == 1_264_234_540


def test_vit_compat_torchinfo_equals_torchinfo_on_the_export():
    """torchinfo sums only leaf modules, and nn.MultiheadAttention is not one (its out_proj is a
    child module, which it never calls): its 12 x 43,951,488 MACs count 0, said in a note."""
    torch, model = vit_module()
    torchinfo = pytest.importorskip("torchinfo")
    measured = torchinfo.summary(model, (1, 3, 224, 224), verbose=0).total_mult_adds
    total = compat_total(report("vit_ti_16"), "torchinfo")
    assert total.total == measured == 32_692_072
    note = next(n for n in total.notes if "multihead_attention" in n)
    assert 12 * (IN_PROJ_MACS + 2 * SCORES_MACS + OUT_PROJ_MACS) == 12 * 43_951_488 == 527_417_856
    assert "not their 527,417,856 MACs" in note


def test_vit_compat_fvcore_equals_fvcore_on_the_export():
    """fvcore counts the projections (aten::linear) and has no handle for the fused attention."""
    torch, model = vit_module()
    flop_count = pytest.importorskip("fvcore.nn")
    with torch.no_grad():
        analysis = flop_count.FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        measured = analysis.total()
    assert compat_total(report("vit_ti_16"), "fvcore").total == measured == 1_079_579_328


# --- a row that reads no input (parameter) in every output --------------------------------------


def test_a_parameter_row_renders_everywhere(run_cli, tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(textwrap.dedent("""
        name: p
        input: [4, 8]
        layers:
          - parameter: {shape: [1, 8]}
            name: token
            expect: {shape: [2, 8]}
    """))
    code, out, err = run_cli("summary", str(spec), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["layers"][0]["input_shape"] is None and json.loads(out)["layers"][0]["input_shapes"] == []
    code, out, err = run_cli("summary", str(spec), "--format", "csv")
    assert code == 0 and out.splitlines()[1].startswith("token,parameter,,1x8,8,"), out + err
    code, out, err = run_cli("explain", str(spec), "--format", "json")
    assert code == 0 and '"input_shape": null' in out, out + err
    code, out, err = run_cli("check", str(spec))
    assert code == 1 and "error[check-expect]" in out + err and "internal" not in out + err, out + err
