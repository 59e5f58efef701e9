"""Per-kind rules: shapes, params, buffers, MACs and FLOPs, each derived by hand in the assertion."""

from __future__ import annotations

import pytest

from convcalc.errors import SpecError
from convcalc.kinds import KINDS, RFAxis, Tensor

from helpers import analyze_text


def infer(kind: str, shape: tuple, **args):
    return KINDS[kind](**args).infer(Tensor(shape, tuple(RFAxis() for _ in shape[1:])))


def one(layer: str, input_shape) -> object:
    return analyze_text(f"name: t\ninput: {list(input_shape)}\nlayers:\n  - {layer}\n").rows[-1]


class TestConv:
    def test_grouped_and_depthwise(self):
        r = infer("conv2d", (32, 10, 10), out_channels=64, kernel_size=3, groups=4, padding=1)
        assert r.params == 64 * (32 // 4) * 3 * 3 + 64
        assert r.macs == 10 * 10 * 64 * (32 // 4) * 9
        assert r.flops == 2 * r.macs + 10 * 10 * 64
        dw = infer("conv2d", (32, 10, 10), out_channels=32, kernel_size=3, groups=32, bias=False)
        assert (dw.shape, dw.params, dw.notes) == ((32, 8, 8), 32 * 1 * 9, ("depthwise",))

    def test_per_axis_dilation_stride_and_3d(self):
        r = infer("conv2d", (3, 20, 30), out_channels=4, kernel_size=[3, 5], stride=[1, 2], dilation=[2, 1], padding=[1, 2])
        assert r.shape == (4, (20 + 2 - 2 * 2 - 1) // 1 + 1, (30 + 4 - 4 - 1) // 2 + 1) == (4, 18, 15)
        r3 = infer("conv3d", (2, 8, 8, 8), out_channels=4, kernel_size=3)
        assert (r3.shape, r3.params, r3.macs) == ((4, 6, 6, 6), 4 * 2 * 27 + 4, 6**3 * 4 * 2 * 27)
        r1 = infer("conv1d", (2, 100), out_channels=8, kernel_size=7, stride=3)
        assert r1.shape == (8, (100 - 7) // 3 + 1)

    @pytest.mark.parametrize(("size", "k", "s", "pads"), [(224, 7, 2, [[2, 3], [2, 3]]), (224, 3, 1, [[1, 1], [1, 1]]), (225, 3, 2, [[1, 1], [1, 1]]), (6, 2, 1, [[0, 1], [0, 1]])])
    def test_same_padding_follows_tensorflow(self, size, k, s, pads):
        r = infer("conv2d", (3, size, size), out_channels=1, kernel_size=k, stride=s, padding="same")
        assert r.shape[1] == -(-size // s)  # ceil(in / s)
        assert r.extra["padding"] == pads

    def test_asymmetric_and_valid_padding(self):
        assert infer("conv2d", (1, 5, 5), out_channels=1, kernel_size=3, padding=[[0, 2], [1, 0]]).shape == (1, 5 + 0 + 2 - 3 + 1, 5 + 1 + 0 - 3 + 1) == (1, 5, 4)
        assert infer("conv2d", (1, 5, 5), out_channels=1, kernel_size=3, padding="valid").shape == (1, 3, 3)

    def test_transposed_counts_per_input_position(self):
        r = infer("conv_transpose2d", (16, 8, 8), out_channels=8, kernel_size=4, stride=2, padding=1)
        assert r.shape == (8, (8 - 1) * 2 - 2 * 1 + (4 - 1) + 1, 16) == (8, 16, 16)
        assert r.params == 16 * 8 * 4 * 4 + 8
        assert r.macs == 8 * 8 * 16 * 8 * 4 * 4  # per input position, not per output: s^2 = 4x less
        r = infer("conv_transpose1d", (4, 10), out_channels=2, kernel_size=3, stride=3, dilation=2, output_padding=1)
        assert r.shape == (2, (10 - 1) * 3 + 2 * (3 - 1) + 1 + 1)

    def test_groups_must_divide(self):
        with pytest.raises(Exception, match="groups=3 does not divide the input channels"):
            infer("conv2d", (4, 8, 8), out_channels=6, kernel_size=1, groups=3)


class TestPool:
    @pytest.mark.parametrize(("size", "k", "s", "p", "out"), [(32, 1, 2, 0, 16), (5, 2, 2, 1, 3), (6, 3, 2, 0, 3), (7, 3, 2, 1, 4)])
    def test_ceil_mode_edges(self, size, k, s, p, out):
        assert infer("max_pool1d", (1, size), kernel_size=k, stride=s, padding=p, ceil_mode=True).shape == (1, out)

    def test_floor_mode_and_default_stride(self):
        assert infer("max_pool2d", (3, 7, 7), kernel_size=2).shape == (3, 3, 3)
        assert infer("avg_pool2d", (3, 7, 7), kernel_size=3, stride=2, padding=1).shape == (3, 4, 4)
        assert infer("max_pool2d", (1, 10, 10), kernel_size=3, dilation=2).shape == (1, (10 - 2 * 2 - 1) // 3 + 1, 2)
        assert infer("max_pool2d", (1, 10, 10), kernel_size=3, stride=1, dilation=2).shape == (1, 6, 6)

    def test_max_pool_flops_count_real_window_elements(self):
        # 2x2 windows on 4x4: 4 outputs, 3 comparisons each, per channel
        assert infer("max_pool2d", (2, 4, 4), kernel_size=2).flops == 2 * 4 * (4 - 1)
        # k3 s2 p1 on 5: windows [-1..1], [1..3], [3..5] hold 2, 3, 2 real elements along the axis
        r = infer("max_pool1d", (1, 5), kernel_size=3, stride=2, padding=1)
        assert r.flops == (2 + 3 + 2) - 3
        # ceil mode on 6 with k3 s2: windows [0..2], [2..4], [4..6] -> the last holds 2 elements
        assert infer("avg_pool1d", (1, 6), kernel_size=3, stride=2, ceil_mode=True).flops == 3 + 3 + 2

    def test_pool_padding_limit(self):
        with pytest.raises(Exception, match="at most 1"):
            infer("max_pool2d", (1, 8, 8), kernel_size=3, padding=2)

    def test_adaptive_windows(self):
        r = infer("adaptive_avg_pool2d", (1, 13, 13), output_size=6)
        assert r.shape == (1, 6, 6)
        # windows [floor(i*13/6), ceil((i+1)*13/6)) have 3 elements each: 6 * 3 = 13 + 6 - gcd(13, 6)
        assert r.flops == (6 * 3) * (6 * 3)
        assert infer("adaptive_max_pool1d", (2, 7), output_size=1).flops == 2 * (7 - 1)
        assert infer("adaptive_avg_pool2d", (1, 9, 9), output_size=[None, 3]).shape == (1, 9, 3)

    def test_global(self):
        assert infer("global_avg_pool", (8, 7, 7)).shape == (8, 1, 1)
        assert infer("global_avg_pool", (8, 7, 7), keepdim=False).shape == (8,)
        assert infer("global_max_pool", (8, 7, 7)).flops == 8 * (49 - 1)


class TestOthers:
    def test_linear(self):
        r = infer("linear", (400,), out_features=120)
        assert (r.params, r.macs, r.flops) == (400 * 120 + 120, 400 * 120, 2 * 400 * 120 + 120)
        per_position = infer("linear", (96, 56, 56), out_features=384, axis="channels")
        assert per_position.shape == (384, 56, 56)
        assert per_position.macs == 56 * 56 * 96 * 384

    def test_linear_on_unflattened_tensor_is_an_error(self):
        with pytest.raises(SpecError) as info:
            one("linear: {out_features: 10}", [3, 8, 8])
        assert "add `- flatten` before it" in info.value.render()

    def test_norms(self):
        bn = infer("batch_norm2d", (64, 8, 8))
        assert (bn.params, bn.buffers, bn.flops) == (2 * 64, 2 * 64, 2 * 64 * 8 * 8)
        assert infer("layer_norm", (96, 4, 4)).params == 2 * 96
        assert infer("layer_norm", (10, 20), normalized_shape=20).params == 2 * 20
        assert infer("group_norm", (32, 4, 4), num_groups=8).params == 2 * 32
        assert infer("local_response_norm", (96, 5, 5), size=5).flops == (2 * 5 + 3) * 96 * 25
        assert infer("layer_scale", (96, 4, 4)).params == 96

    def test_upsample(self):
        assert infer("upsample", (3, 7, 9), scale_factor=2).shape == (3, 14, 18)
        assert infer("upsample", (3, 7, 9), scale_factor=1.5, mode="bilinear").shape == (3, 10, 13)
        assert infer("upsample", (3, 7, 9), size=[20, 30]).shape == (3, 20, 30)
        assert infer("upsample", (3, 7, 9), scale_factor=2, mode="bilinear").flops == 7 * 3 * 14 * 18

    def test_padding_crop_flatten(self):
        assert infer("zero_pad", (3, 5, 5), padding=[[1, 2], [0, 3]]).shape == (3, 8, 8)
        assert infer("center_crop", (3, 64, 64), size=56).shape == (3, 56, 56)
        assert infer("flatten", (512, 7, 7)).shape == (512 * 7 * 7,)

    def test_activations_and_softmax(self):
        assert infer("relu", (4, 3, 3)).flops == 36
        assert infer("softmax", (10,)).flops == 3 * 10 - 1
        assert infer("log_softmax", (10,)).flops == 3 * 10
        # FLOPs per element, as the README states them: max(x, 0); min and max; compare and multiply;
        # compare, exp, multiply-subtract; one; sigmoid and multiply; one; one; add, clamp, multiply,
        # divide; add, clamp, divide
        per_element = {"relu": 1, "relu6": 2, "leaky_relu": 2, "elu": 3, "gelu": 1, "silu": 2, "sigmoid": 1, "tanh": 1, "hardswish": 4, "hardsigmoid": 3}
        for kind, flops in per_element.items():
            r = infer(kind, (2, 3))
            assert (r.shape, r.params, r.macs, r.flops) == ((2, 3), 0, 0, flops * 2 * 3), kind


class TestGraph:
    def test_residual_and_projection(self):
        report = analyze_text("""
            name: t
            input: [64, 56, 56]
            layers:
              - residual:
                  body:
                    - conv2d: {out_channels: 128, kernel_size: 3, stride: 2, padding: 1, bias: false}
                  shortcut:
                    - conv2d: {out_channels: 128, kernel_size: 1, stride: 2, bias: false}
                    - batch_norm2d
                name: block
            """)
        assert report.output_shape == (128, 28, 28)
        assert [r.path for r in report.rows] == ["block.0", "block.shortcut.0", "block.shortcut.1", "block.add"]
        assert report.totals.params == 128 * 64 * 9 + 128 * 64 + 2 * 128

    def test_residual_mismatch_says_projection(self):
        with pytest.raises(SpecError) as info:
            analyze_text("name: t\ninput: [64, 8, 8]\nlayers:\n  - residual:\n      body:\n        - conv2d: {out_channels: 128, kernel_size: 1}\n")
        assert "(128, 8, 8)" in info.value.message and "(64, 8, 8)" in info.value.message
        assert "projection shortcut" in info.value.render()
        assert (info.value.pos.line, info.value.pos.col) == (4, 5)

    def test_parallel_concat_and_gate(self):
        report = analyze_text("""
            name: t
            input: [16, 8, 8]
            layers:
              - parallel:
                  merge: concat
                  branches:
                    a: [{conv2d: {out_channels: 8, kernel_size: 1}}]
                    b: [{conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}]
              - parallel:
                  merge: multiply
                  branches:
                    - []
                    - [global_avg_pool, {conv2d: {out_channels: 12, kernel_size: 1}}, sigmoid]
            """)
        assert report.output_shape == (12, 8, 8)
        assert report.rows[-1].flops == 12 * 8 * 8  # (2 - 1) multiplies per output element

    def test_named_tensors_and_crop(self):
        report = analyze_text("""
            name: t
            input: [1, 20, 20]
            layers:
              - conv2d: {out_channels: 4, kernel_size: 3}
                id: skip
              - conv2d: {out_channels: 4, kernel_size: 3}
              - conv2d: {out_channels: 4, kernel_size: 3}
              - concat: {inputs: [skip, previous], crop: center}
                name: cat
            """)
        crop = report.rows[-2]
        assert (crop.kind, crop.input_shapes[0], crop.output_shape) == ("center_crop", (4, 18, 18), (4, 14, 14))
        assert report.output_shape == (8, 14, 14)

    def test_blocks_with_parameters_and_when(self):
        report = analyze_text("""
            name: t
            input: [8, 16, 16]
            blocks:
              unit:
                params: {width: ~, stride: 1}
                layers:
                  - conv2d: {out_channels: "${width * 2}", kernel_size: 3, stride: $stride, padding: 1}
                  - relu:
                    when: ${stride == 1}
            layers:
              - unit: {width: 4, stride: 2}
                name: down
              - unit: {width: 8}
                repeat: 2
                name: body
            """)
        assert [r.path for r in report.rows] == ["down.0", "body.0.0", "body.0.1", "body.1.0", "body.1.1"]
        assert report.output_shape == (16, 8, 8)
