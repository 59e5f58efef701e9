"""How convcalc counts. Every number it prints follows these rules, and only these.

All counts are per sample (batch 1) and exact Python ints.

params
    Trainable parameters, exactly PyTorch's ``sum(p.numel() for p in model.parameters())``.
    conv: ``C_out * (C_in / groups) * prod(kernel)`` + ``C_out`` bias.
    transposed conv: ``C_in * (C_out / groups) * prod(kernel)`` + ``C_out`` bias.
    linear: ``in * out`` + ``out`` bias.  batch / layer / group norm: ``2 * C`` when affine.
    layer scale: ``C``.
buffers
    Non-trainable state, shown apart from params: batch norm's running mean and variance
    (``2 * C``; PyTorch's ``num_batches_tracked`` counter is not a weight and is not counted).
MACs
    Multiply-accumulates of convolution and linear layers, bias ignored (the textbooks'
    "number of multiplications"; what papers call FLOPs when they say ResNet-50 costs 4.1 G).
    conv: ``prod(out_spatial) * C_out * (C_in / groups) * prod(kernel)``.
    transposed conv, per INPUT position: ``prod(in_spatial) * C_in * (C_out / groups) * prod(kernel)``.
    linear: ``positions * in * out``. Every other layer has 0 MACs.
FLOPs
    ``2 * MACs`` (one multiply and one add each), plus the rules in ``ELEMENTWISE_FLOPS`` and:
    bias: 1 add per output element of a conv / linear with bias.
    batch norm (inference, statistics frozen): 2 per element (``x * scale + shift``).
    layer / group / instance norm: 5 per element (mean 1, variance 2, normalise 2), + 2 when affine.
    local response norm: ``2 * size + 3`` per element (sum of squares, then scale, power, divide).
    max pool: ``window - 1`` comparisons per output, where ``window`` counts the input elements
    actually inside the window (padding and the part of a ceil_mode window past the input
    excluded; adaptive pooling's variable windows counted one by one).
    min pool likewise; avg pool: ``window`` per output (``window - 1`` adds and one divide).
    global pool: as a pool whose window is the whole spatial extent.
    softmax: ``3n - 1`` per vector of ``n`` (n exps, n - 1 adds, n divides);
    log_softmax: ``3n`` (n exps, n - 1 adds, 1 log, n subtractions).
    add / multiply merge of ``k`` tensors: ``(k - 1)`` per output element; concat, crop: 0.
    upsample: nearest 0; linear 3, bilinear 7, bicubic 31, trilinear 15 per output element
    (the weighted sum of 2, 4, 16 or 8 neighbours).
    layer scale: 1 per element.  flatten, dropout, identity, padding: 0.
activations
    Elements of each layer's output (the textbooks' "activation size"). Memory in bytes is
    ``elements * batch * dtype size``.
receptive field
    Per spatial axis, the exact interval ``[lo, hi]`` of input pixels each output position reads,
    padding counted as input (kinds/_rf.py composes them layer by layer). Reported: ``size``, the
    largest field over the positions; ``jump``, the average distance between neighbouring fields
    (exact, a fraction after transposed convolution or upsampling); the first output's interval,
    its centre ``start`` and ``padding = -lo``. Where every output's field has one size and the
    input's does too, the textbook rule holds: with ``k_eff = d * (k - 1) + 1`` and padding-before
    ``p``, ``r_out = r_in + (k_eff - 1) * j_in``, ``j_out = j_in * s``,
    ``start_out = start_in + ((k_eff - 1) / 2 - p) * j_in``. Merges take the union of the
    branches' fields. Flatten, linear, attention and global pooling see the whole input.
    Normalisation layers pass the field through (their statistics are not counted as read, as
    the textbooks count). A layer that moves, merges or splits the spatial axes (a reshape, a
    permute, a split along one, a roll, a gather, an imported operation convcalc has no kind
    for) leaves the field not known from there on, said with the reason: never a number.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "DTYPE_BYTES",
    "DType",
    "ELEMENTWISE_FLOPS",
    "NORM_AFFINE_FLOPS",
    "NORM_FLOPS",
    "UPSAMPLE_FLOPS",
]

# FLOPs per output element of the element-wise activations: one operation each, whatever it
# costs on real hardware (a transcendental function counts as one), except where the function is
# itself a composition written out here.
ELEMENTWISE_FLOPS: dict[str, int] = {
    "relu": 1,  # max(x, 0)
    "relu6": 2,  # min(max(x, 0), 6)
    "leaky_relu": 2,  # compare, multiply
    "elu": 3,  # compare, exp, multiply-subtract counted as one
    "gelu": 1,
    "silu": 2,  # sigmoid, multiply
    "sigmoid": 1,
    "tanh": 1,
    "hardswish": 4,  # add 3, clamp, multiply, divide by 6
    "hardsigmoid": 3,  # add 3, clamp, divide by 6
    "prelu": 2,  # compare, multiply by the learned slope
    "mish": 3,  # softplus, tanh, multiply
    "selu": 4,  # compare, exp, multiply-subtract, scale
    "celu": 3,  # compare, exp, multiply-subtract
    "softplus": 1,
    "hardtanh": 2,  # min, max
    "log_sigmoid": 1,
    "tanhshrink": 2,  # tanh, subtract
}

NORM_FLOPS = 5  # layer / group norm: mean 1, variance 2, normalise 2 per element
NORM_AFFINE_FLOPS = 2  # and the elementwise affine
UPSAMPLE_FLOPS = {"nearest": 0, "linear": 3, "bilinear": 7, "bicubic": 31, "trilinear": 15}

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


class DType(str, Enum):
    """The element types convcalc sizes memory for (``--dtype``), one member per ``DTYPE_BYTES`` key."""

    float64 = "float64"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"


assert [d.value for d in DType] == list(DTYPE_BYTES)
