"""Receptive field growth and theoretical activation memory."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from helpers import analyze_model, analyze_text


def rf_of(report, path):
    row = report.row(path)
    return [(a.size, a.jump, a.start, a.padding) for a in row.rf]


def test_vgg16_receptive_field(run_cli):
    report = analyze_model("vgg16")
    # (size, jump, effective padding) of the walkthrough
    for path, (size, jump, padding) in {
        "features.stage1.conv.0.conv": (3, 1, 1),
        "features.stage1.pool": (6, 2, 2),
        "features.stage2.pool": (16, 4, 6),
        "features.stage5.pool": (212, 32, 90),
    }.items():
        s, j, _, p = rf_of(report, path)[0]
        assert (s, j, p) == (size, jump, padding), path
    code, out, _ = run_cli("rf", "vgg16", "-f", "json")
    layers = {layer["path"]: layer for layer in json.loads(out)["layers"]}
    assert layers["features.stage5.pool"]["receptive_field"][0] == {"size": 212, "jump": 32, "start": "31/2", "padding": 90, "first": [-90, 121], "period": 1}


def test_stacked_3x3_convs_grow_by_two():
    report = analyze_text("name: t\ninput: [1, 32, 32]\nlayers:\n  - conv2d: {out_channels: 1, kernel_size: 3}\n    repeat: 3\n")
    assert [r.rf[0].size for r in report.rows] == [3, 5, 7]  # the VGG argument: three 3x3 see a 7x7


def test_rule_with_stride_dilation_and_padding():
    report = analyze_text("name: t\ninput: [1, 64]\nlayers:\n  - conv1d: {out_channels: 1, kernel_size: 3, stride: 2, padding: 1}\n  - conv1d: {out_channels: 1, kernel_size: 3, dilation: 2}\n")
    first, second = (r.rf[0] for r in report.rows)
    assert (first.size, first.jump, first.start) == (3, 2, 0 + (1 - 1) * 1)
    k_eff = 2 * (3 - 1) + 1
    assert (second.size, second.jump, second.start) == (3 + (k_eff - 1) * 2, 2, 0 + Fraction(k_eff - 1, 2) * 2)


def test_asymmetric_same_padding_moves_the_start():
    report = analyze_text("name: t\ninput: [1, 224, 224]\nlayers:\n  - conv2d: {out_channels: 1, kernel_size: 7, stride: 2, padding: same}\n")
    axis = report.rows[0].rf[0]
    assert (axis.size, axis.jump, axis.start, axis.padding) == (7, 2, 3 - 2, 2)  # padding before is 2 of [2, 3]


def test_transposed_conv_and_upsampling_have_fractional_jumps():
    report = analyze_text("""
        name: t
        input: [1, 16]
        layers:
          - conv1d: {out_channels: 1, kernel_size: 2, stride: 2}
          - conv_transpose1d: {out_channels: 1, kernel_size: 2, stride: 2}
          - upsample: {scale_factor: 2}
        """)
    down, up, nearest = (r.rf[0] for r in report.rows)
    assert down.jump == 2 and up.jump == 1 and nearest.jump == Fraction(1, 2)
    assert isinstance(nearest.jump, Fraction) and nearest.size == up.size


def test_global_layers_and_misaligned_branches():
    report = analyze_model("resnet18")
    assert report.row("fc").is_global and report.row("avgpool").is_global
    branchy = analyze_text("""
        name: t
        input: [4, 32, 32]
        layers:
          - parallel:
              merge: concat
              branches:
                - [{conv2d: {out_channels: 2, kernel_size: 3, padding: 1}}]
                - [{conv2d: {out_channels: 2, kernel_size: 2, padding: [[0, 1], [0, 1]]}}]
        """)
    merged = branchy.rows[-1].rf[0]
    assert merged.size == 3  # the union of [o-1, o+1] and [o, o+1]
    assert [d.code for d in branchy.diagnostics] == ["rf-misaligned"] * 2  # one per spatial axis


# -- exact fields: goldens -----------------------------------------------------------------------


def test_nearest_upsampling_by_two_starts_at_the_first_pixel():
    """Output o reads input floor(o / 2): outputs 0 and 1 both read pixel 0 (convcalc said start -1/4,
    the bilinear half-pixel shift, before the fields were exact)."""
    axis = analyze_text("name: t\ninput: [1, 8]\nlayers:\n  - upsample: {scale_factor: 2}\n").rows[0].rf[0]
    assert (axis.size, axis.jump, axis.start, axis.first) == (1, Fraction(1, 2), 0, (0, 0))
    assert [axis.interval(o) for o in range(4)] == [(0, 0), (0, 0), (1, 1), (1, 1)]


def test_bilinear_upsampling_reads_one_pixel_at_each_border():
    """The source coordinate (o + 1/2)/2 - 1/2 is clamped at 0, and the second tap at the last
    pixel: outputs 0 and 15 of 16 read one input (PyTorch's weight of the other tap is 0)."""
    axis = analyze_text("name: t\ninput: [1, 8]\nlayers:\n  - upsample: {scale_factor: 2, mode: linear}\n").rows[0].rf[0]
    assert [axis.interval(o) for o in range(4)] == [(0, 0), (0, 1), (0, 1), (1, 2)]
    assert axis.interval(15) == (7, 7) and axis.interval(14) == (6, 7)
    assert (axis.size, axis.start, axis.padding) == (2, 0, 0)


def test_a_misaligned_merge_is_the_union_of_its_branches():
    """Two 3x3 convolutions padded [2, 0] and [0, 2] read [o-2, o] and [o, o+2]: together 5 pixels
    (convcalc said 3, the larger branch's field, before the fields were exact)."""
    report = analyze_text("""
        name: t
        input: [1, 16]
        layers:
          - parallel:
              merge: add
              branches:
                - [{conv1d: {out_channels: 1, kernel_size: 3, padding: [[2, 0]]}}]
                - [{conv1d: {out_channels: 1, kernel_size: 3, padding: [[0, 2]]}}]
        """)
    axis = report.rows[-1].rf[0]
    assert (axis.size, axis.first, axis.start) == (2 + 1 + 2, (-2, 2), 0)
    assert [d.code for d in report.diagnostics] == ["rf-misaligned"]  # the note stays: starts -1 and 1


def test_unet_output_field():
    """U-Net's output rows read 188 or 204 input rows, in a pattern of 16 (its four 2x up-convolutions
    copy each bottleneck row to 16 output rows): output 0 reads [0, 187], outputs 4 to 15 read
    [0, 203], output 16 starts at 16. Checked against PyTorch row by row in test_receptive_field_exact."""
    axis = analyze_model("unet").rows[-1].rf[0]
    assert (axis.size, axis.jump, axis.period, axis.first, axis.start) == (188 + 16, 1, 16, (0, 187), Fraction(0 + 187, 2))
    assert [axis.interval(o) for o in (0, 3, 4, 15, 16)] == [(0, 187), (0, 187), (0, 203), (0, 203), (16, 16 + 187)]
    assert axis.interval(387) == (384, 571)  # the last output reads up to the last input row


def _alive_by_hand(report, k: int) -> int:
    """Elements alive while row ``k`` runs, tensor by tensor: a tensor (the input: -1) lives from
    the row that makes it to the last row that reads it, or only while it is made when none does."""
    last = {}
    for row in report.rows:
        for source in row.inputs:
            last[source] = row.index
    alive = report.rows[k].activations  # its own output, being made
    for t in [-1, *range(k)]:
        if last.get(t, -2) >= k:
            alive += report.rows[t].activations if t >= 0 else math.prod(report.input_shape)
    return alive


@pytest.mark.parametrize("name", ["resnet50", "unet", "inception_v3", "densenet121", "mobilenet_v2"])
def test_peak_memory_is_the_liveness_walked_by_hand(name):
    """The peak over the whole network and over every block's rows (a budget's ``peak_memory`` of a
    group) is, row by row, the largest sum of the tensors alive, at the first row it is reached."""
    report = analyze_model(name)
    ranges = [(0, len(report.rows)), *((g.first, g.end) for g in report.groups)]
    for first, end in ranges[:60]:
        alive = [_alive_by_hand(report, k) for k in range(first, end)]
        at = alive.index(max(alive))
        peak, row = report.peak_activations(first, end)
        assert (peak, row.index) == (alive[at], first + at), (name, first, end)
    assert report.peak_activations(5, 5) == (0, None)


def test_peak_memory_follows_liveness():
    report = analyze_text("""
        name: t
        input: [1, 10]
        layers:
          - conv1d: {out_channels: 4, kernel_size: 1}
            id: skip
          - conv1d: {out_channels: 2, kernel_size: 1}
          - conv1d: {out_channels: 2, kernel_size: 1}
          - concat: {inputs: [skip, previous]}
        """)
    # elements: input 10, a=40, b=20, c=20, cat=60. The skip keeps a alive until the concat.
    peak, at = report.peak_activations()
    assert (peak, at.path) == (40 + 20 + 60, "3")
    m = report.memory
    assert m["peak_activation_bytes"] == 4 * 120
    assert m["activation_bytes"] == 4 * (40 + 20 + 20 + 60)
    assert m["training_activation_bytes"] == 4 * (40 + 20 + 20 + 60 + 10)
    assert m["weight_bytes"] == 4 * ((4 + 4) + (2 * 4 + 2) + (2 * 2 + 2))


def test_dtype_and_batch_scale_memory(run_cli):
    data = json.loads(run_cli("summary", "lenet5", "--dtype", "float16", "--batch", "8", "-f", "json")[1])
    assert data["totals"]["activation_bytes"] == 2 * 8 * 15012
    assert data["memory"]["batch"] == 8 and data["layers"][0]["activation_bytes"] == 2 * 8 * 4704
    code, out, _ = run_cli("summary", "unet")
    assert "theoretical" in out and "peak" in out


def test_a_field_that_is_not_known_says_why(run_cli, tmp_path):
    """Nearest upsampling by 3 on a symbolic size: PyTorch's float32 source indices depend on the
    size, so the field is not known; the tables print ``?``, JSON nulls and the reason."""
    spec = tmp_path / "sym.yaml"
    spec.write_text("name: t\ninput: [1, H]\nlayers:\n  - upsample: {scale_factor: 3}\n  - conv1d: {out_channels: 1, kernel_size: 3}\n")
    data = json.loads(run_cli("summary", str(spec), "-f", "json")[1])
    field = data["layers"][1]["receptive_field"][0]
    assert (field["size"], field["start"], field["first"], field["jump"]) == (None, None, None, "1/3")
    assert "not a power of two" in field["unknown"]
    code, out, _ = run_cli("rf", str(spec))
    assert code == 0 and "note[rf-unknown]: from 0 on, the field is not known" in " ".join(out.split())
    assert analyze_text(spec.read_text().replace("[1, H]", "[1, 8]")).rows[1].rf[0].interval(0) == (0, 0)  # a number: exact
