"""The --compat presets: fvcore, ptflops and torchinfo totals rebuilt exactly from convcalc's rows.

The reference totals of resnet50, mobilenet_v2 and vgg16 were measured with the tools on the
torchvision models at 224x224 (fvcore ``FlopCountAnalysis(...).total()``, ptflops
``get_model_complexity_info`` with its default pytorch backend, torchinfo ``total_mult_adds``).
ConvNeXt-T's torchinfo total is the published 322,371,592; its ptflops total was measured with
ptflops 0.7.5 on a re-implementation of torchvision's convnext_tiny with the same module types
(28,589,128 parameters, and torchinfo's 322,371,592 on it); its fvcore total is derived from
fvcore's handles, not measured.
"""

from __future__ import annotations

import json

import pytest

import convcalc
from convcalc.interop.compat import PRESETS, TOOLS, calls_for, compat_lines, compat_total
from convcalc.kinds import KINDS
from helpers import analyze_model, analyze_text

MEASURED = {
    ("resnet50", "fvcore"): 4_111_512_576,
    ("resnet50", "ptflops"): 4_132_436_968,
    ("resnet50", "torchinfo"): 4_089_238_376,
    ("mobilenet_v2", "fvcore"): 314_193_216,
    ("mobilenet_v2", "ptflops"): 320_300_008,
    ("mobilenet_v2", "torchinfo"): 300_809_384,
    ("vgg16", "fvcore"): 15_470_289_408,
    ("vgg16", "ptflops"): 15_523_225_576,
    ("vgg16", "torchinfo"): 15_483_821_032,
    ("convnext_tiny", "ptflops"): 4_488_347_368,
    ("convnext_tiny", "torchinfo"): 322_371_592,
}

_REPORTS: dict[str, convcalc.Report] = {}


def report_of(model: str) -> convcalc.Report:
    if model not in _REPORTS:
        _REPORTS[model] = analyze_model(model)
    return _REPORTS[model]


def one_layer(layer: str, shape: list, **kwargs) -> convcalc.Report:
    return analyze_text(f"name: t\ninput: {shape}\nlayers:\n  - {layer}\n    name: m\n", **kwargs)


@pytest.mark.parametrize(("model", "tool"), list(MEASURED), ids=[f"{m}-{t}" for m, t in MEASURED])
def test_reproduces_measured_total(model, tool):
    assert compat_total(report_of(model), tool).total == MEASURED[(model, tool)]


# -- each model's breakdown, as arithmetic -----------------------------------------------------------

RESNET50_BN_ELEMENTS = 11_113_984  # every batch norm's input, summed
RESNET50_RELU_ELEMENTS = 9_608_704
RESNET50_POOL_INPUTS = 64 * 112 * 112 + 2048 * 7 * 7  # maxpool, avgpool


def test_resnet50_breakdowns():
    report = report_of("resnet50")
    assert report.totals.macs == 4_089_184_256
    assert sum(2 * r.output_shape[0] for r in report.rows if r.kind == "batch_norm2d") == 53_120
    assert compat_total(report, "fvcore").breakdown == {
        "conv / linear MACs": 4_089_184_256,
        "batch norm: 2 per element": 2 * RESNET50_BN_ELEMENTS,
        "adaptive_avg_pool2d: 1 per input element": 2048 * 7 * 7,
    }
    assert compat_total(report, "ptflops").breakdown == {
        "conv MACs": 4_089_184_256 - 2048 * 1000,
        "linear MACs": 2048 * 1000,
        "linear bias: 1 per output element": 1000,
        "batch / group norm: 2 per element": 2 * RESNET50_BN_ELEMENTS,
        "activations: 1 per element": RESNET50_RELU_ELEMENTS,
        "activations again: patched F.relu / F.elu / F.gelu": RESNET50_RELU_ELEMENTS,
        "pooling: 1 per input element": RESNET50_POOL_INPUTS,
        "pooling again: patched F.*pool*": RESNET50_POOL_INPUTS,
    }
    assert compat_total(report, "torchinfo").breakdown == {
        "conv weights x output positions": 4_089_184_256 - 2048 * 1000,
        "linear weights + bias": 2048 * 1000 + 1000,
        "norm scale + shift parameters": 53_120,
    }
    assert MEASURED[("resnet50", "torchinfo")] - report.totals.macs == 1000 + 53_120


