"""A training step's MACs (``summary --training``): every weight's gradient costs the layer's
forward MACs again, and an input's gradient too where the input depends on weights (the first layer
computes none). Checked against PyTorch's FlopCounterMode over forward + backward of every exported
built-in, with its one blind spot named: it counts a grouped convolution's weight gradient as an
ungrouped one, ``groups`` times its MACs (alexnet_grouped, the depthwise convolutions of MobileNet,
EfficientNet and ConvNeXt)."""

from __future__ import annotations

import json

import pytest

from convcalc import analyze, load_model
from convcalc.spec.zoo import builtin_names
from helpers import analyze_text


def test_lenet5_by_hand():
    report = analyze(load_model("lenet5"))
    forward = [r.macs for r in report.rows]
    assert report.rows[0].backward_macs == forward[0]  # CONV1 reads the image: its weight gradient only
    assert report.backward_macs == 2 * sum(forward) - forward[0] == 950_640
    assert report.training_macs == 651_720 + 950_640


def test_input_gradients_only_where_weights_come_before():
    report = analyze_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - max_pool2d: {kernel_size: 2}\n  - conv2d: {out_channels: 4, kernel_size: 3}\n  - conv2d: {out_channels: 4, kernel_size: 1}\n")
    first, second = report.rows[1], report.rows[2]
    assert first.backward_macs == first.macs == 4 * 2 * 2 * 3 * 9  # after a pool on the image: no input gradient
    assert second.backward_macs == 2 * second.macs


def test_summary_training_json(run_cli):
    code, out, err = run_cli("summary", "resnet18", "--training", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["training_macs"] == data["totals"]["macs"] + data["totals"]["backward_macs"] == 5_324_206_080
    assert sum(layer["backward_macs"] for layer in data["layers"]) == data["totals"]["backward_macs"]


def _grouped_weight_gradient_blind_spot(report) -> int:
    """FlopCounterMode's conv_backward counts a grouped convolution's weight gradient as if it had
    one group: (groups - 1) times its MACs too many."""
    return sum((row.layer.groups - 1) * row.macs for row in report.rows if row.kind.startswith("conv") and row.layer.groups > 1)


@pytest.mark.parametrize("name", builtin_names())
def test_training_macs_equal_flop_counter_forward_and_backward(name):
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import training_macs
    from convcalc.interop.torch_export import export_torch

    report = analyze(load_model(name))
    assert training_macs(export_torch(report), report) == report.training_macs + _grouped_weight_gradient_blind_spot(report)
