"""Receptive fields through the kinds that move values without a window: exact where each output
reads known positions (narrow, expand, pixel shuffles, reductions with keepdim, linear on the last
axis), not known, with the reason, where the spatial axes move (reshape, permute, split, roll,
gather, select), and PyTorch's own dependencies as the oracle for the pixel shuffles."""

from __future__ import annotations

import json
import textwrap

import pytest

import convcalc


def rows(layers: str, input_: str = "[1, 8, 8]"):
    text = f"name: t\ninput: {input_}\nlayers:\n" + textwrap.indent(textwrap.dedent(layers).strip("\n"), "  ") + "\n"
    return convcalc.analyze(convcalc.load_spec(text, "t.yaml")).rows


def intervals(row, axis: int = 0) -> list:
    return [row.rf[axis].interval(o) for o in range(row.output_shape[1 + axis])]


def test_narrow_on_a_spatial_axis_is_a_crop():
    last = rows("""
        - conv2d: {out_channels: 1, kernel_size: 3, padding: 1}
        - narrow: {dim: 3, start: 2, length: 4}
    """)[-1]
    assert intervals(last, 1) == [(o + 2 - 1, o + 2 + 1) for o in range(4)]  # output o is the conv's o + 2
    assert intervals(last, 0)[0] == (-1, 1)  # H untouched


def test_narrow_of_the_channels_keeps_the_field():
    before, last = rows("""
        - conv2d: {out_channels: 4, kernel_size: 3}
        - narrow: {dim: 1, start: 1, length: 2}
    """)
    assert last.rf == before.rf


def test_expand_broadcasts_a_size_one_axis():
    last = rows("""
        - adaptive_avg_pool2d: {output_size: [1, 8]}
        - expand: {sizes: [1, 5, 8]}
    """)[-1]
    assert intervals(last, 0) == [(0, 7)] * 5  # every row reads the whole column
    assert intervals(last, 1) == [(o, o) for o in range(8)]