def test_vgg16_torchinfo_counts_a_bias_add_per_output_pixel():
    result = compat_total(report_of("vgg16"), "torchinfo")
    conv_outputs = 2 * 64 * 224**2 + 2 * 128 * 112**2 + 3 * 256 * 56**2 + 3 * 512 * 28**2 + 3 * 512 * 14**2
    assert result.breakdown["conv bias x output positions"] == conv_outputs == 13_547_520
    assert result.breakdown["linear weights + bias"] == (25088 * 4096 + 4096 * 4096 + 4096 * 1000) + (4096 + 4096 + 1000)
    assert result.total - report_of("vgg16").totals.macs == 13_547_520 + 9_192 == 13_556_712
    assert result.bugs == ()


def test_vgg16_fvcore_adds_only_the_adaptive_pool():
    assert compat_total(report_of("vgg16"), "fvcore").total == 15_470_264_320 + 512 * 7 * 7


def test_mobilenet_v2_pool_is_a_function_call_counted_once_by_ptflops():
    report = report_of("mobilenet_v2")
    result = compat_total(report, "ptflops")
    assert result.breakdown["pooling called as a function: 1 per input element"] == 1280 * 7 * 7
    assert "pooling again: patched F.*pool*" not in result.breakdown
    assert result.breakdown["activations: 1 per element"] == 6_105_792  # ReLU6 calls F.hardtanh: counted once
    assert result.total == report.totals.macs + 2 * 6_678_112 + 6_105_792 + 1280 * 7 * 7 + 1000
    assert any("avgpool" in note for note in result.notes)
    as_a_module = compat_total(report, "ptflops", calls={"avgpool": "module"})
    assert as_a_module.total == result.total + 1280 * 7 * 7


def test_convnext_torchinfo_counts_channels_last_linears_once_per_image():
    report = report_of("convnext_tiny")
    result = compat_total(report, "torchinfo")
    block_linears = [r for r in report.rows if r.kind == "linear" and len(r.output_shape) > 1]
    assert len(block_linears) == 2 * 18
    assert result.breakdown["linear weights + bias, once per image"] == sum(r.params for r in block_linears) == 25_911_648
    assert result.bugs == ("linear weights + bias, once per image", "norm scale + shift parameters")
    assert any("4,161,798,144 MACs" in note for note in result.notes)
    assert report.totals.macs == 4_455_531_264
    assert result.total == 322_371_592


def test_convnext_fvcore_from_its_handles():
    result = compat_total(report_of("convnext_tiny"), "fvcore")
    layer_norm_elements = 2_973_696
    assert result.total == 4_455_531_264 + 5 * layer_norm_elements + 768 * 7 * 7 == 4_470_437_376


def test_convnext_ptflops_misses_the_layer_norm_subclass():
    report = report_of("convnext_tiny")
    result = compat_total(report, "ptflops")
    subclass = 96 * 56 * 56 + 96 * 56 * 56 + 192 * 28 * 28 + 384 * 14 * 14 + 768  # LayerNorm2d: stem, 3 downsamplings, head
    assert result.breakdown["layer norm: 1 per element"] == 2_973_696 - subclass
    assert result.breakdown["activations again: patched F.relu / F.elu / F.gelu"] == 3 * 384 * 56 * 56 + 3 * 768 * 28 * 28 + 9 * 1536 * 14 * 14 + 3 * 3072 * 7 * 7


def test_googlenet_relus_are_function_calls():
    report = report_of("googlenet")
    calls = calls_for(report)
    assert sorted({calls[r.index] for r in report.rows if r.kind == "relu"}) == ["function"]
    result = compat_total(report, "ptflops")
    assert "activations again: patched F.relu / F.elu / F.gelu" not in result.breakdown


