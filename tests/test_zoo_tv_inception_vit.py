"""Built-in Inception v3 and ViT-Ti/16, to the unit, with torchvision's module names.

Inception v3 is checked row by row against ``../shared/reference/torchvision_layers.json`` (every
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

REFERENCE = next(
    (p / "shared" / "reference" for p in Path(__file__).resolve().parents if (p / "shared" / "reference" / "torchvision_layers.json").is_file()),
    None,
)
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
    if REFERENCE is None:
        pytest.skip("../shared/reference/torchvision_layers.json is not present")
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
