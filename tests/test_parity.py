"""PyTorch as the oracle: every built-in model, and random single layers, against convcalc.

Models run on the ``meta`` device (shapes only, no arithmetic: U-Net at 572x572 costs nothing);
random layers run on tiny real tensors, because only real kernels check every argument (on meta,
an output_padding not below the stride passes). Skipped when torch is not installed; CI installs
torch==2.13.0. More random examples: ``CONVCALC_PARITY_EXAMPLES=20000 pytest tests/test_parity.py``.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from convcalc import analyze, load_model, load_spec
from convcalc.errors import SpecError
from convcalc.interop.torch_export import export_torch, layer_source
from convcalc.spec.zoo import builtin_names

from strategies import LayerCase, adaptive_pools, conv_transposes, convs, group_norms, layer_spec, linears, pools, upsamples, zero_pads

torch = pytest.importorskip("torch")
from convcalc.interop.torch_check import build, mismatches, probe  # after importorskip: needs torch

# per family; six families at full count, so the default run draws 6 * 1,000 = 6,000 layers (and a few hundred more)
EXAMPLES = int(os.environ.get("CONVCALC_PARITY_EXAMPLES", "1000"))
RANDOM = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGRESSIONS = yaml.safe_load((Path(__file__).parent / "regressions" / "layers.yaml").read_text())


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_model_matches_pytorch(name):
    spec = load_model(name)
    report = analyze(spec)
    export = export_torch(report)
    result = probe(export, report)
    assert mismatches(report, result) == []
    modules = [m for m in export.modules if m is not None]
    assert len(result.layers) == len(modules) == len(set(modules))  # one module per row, each hooked


def test_resnet50_is_the_published_network():
    """The issue's acceptance numbers: torchvision resnet50 has 25,557,032 parameters, output 1x1000."""
    spec = load_model("resnet50")
    report = analyze(spec)
    result = probe(export_torch(report), report)
    assert (result.params, result.output_shape) == (25_557_032, (1000,))
    assert result.macs == 4_089_184_256


def test_transposed_conv_macs_count_input_positions_in_flop_counter():
    """FlopCounterMode counts a transposed conv over its input positions, as convcalc does:
    2 * (4*4 input positions) * 8 in * (3 out / 1) * (2*2 kernel) FLOPs."""
    spec = load_spec(yaml.safe_dump({"name": "t", "input": [8, 4, 4], "layers": [{"conv_transpose2d": {"out_channels": 3, "kernel_size": 2, "stride": 2}}]}))
    report = analyze(spec)
    result = probe(export_torch(report), report)
    assert result.macs == report.totals.macs == 4 * 4 * 8 * 3 * 2 * 2


def pytorch_says(case: LayerCase, spec, report) -> tuple:
    """(output shape without the batch, parameters), or why PyTorch rejects the layer: the
    exception it raised, or an output with an axis of size 0 (a transposed conv whose output
    size is exactly 0 returns an empty tensor; convcalc calls every size below 1 an error). The
    export reads the report when convcalc has one (``linear`` on the last axis takes its size there)."""
    if report is None:
        source, name = layer_source(case.kind, case.args, case.input), "Case"
    else:
        export = export_torch(report)
        source, name = export.source, export.class_name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. padding="same" with an even kernel copies the input
            model = build(source, name, device="cpu")
            out = model(torch.zeros(1, *case.input))
    except (RuntimeError, ValueError, TypeError) as exc:  # TypeError: PyTorch's argument parser
        return exc
    if 0 in out.shape:
        return ValueError(f"empty output {tuple(out.shape)}")
    return tuple(out.shape[1:]), sum(p.numel() for p in model.parameters())


def check(case: LayerCase) -> tuple | SpecError:
    """convcalc and PyTorch agree on the shape and parameters, and on whether the layer is valid.
    Returns convcalc's (output shape, parameters), or its error."""
    spec = load_spec(yaml.safe_dump(layer_spec(case)), "case.yaml")
    report = None
    try:
        report = analyze(spec)
    except SpecError as exc:
        ours = exc
    else:
        ours = (tuple(report.output_shape), report.totals.params)
    theirs = pytorch_says(case, spec, report)
    shown = {"convcalc": ours.render() if isinstance(ours, SpecError) else ours, "PyTorch": repr(theirs) if isinstance(theirs, Exception) else theirs}
    assert isinstance(ours, SpecError) == isinstance(theirs, Exception), f"{case}: {shown}"
    if not isinstance(ours, SpecError):
        assert ours == theirs, f"{case}: {shown}"
        if case.args.get("padding") == "same":  # TensorFlow's rule, independent of both: out = ceil(in / s)
            stride = case.args.get("stride", 1)
            strides = stride if isinstance(stride, list) else [stride] * (len(case.input) - 1)
            assert ours[0][1:] == tuple(math.ceil(n / s) for n, s in zip(case.input[1:], strides))
    return ours


@pytest.mark.parametrize("entry", REGRESSIONS, ids=[e["id"] for e in REGRESSIONS])
def test_regression(entry):
    ours = check(LayerCase(entry["kind"], entry["args"], tuple(entry["input"])))
    if entry["expect"] == "error":
        assert isinstance(ours, SpecError)
    else:
        assert list(ours[0]) == entry["expect"]


@RANDOM
@pytest.mark.slow
@given(convs())
def test_conv_matches_pytorch(case):
    check(case)


@RANDOM
@pytest.mark.slow
@given(conv_transposes())
def test_conv_transpose_matches_pytorch(case):
    check(case)


@RANDOM
@pytest.mark.slow
@given(pools())
def test_pool_matches_pytorch(case):
    check(case)


@RANDOM
@pytest.mark.slow
@given(adaptive_pools())
def test_adaptive_pool_matches_pytorch(case):
    check(case)


@RANDOM
@pytest.mark.slow
@given(linears())
def test_linear_matches_pytorch(case):
    check(case)


@RANDOM
@pytest.mark.slow
@given(upsamples())
def test_upsample_matches_pytorch(case):
    check(case)


@settings(RANDOM, max_examples=max(EXAMPLES // 4, 10))
@given(zero_pads())
def test_zero_pad_matches_pytorch(case):
    """Negative sizes crop, as F.pad does: it cuts first and fails when a cut passes the input."""
    check(case)


@settings(RANDOM, max_examples=max(EXAMPLES // 4, 10))
@given(group_norms())
def test_group_norm_matches_pytorch(case):
    """PyTorch refuses a group of one value over the batch (the parity runs one sample)."""
    check(case)


def test_avg_pool1d_has_no_divisor_override():
    """nn.AvgPool1d takes no divisor_override (2d and 3d do), so convcalc refuses it as an
    unknown argument; the export would refuse it too, so PyTorch is asked directly."""
    with pytest.raises(TypeError):
        torch.nn.AvgPool1d(2, divisor_override=3)
    assert torch.nn.AvgPool2d(2, divisor_override=4)(torch.ones(1, 1, 2, 2)).item() == 4 / 4
    with pytest.raises(SpecError) as info:
        analyze(load_spec("name: t\ninput: [1, 4]\nlayers:\n  - avg_pool1d: {kernel_size: 2, divisor_override: 3}\n", "t.yaml"))
    assert info.value.code == "spec-unknown-arg"
    analyze(load_spec("name: t\ninput: [1, 4, 4]\nlayers:\n  - avg_pool2d: {kernel_size: 2, divisor_override: 3}\n", "t.yaml"))