# -- one rule at a time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape", "tool", "expected"),
    [
        # conv: MACs 4*4 positions * 5 filters * 3*3*3; ptflops and torchinfo add the bias per output element
        ("conv2d: {out_channels: 5, kernel_size: 3}", [3, 6, 6], "fvcore", 4 * 4 * 5 * 27),
        ("conv2d: {out_channels: 5, kernel_size: 3}", [3, 6, 6], "ptflops", 4 * 4 * 5 * 27 + 5 * 4 * 4),
        ("conv2d: {out_channels: 5, kernel_size: 3}", [3, 6, 6], "torchinfo", (5 * 27 + 5) * 4 * 4),
        # transposed conv 4 -> 6, k3, s2 on 5x5 (out 11x11): fvcore and ptflops per input position, torchinfo per output
        ("conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}", [4, 5, 5], "fvcore", 5 * 5 * 4 * 6 * 9),
        ("conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}", [4, 5, 5], "ptflops", 5 * 5 * 4 * 6 * 9 + 6 * 11 * 11),
        ("conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}", [4, 5, 5], "torchinfo", (4 * 6 * 9 + 6) * 11 * 11),
        # linear at each of 5*6 positions (channels-last): torchinfo counts it once per image
        ("linear: {out_features: 7, axis: channels}", [4, 5, 6], "fvcore", 5 * 6 * 4 * 7),
        ("linear: {out_features: 7, axis: channels}", [4, 5, 6], "ptflops", 5 * 6 * (4 * 7 + 7)),
        ("linear: {out_features: 7, axis: channels}", [4, 5, 6], "torchinfo", 4 * 7 + 7),
        # batch norm
        ("batch_norm2d:", [4, 5, 6], "fvcore", 2 * 4 * 5 * 6),
        ("batch_norm2d: {affine: false}", [4, 5, 6], "fvcore", 1 * 4 * 5 * 6),
        ("batch_norm2d: {track_running_stats: false}", [4, 5, 6], "fvcore", 5 * 4 * 5 * 6),
        ("batch_norm2d: {affine: false}", [4, 5, 6], "ptflops", 1 * 4 * 5 * 6),
        ("batch_norm2d:", [4, 5, 6], "torchinfo", 2 * 4),
        # layer / group norm
        ("layer_norm:", [4, 5, 6], "fvcore", 5 * 4 * 5 * 6),
        ("layer_norm: {elementwise_affine: false}", [4, 5, 6], "fvcore", 4 * 4 * 5 * 6),
        ("layer_norm:", [4, 5, 6], "ptflops", 1 * 4 * 5 * 6),
        ("group_norm: {num_groups: 2}", [4, 5, 6], "ptflops", 2 * 4 * 5 * 6),
        ("group_norm: {num_groups: 2}", [4, 5, 6], "torchinfo", 2 * 4),
        # activations: ptflops counts nn.ReLU twice, nn.ReLU6 once, nn.SiLU once (by F.silu), nn.Sigmoid never
        ("relu:", [4, 5, 6], "ptflops", 2 * 4 * 5 * 6),
        ("relu6:", [4, 5, 6], "ptflops", 1 * 4 * 5 * 6),
        ("silu:", [4, 5, 6], "ptflops", 1 * 4 * 5 * 6),
        ("sigmoid:", [4, 5, 6], "ptflops", 0),
        ("softmax:", [4, 5, 6], "ptflops", 4 * 5 * 6),
        ("relu:", [4, 5, 6], "fvcore", 0),
        # pooling
        ("max_pool2d: {kernel_size: 2}", [4, 6, 6], "ptflops", 2 * 4 * 6 * 6),
        ("max_pool2d: {kernel_size: 2}", [4, 6, 6], "fvcore", 0),
        ("adaptive_avg_pool2d: {output_size: 3}", [4, 7, 7], "fvcore", 4 * 7 * 7),
        ("adaptive_avg_pool1d: {output_size: 3}", [4, 7], "fvcore", 0),
        ("global_avg_pool:", [4, 7, 7], "fvcore", 4 * 7 * 7),
        ("global_avg_pool:", [4, 7, 7], "ptflops", 2 * 4 * 7 * 7),
        # upsampling to 10x12
        ("upsample: {scale_factor: 2}", [4, 5, 6], "fvcore", 1 * 4 * 10 * 12),
        ("upsample: {scale_factor: 2, mode: bilinear}", [4, 5, 6], "fvcore", 4 * 4 * 10 * 12),
        ("upsample: {scale_factor: 2, mode: bicubic}", [4, 5, 6], "fvcore", 0),
        ("upsample: {scale_factor: 2}", [4, 5], "fvcore", 0),
        ("upsample: {scale_factor: 2}", [4, 5, 6], "ptflops", 2 * 4 * 10 * 12),
        # local response norm, size 3: ptflops catches mul, mul, add and the avg_pool over C + 2 padded channels
        ("local_response_norm: {size: 3}", [4, 5, 6], "ptflops", 3 * 4 * 30 + (4 + 3 - 1) * 30),
        ("local_response_norm: {size: 3}", [4, 5, 6], "fvcore", 0),
    ],
)
def test_rule(layer, shape, tool, expected):
    assert compat_total(one_layer(layer, shape), tool).total == expected