def test_pixel_shuffle_reads_one_pixel_and_unshuffle_a_window():
    shuffle = rows("- pixel_shuffle: {upscale_factor: 2}", "[4, 3, 3]")[-1]
    assert intervals(shuffle) == [(o // 2, o // 2) for o in range(6)]
    assert (shuffle.rf[0].size, shuffle.rf[0].jump) == (1, pytest.approx(0.5))
    unshuffle = rows("- pixel_unshuffle: {downscale_factor: 2}", "[1, 6, 6]")[-1]
    assert intervals(unshuffle) == [(2 * o, 2 * o + 1) for o in range(3)]
    assert (unshuffle.rf[0].size, unshuffle.rf[0].jump) == (2, 2)


def test_reduction_with_keepdim_reads_the_whole_reduced_axis():
    last = rows("- mean: {dim: 3, keepdim: true}", "[2, 5, 7]")[-1]
    assert intervals(last, 1) == [(0, 6)] and intervals(last, 0) == [(o, o) for o in range(5)]
    assert not last.is_global


def test_linear_on_the_last_axis_reads_all_of_it():
    last = rows("- linear: {out_features: 3, axis: last}", "[2, 5, 7]")[-1]
    assert intervals(last, 1) == [(0, 6)] * 3 and intervals(last, 0) == [(o, o) for o in range(5)]


@pytest.mark.parametrize("layer, words", [
    ("- reshape: {shape: [2, 4, 16]}", "reshape"),
    ("- permute: {dims: [0, 1, 3, 2]}", "permute"),
    ("- transpose: {dim0: 2, dim1: 3}", "transpose"),
    ("- flatten: {start_dim: 2}", "flatten"),
    ("- split: {split_size_or_sections: 4, dim: 2}\n  id: [a, b]\n- identity: {}\n  input: b", "split"),
    ("- roll: {shifts: 1, dims: 3}", "roll"),
    ("- gather: {dim: 3, index_shape: [3]}", "gather"),
    ("- select: {dim: 2, index: 0}", "select"),
    ("- mean: {dim: 2}", "mean"),
])
def test_a_layer_that_moves_the_spatial_axes_leaves_the_field_not_known(layer, words):
    last = rows(f"- conv2d: {{out_channels: 2, kernel_size: 3, padding: 1}}\n{layer}")[-1]
    assert last.rf and all(not axis.known and words in axis.unknown for axis in last.rf), last.rf
    assert not last.is_global


def test_a_field_not_known_is_said_in_every_format(run_cli, tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("name: r\ninput: [1, 8, 8]\nlayers:\n  - conv2d: {out_channels: 1, kernel_size: 3}\n  - permute: {dims: [0, 1, 3, 2]}\n  - relu\n")
    code, out, err = run_cli("rf", str(spec), "--format", "json")
    assert code == 0, err
    axis = json.loads(out)["layers"][-1]["receptive_field"][0]
    assert axis["size"] is None and axis["jump"] is None and "permute" in axis["unknown"]
    code, out, err = run_cli("rf", str(spec))
    assert code == 0 and "note[rf-unknown]" in out and "permute [0, 1, 3, 2] moves the spatial axes" in out, out
    code, out, err = run_cli("summary", str(spec), "--format", "csv")
    assert out.splitlines()[-1].endswith(",?,?,?"), out


def test_channel_moves_keep_the_field():
    conv, *moved = rows("""
        - conv2d: {out_channels: 4, kernel_size: 3}
        - channel_shuffle: {groups: 2}
        - roll: {shifts: 1, dims: 1}
        - gather: {dim: 1, index_shape: [6]}
        - split: {split_size_or_sections: 3, dim: 1}
          id: [a, b]
        - identity: {}
          input: b
    """)
    assert all(row.rf == conv.rf for row in moved)


def test_merge_with_an_input_reading_nothing_on_another_axis_is_not_known():
    """A transposed conv of stride 2 and kernel 1 reads nothing at odd rows: at (row 1, column 0)
    its branch adds nothing, so the union per axis would claim its column field there."""
    last = rows("""
        - parallel:
            merge: concat
            crop: center
            branches:
              - - conv2d: {out_channels: 1, kernel_size: 1}
              - - conv_transpose2d: {out_channels: 1, kernel_size: 1, stride: 2}
    """, "[1, 3, 4]")[-1]
    assert all(not axis.known and "reads nothing" in axis.unknown for axis in last.rf)


def _torch_fields(module, spatial):
    torch = pytest.importorskip("torch")
    count = spatial[0] * spatial[1]
    basis = torch.eye(count).reshape(count, 1, *spatial).repeat(1, 4, 1, 1)
    with torch.no_grad():
        y = module(basis).sum(dim=1)  # (inputs, H_out, W_out)
    depends = (y != 0).reshape(*spatial, *y.shape[1:])
    fields = {}
    for h in range(y.shape[1]):
        idx = depends[:, :, h, 0].any(dim=1).nonzero().flatten()
        fields[h] = (int(idx.min()), int(idx.max()))
    return fields


def test_pixel_shuffles_match_pytorch():
    torch = pytest.importorskip("torch")
    shuffle = rows("- pixel_shuffle: {upscale_factor: 2}", "[4, 3, 5]")[-1]
    assert _torch_fields(torch.nn.PixelShuffle(2), (3, 5)) == dict(enumerate(intervals(shuffle)))
    unshuffle = rows("- pixel_unshuffle: {downscale_factor: 2}", "[4, 6, 4]")[-1]
    assert _torch_fields(torch.nn.PixelUnshuffle(2), (6, 4)) == dict(enumerate(intervals(unshuffle)))


@pytest.mark.parametrize("size, scale", [([3, 3], [2, 2.05]), ([5, 5], [1.5, 1.1]), ([3], [2.05]), ([1, 1, 3], [1, 1, 2.05])])
def test_nearest_upsampling_reads_what_pytorch_reads(size, scale):
    """The 2-d kernel's shortcuts (a size kept reads o, a size doubled o >> 1); 1-d and 3-d have none."""
    torch = pytest.importorskip("torch")
    last = rows(f"- upsample: {{mode: nearest, scale_factor: {scale}}}", str([1, *size]))[-1]
    axis = len(size) - 1
    x = torch.arange(size[-1], dtype=torch.float32).reshape(1, 1, *([1] * axis), size[-1]).expand(1, 1, *size)
    y = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    read = y[(0, 0, *([0] * axis))].int().tolist()
    assert intervals(last, axis) == [(i, i) for i in read]
