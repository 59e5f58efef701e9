"""One golden case per layer kind: the shape, params, buffers, MACs and FLOPs of one layer, each
written as the arithmetic of the counting rules (README, "How convcalc counts"). The registry test
(test_registry.py) fails for a kind without a case here.

A case is (input shape, the layer as spec items, expected): the last row of the one-layer spec is
checked (the row of the kind, its first output as ``shape`` and the others as ``more``); several
items let a merge or an attention read named tensors.
"""

from __future__ import annotations

import pytest

from helpers import analyze_text

N = 4 * 5 * 5  # elements of the usual (4, 5, 5) input

GOLDEN: dict[str, tuple[list, list[str], dict]] = {
    # convolutions: params C_out*(C_in/g)*prod(k) + C_out; MACs out positions * weights; FLOPs 2*MACs + bias adds
    "conv1d": ([2, 10], ["conv1d: {out_channels: 3, kernel_size: 3}"], dict(shape=(3, 8), params=3 * 2 * 3 + 3, macs=8 * 3 * 2 * 3, flops=2 * (8 * 3 * 2 * 3) + 8 * 3)),
    "conv2d": ([4, 5, 5], ["conv2d: {out_channels: 6, kernel_size: 3, padding: 1, groups: 2}"],
               dict(shape=(6, 5, 5), params=6 * 2 * 9 + 6, macs=25 * 6 * 2 * 9, flops=2 * (25 * 6 * 2 * 9) + 25 * 6)),
    "conv3d": ([2, 4, 4, 4], ["conv3d: {out_channels: 2, kernel_size: 3, bias: false}"], dict(shape=(2, 2, 2, 2), params=2 * 2 * 27, macs=8 * 2 * 2 * 27, flops=2 * (8 * 2 * 2 * 27))),
    # transposed: per INPUT position
    "conv_transpose1d": ([2, 4], ["conv_transpose1d: {out_channels: 3, kernel_size: 2, stride: 2}"],
                         dict(shape=(3, 8), params=2 * 3 * 2 + 3, macs=4 * 2 * 3 * 2, flops=2 * (4 * 2 * 3 * 2) + 8 * 3)),
    "conv_transpose2d": ([4, 3, 3], ["conv_transpose2d: {out_channels: 2, kernel_size: 2, stride: 2, bias: false}"],
                         dict(shape=(2, 6, 6), params=4 * 2 * 4, macs=9 * 4 * 2 * 4, flops=2 * (9 * 4 * 2 * 4))),
    "conv_transpose3d": ([2, 2, 2, 2], ["conv_transpose3d: {out_channels: 1, kernel_size: 2, stride: 2}"],
                         dict(shape=(1, 4, 4, 4), params=2 * 1 * 8 + 1, macs=8 * 2 * 1 * 8, flops=2 * (8 * 2 * 1 * 8) + 64)),
    # pooling: max window - 1 comparisons per output, avg window per output (taps inside the input)
    "max_pool1d": ([2, 6], ["max_pool1d: {kernel_size: 2}"], dict(shape=(2, 3), flops=2 * 3 * (2 - 1))),
    "max_pool2d": ([4, 5, 5], ["max_pool2d: {kernel_size: 3, stride: 2, padding: 1}"],
                   dict(shape=(4, 3, 3), flops=4 * (2 + 3 + 2) ** 2 - 4 * 9)),  # taps per axis: 2, 3, 2
    "max_pool3d": ([1, 4, 4, 4], ["max_pool3d: {kernel_size: 2}"], dict(shape=(1, 2, 2, 2), flops=8 * (8 - 1))),
    "avg_pool1d": ([2, 6], ["avg_pool1d: {kernel_size: 3, stride: 3}"], dict(shape=(2, 2), flops=2 * 2 * 3)),
    "avg_pool2d": ([4, 5, 5], ["avg_pool2d: {kernel_size: 2}"], dict(shape=(4, 2, 2), flops=4 * 4 * 4)),
    "avg_pool3d": ([1, 4, 4, 4], ["avg_pool3d: {kernel_size: 2}"], dict(shape=(1, 2, 2, 2), flops=8 * 8)),
    # adaptive: windows of n + m - gcd(n, m) elements per axis
    "adaptive_avg_pool1d": ([2, 10], ["adaptive_avg_pool1d: {output_size: 4}"], dict(shape=(2, 4), flops=2 * (10 + 4 - 2))),
    "adaptive_avg_pool2d": ([4, 5, 5], ["adaptive_avg_pool2d: {output_size: 2}"], dict(shape=(4, 2, 2), flops=4 * (5 + 2 - 1) ** 2)),
    "adaptive_avg_pool3d": ([1, 4, 4, 4], ["adaptive_avg_pool3d: {output_size: 1}"], dict(shape=(1, 1, 1, 1), flops=64)),
    "adaptive_max_pool1d": ([2, 10], ["adaptive_max_pool1d: {output_size: 5}"], dict(shape=(2, 5), flops=2 * (10 + 5 - 5) - 2 * 5)),
    "adaptive_max_pool2d": ([4, 5, 5], ["adaptive_max_pool2d: {output_size: 1}"], dict(shape=(4, 1, 1), flops=4 * 25 - 4)),
    "adaptive_max_pool3d": ([1, 4, 4, 4], ["adaptive_max_pool3d: {output_size: 2}"], dict(shape=(1, 2, 2, 2), flops=(4 + 2 - 2) ** 3 - 8)),
    "global_avg_pool": ([4, 5, 5], ["global_avg_pool: {keepdim: false}"], dict(shape=(4,), flops=N)),
    "global_max_pool": ([4, 5, 5], ["global_max_pool"], dict(shape=(4, 1, 1), flops=N - 4)),
    # lp pooling: a power and an add per window element
    "lp_pool1d": ([2, 6], ["lp_pool1d: {norm_type: 2, kernel_size: 2}"], dict(shape=(2, 3), flops=2 * (2 * 3 * 2))),
    "lp_pool2d": ([4, 5, 5], ["lp_pool2d: {norm_type: 2, kernel_size: 2}"], dict(shape=(4, 2, 2), flops=2 * (4 * 4 * 4))),
    "linear": ([10], ["linear: {out_features: 3}"], dict(shape=(3,), params=10 * 3 + 3, macs=30, flops=2 * 30 + 3)),
    "flatten": ([4, 5, 5], ["flatten"], dict(shape=(100,))),
    # norms: batch norm 2 per element (inference), layer / group / instance 5 (+2 affine)
    "batch_norm1d": ([6], ["batch_norm1d"], dict(shape=(6,), params=2 * 6, buffers=2 * 6, flops=2 * 6)),
    "batch_norm2d": ([4, 5, 5], ["batch_norm2d"], dict(shape=(4, 5, 5), params=2 * 4, buffers=2 * 4, flops=2 * N)),
    "batch_norm3d": ([2, 2, 2, 2], ["batch_norm3d: {affine: false}"], dict(shape=(2, 2, 2, 2), buffers=2 * 2, flops=2 * 16)),
    "layer_norm": ([4, 5, 5], ["layer_norm"], dict(shape=(4, 5, 5), params=2 * 4, flops=(5 + 2) * N)),
    "group_norm": ([4, 5, 5], ["group_norm: {num_groups: 2, affine: false}"], dict(shape=(4, 5, 5), flops=5 * N)),
    "instance_norm1d": ([3, 7], ["instance_norm1d: {affine: true}"], dict(shape=(3, 7), params=2 * 3, flops=(5 + 2) * 21)),
    "instance_norm2d": ([4, 5, 5], ["instance_norm2d"], dict(shape=(4, 5, 5), flops=5 * N)),
    "instance_norm3d": ([2, 2, 2, 2], ["instance_norm3d: {track_running_stats: true}"], dict(shape=(2, 2, 2, 2), buffers=2 * 2, flops=5 * 16)),
    "local_response_norm": ([4, 5, 5], ["local_response_norm: {size: 3}"], dict(shape=(4, 5, 5), flops=(2 * 3 + 3) * N)),
    "layer_scale": ([4, 5, 5], ["layer_scale"], dict(shape=(4, 5, 5), params=4, flops=N)),
    # activations: ELEMENTWISE_FLOPS per element
    "relu": ([4, 5, 5], ["relu"], dict(shape=(4, 5, 5), flops=1 * N)),
    "relu6": ([4, 5, 5], ["relu6"], dict(flops=2 * N)),
    "leaky_relu": ([4, 5, 5], ["leaky_relu"], dict(flops=2 * N)),
    "elu": ([4, 5, 5], ["elu"], dict(flops=3 * N)),
    "gelu": ([4, 5, 5], ["gelu"], dict(flops=1 * N)),
    "silu": ([4, 5, 5], ["swish"], dict(flops=2 * N)),
    "sigmoid": ([4, 5, 5], ["sigmoid"], dict(flops=1 * N)),
    "tanh": ([4, 5, 5], ["tanh"], dict(flops=1 * N)),
    "hardswish": ([4, 5, 5], ["hardswish"], dict(flops=4 * N)),
    "hardsigmoid": ([4, 5, 5], ["hardsigmoid"], dict(flops=3 * N)),
    "mish": ([4, 5, 5], ["mish"], dict(flops=3 * N)),
    "selu": ([4, 5, 5], ["selu"], dict(flops=4 * N)),
    "celu": ([4, 5, 5], ["celu"], dict(flops=3 * N)),
    "softplus": ([4, 5, 5], ["softplus"], dict(flops=1 * N)),
    "hardtanh": ([4, 5, 5], ["hardtanh"], dict(flops=2 * N)),
    "log_sigmoid": ([4, 5, 5], ["log_sigmoid"], dict(flops=1 * N)),
    "tanhshrink": ([4, 5, 5], ["tanhshrink"], dict(flops=2 * N)),
    "prelu": ([4, 5, 5], ["prelu: {num_parameters: 4}"], dict(shape=(4, 5, 5), params=4, flops=2 * N)),
    # softmax: 3n - 1 per vector of n (the channels: 25 vectors of 4); log_softmax 3n
    "softmax": ([4, 5, 5], ["softmax"], dict(flops=25 * (3 * 4 - 1))),
    "log_softmax": ([4, 5, 5], ["log_softmax: {dim: -1}"], dict(flops=20 * (3 * 5))),
    "dropout": ([4, 5, 5], ["dropout: {p: 0.1}"], dict(shape=(4, 5, 5), flops=0)),
    "identity": ([4, 5, 5], ["identity"], dict(shape=(4, 5, 5), flops=0)),
    "zero_pad": ([4, 5, 5], ["zero_pad: {padding: [[1, 0], 2]}"], dict(shape=(4, 5 + 1, 5 + 4), flops=0)),
    "center_crop": ([4, 5, 5], ["center_crop: {size: 3}"], dict(shape=(4, 3, 3), flops=0)),
    # upsample: nearest 0, bilinear 7 per output element
    "upsample": ([4, 5, 5], ["upsample: {scale_factor: 2, mode: bilinear}"], dict(shape=(4, 10, 10), flops=7 * 400)),
    # merges: (k - 1) per output element; concat 0
    "add": ([4, 5, 5], ["identity:\n    id: a", "add: {inputs: [a, previous, a]}"], dict(shape=(4, 5, 5), flops=2 * N)),
    "multiply": ([4, 5, 5], ["global_avg_pool:\n    id: g", "multiply: {inputs: [g, g]}"], dict(shape=(4, 1, 1), flops=4)),
    "concat": ([4, 5, 5], ["identity:\n    id: a", "concat: {inputs: [a, a]}"], dict(shape=(8, 5, 5), flops=0)),
    # moving values computes nothing
    "split": ([6, 5, 5], ["split: {split_size_or_sections: [2, 4]}\n    id: [a, b]", "identity:\n    input: b"], dict(shape=(2, 5, 5), more=((4, 5, 5),), flops=0)),
    # chunk of 6 channels into 4: pieces of ceil(6/4) = 2, so three pieces (as torch.chunk gives)
    "chunk": ([6, 5, 5], ["chunk: {chunks: 4}\n    id: [a, b, c]", "identity:\n    input: c"], dict(shape=(2, 5, 5), more=((2, 5, 5), (6 - 2 * 2, 5, 5)), flops=0)),
    "channel_shuffle": ([6, 5, 5], ["channel_shuffle: {groups: 3}"], dict(shape=(6, 5, 5), flops=0)),
    "pixel_shuffle": ([8, 3, 3], ["pixel_shuffle: {upscale_factor: 2}"], dict(shape=(8 // 4, 6, 6), flops=0)),
    "pixel_unshuffle": ([2, 6, 6], ["pixel_unshuffle: {downscale_factor: 2}"], dict(shape=(2 * 4, 3, 3), flops=0)),
    "reshape": ([4, 5, 5], ["view: {shape: [-1, 25]}"], dict(shape=(4, 25), flops=0)),
    "permute": ([4, 5, 6], ["permute: {dims: [0, 2, 3, 1]}"], dict(shape=(5, 6, 4), flops=0)),
    "transpose": ([4, 5, 6], ["transpose: {dim0: 1, dim1: 3}"], dict(shape=(6, 5, 4), flops=0)),
    "unflatten": ([12, 5], ["unflatten: {dim: 1, unflattened_size: [3, 4]}"], dict(shape=(3, 4, 5), flops=0)),
    "narrow": ([4, 5, 5], ["narrow: {dim: 2, start: 1, length: 3}"], dict(shape=(4, 3, 5), flops=0)),
    "select": ([4, 5, 5], ["index: {dim: 1, index: 0}"], dict(shape=(5, 5), flops=0)),
    "expand": ([1, 5], ["expand: {sizes: [3, -1]}"], dict(shape=(3, 5), flops=0)),
    "roll": ([4, 5, 5], ["roll: {shifts: 1, dims: 2}"], dict(shape=(4, 5, 5), flops=0)),
    "gather": ([169, 3], ["gather: {index_shape: [49, 49]}"], dict(shape=(49, 49, 3), flops=0)),
    # reductions: mean n per output, sum and amax n - 1
    "mean": ([4, 5, 5], ["mean: {dim: [2, 3]}"], dict(shape=(4,), flops=4 * 25)),
    "sum": ([4, 5, 5], ["sum: {dim: 1, keepdim: true}"], dict(shape=(1, 5, 5), flops=25 * (4 - 1))),
    "amax": ([4, 5, 5], ["amax: {dim: -1}"], dict(shape=(4, 5), flops=20 * (5 - 1))),
    # matrix products: n*k*m per product
    "matmul": ([3, 4, 5], ["identity:\n    id: a", "transpose: {dim0: 2, dim1: 3}\n    id: b", "matmul: {inputs: [a, b]}"],
               dict(shape=(3, 4, 4), macs=3 * 4 * 5 * 4, flops=2 * (3 * 4 * 5 * 4))),
    # attention on (L, E) = (10, 12), 3 heads: projections 4*L*E*E, q·kᵀ and attn·v L*L*E each
    "multihead_attention": ([10, 12], ["multihead_attention: {embed_dim: 12, num_heads: 3}"],
                            dict(shape=(10, 12), params=4 * 12 * 12 + 4 * 12, macs=4 * 10 * 12 * 12 + 2 * 10 * 10 * 12,
                                 flops=2 * (4 * 10 * 12 * 12 + 2 * 10 * 10 * 12) + 4 * 10 * 12 + 3 * 10 * 10 + 3 * 10 * (3 * 10 - 1))),
    "scaled_dot_product_attention": ([2, 5, 8], ["identity:\n    id: q", "sdpa: {inputs: [q, q, q]}"],
                                     dict(shape=(2, 5, 8), macs=2 * 5 * 5 * (8 + 8), flops=2 * (2 * 5 * 5 * 16) + 10 * 5 + 10 * (3 * 5 - 1))),
    "parameter": ([5, 8], ["parameter: {shape: [1, 8]}"], dict(shape=(1, 8), params=8, flops=0)),
}


def spec_of(shape: list, items: list[str]) -> str:
    layers = "".join(f"  - {item}\n" for item in items)
    return f"name: golden\ninput: {shape}\nlayers:\n{layers}"


@pytest.mark.parametrize("kind", sorted(GOLDEN))
def test_golden(kind):
    shape, items, expected = GOLDEN[kind]
    report = analyze_text(spec_of(shape, items))
    row = next(r for r in reversed(report.rows) if r.kind == kind) if any(r.kind == kind for r in report.rows) else report.rows[-1]
    got = {"shape": tuple(row.output_shape), "more": tuple(row.output_shapes[1:]), "params": row.params, "buffers": row.buffers, "macs": row.macs, "flops": row.flops}
    want = {"params": 0, "buffers": 0, "macs": 0, **expected}
    assert {k: got[k] for k in want} == want