@pytest.mark.parametrize(("layer", "expected"), [("relu:", 4 * 5 * 6), ("relu6:", 4 * 5 * 6), ("leaky_relu:", 0), ("max_pool2d: {kernel_size: 2}", 4 * 5 * 6)])
def test_ptflops_functional_call_counted_once(layer, expected):
    report = one_layer(layer, [4, 5, 6])
    assert compat_total(report, "ptflops", calls={"m": "function"}).total == expected


def test_torchinfo_ignores_functional_calls():
    report = one_layer("conv2d: {out_channels: 5, kernel_size: 3}", [3, 6, 6])
    assert compat_total(report, "torchinfo", calls={"m": "function"}).total == 0
    assert compat_total(report, "torchinfo", calls={"m": "subclass"}).total == (5 * 27 + 5) * 4 * 4


def test_bugs_and_notes_name_what_is_wrong():
    result = compat_total(one_layer("conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}", [4, 5, 5]), "torchinfo")
    assert result.bugs == ("transposed conv weights x output positions",)
    assert result.notes == (f"transposed conv: torchinfo counts each weight once per output position, {216 * 121:,} instead of the {216 * 25:,} MACs done per input position (its bug)",)


# -- the presets as data -----------------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_every_kind_says_what_each_tool_counts(tool):
    for kind, cls in KINDS.items():
        assert tool in cls.compat, f"{kind} says nothing about {tool}"
    assert all(rule.verdict in ("convention", "bug") and rule.why for rule in PRESETS[tool].rules)


def test_a_kind_without_a_rule_makes_the_total_partial(monkeypatch):
    relu = KINDS["relu"]
    monkeypatch.setattr(relu, "compat", {k: v for k, v in relu.compat.items() if k != "fvcore"})
    result = compat_total(one_layer("relu:", [4, 5, 6]), "fvcore")
    assert result.partial
    assert result.notes == ("no fvcore rule for relu (1): counted as 0 here, so the total is partial",)


def test_text_lines():
    lines = compat_lines(compat_total(one_layer("relu:", [4, 5, 6]), "ptflops").to_dict())
    assert lines == [
        'ptflops would report 240 ("MACs" (GMac): MACs plus one per element of most other layers):',
        "  activations: 1 per element                          120",
        "  activations again: patched F.relu / F.elu / F.gelu  120  (ptflops's bug)",
    ]


# -- the command line --------------------------------------------------------------------------------


def test_summary_compat_json(run_cli):
    code, out, err = run_cli("summary", "resnet50", "--compat", "fvcore", "-f", "json")
    assert code == 0, err
    data = json.loads(out)["compat"]
    assert (data["tool"], data["total"]) == ("fvcore", 4_111_512_576)
    assert data["breakdown"]["batch norm: 2 per element"] == 2 * RESNET50_BN_ELEMENTS
    assert sum(data["breakdown"].values()) == data["total"]
    assert {"bugs", "notes", "partial"} <= set(data)


def test_summary_compat_table(run_cli):
    code, out, err = run_cli("summary", "vgg16", "--compat", "torchinfo")
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index('torchinfo would report 15,483,821,032 ("Total mult-adds": parameters times positions):')
    assert [line.split() for line in lines[start + 1 :]] == [
        ["conv", "weights", "x", "output", "positions", "15,346,630,656"],
        ["conv", "bias", "x", "output", "positions", "13,547,520"],
        ["linear", "weights", "+", "bias", "123,642,856"],
    ]


def test_summary_without_compat_has_no_compat_key(run_cli):
    assert "compat" not in json.loads(run_cli("summary", "lenet5", "-f", "json")[1])


# -- parity with the tools themselves, where they are installed ---------------------------------------

PARITY = [
    ("conv2d: {out_channels: 6, kernel_size: 3, stride: 2, padding: 1}", [4, 9, 9], lambda nn: nn.Conv2d(4, 6, 3, 2, 1)),
    ("conv2d: {out_channels: 8, kernel_size: 3, groups: 2, bias: false}", [4, 9, 9], lambda nn: nn.Conv2d(4, 8, 3, groups=2, bias=False)),
    ("conv_transpose2d: {out_channels: 6, kernel_size: 3, stride: 2}", [4, 5, 5], lambda nn: nn.ConvTranspose2d(4, 6, 3, 2)),
    ("linear: {out_features: 7}", [4], lambda nn: nn.Linear(4, 7)),
    ("batch_norm2d:", [4, 5, 6], lambda nn: nn.BatchNorm2d(4)),
    ("group_norm: {num_groups: 2}", [4, 5, 6], lambda nn: nn.GroupNorm(2, 4)),
    ("layer_norm: {normalized_shape: [4, 5, 6]}", [4, 5, 6], lambda nn: nn.LayerNorm([4, 5, 6])),
    ("relu:", [4, 5, 6], lambda nn: nn.ReLU()),
    ("relu6:", [4, 5, 6], lambda nn: nn.ReLU6()),
    ("gelu:", [4, 5, 6], lambda nn: nn.GELU()),
    ("silu:", [4, 5, 6], lambda nn: nn.SiLU()),
    ("softmax: {dim: 1}", [4, 5, 6], lambda nn: nn.Softmax(dim=1)),
    ("max_pool2d: {kernel_size: 2}", [4, 6, 6], lambda nn: nn.MaxPool2d(2)),
    ("adaptive_avg_pool2d: {output_size: 3}", [4, 7, 7], lambda nn: nn.AdaptiveAvgPool2d(3)),
    ("global_avg_pool:", [4, 7, 7], lambda nn: nn.AdaptiveAvgPool2d(1)),
    ("upsample: {size: [8, 9], mode: bilinear}", [4, 5, 6], lambda nn: nn.Upsample(size=(8, 9), mode="bilinear")),
    ("local_response_norm: {size: 3}", [4, 5, 6], lambda nn: nn.LocalResponseNorm(3)),
]
PARITY_IDS = [layer.split(":")[0] + str(i) for i, (layer, _, _) in enumerate(PARITY)]


def _model(build):
    torch = pytest.importorskip("torch")
    return torch.nn.Sequential(build(torch.nn)).eval()


@pytest.mark.parametrize(("layer", "shape", "build"), PARITY, ids=PARITY_IDS)
def test_torchinfo_parity(layer, shape, build):
    torchinfo = pytest.importorskip("torchinfo")
    measured = torchinfo.summary(_model(build), (1, *shape), verbose=0).total_mult_adds
    assert compat_total(one_layer(layer, shape), "torchinfo").total == measured


@pytest.mark.parametrize(("layer", "shape", "build"), PARITY, ids=PARITY_IDS)
def test_ptflops_parity(layer, shape, build):
    ptflops = pytest.importorskip("ptflops")
    measured, _ = ptflops.get_model_complexity_info(_model(build), tuple(shape), as_strings=False, print_per_layer_stat=False)
    assert compat_total(one_layer(layer, shape), "ptflops").total == measured
