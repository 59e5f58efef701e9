"""What ``convcalc apply`` computes, as frozen data: a convolution and/or a pooling of a small
input, the elements worked out, and optionally im2col and the backward pass (rules in
:mod:`convcalc.teach.handcalc` and :mod:`convcalc.teach.backward`). Rendering is in
:mod:`convcalc.render.apply`.

Worked elements (``at``): one element of the final result (the pooled output when there is a
pooling, else the convolution's output), ``(i, j)`` or ``(channel, i, j)`` for several channels;
the first by default. With a convolution before the pooling, the convolution's elements worked out
are those in that pooled element's window. ``"all"`` works out every element of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from convcalc.errors import UsageError
from convcalc.teach.backward import ConvGradients, PoolGradients, conv_gradients, pool_gradients
from convcalc.teach.handcalc import (
    Array,
    ConvSetup,
    Im2col,
    Number,
    Padding,
    PaddingMode,
    Pair,
    PoolMode,
    PoolSetup,
    flip_kernel,
    pad,
    padding_sides,
    setup_conv,
    setup_pool,
)

__all__ = [
    "ALL",
    "CONVOLUTION",
    "CROSS_CORRELATION",
    "Applied",
    "At",
    "Backward",
    "ConvSettings",
    "ConvStep",
    "PoolSettings",
    "PoolStep",
    "compute",
    "parse_at",
]

CROSS_CORRELATION = "cross-correlation"
CONVOLUTION = "convolution"
ALL = "all"
At = Union[tuple[int, ...], Literal["all"], None]


@dataclass(frozen=True)
class ConvSettings:
    """Keyword arguments of ``setup_conv``, defaults filled in."""

    stride: int | Pair = 1
    padding: Padding = 0
    padding_mode: PaddingMode = PaddingMode.ZEROS
    dilation: int | Pair = 1
    bias: Number | tuple[Number, ...] = 0
    groups: int = 1
    flip: bool = False


@dataclass(frozen=True)
class PoolSettings:
    """Keyword arguments of ``setup_pool``; the stride defaults to the window."""

    mode: PoolMode
    kernel_size: int | Pair = 2
    stride: int | Pair | None = None
    padding: int | Pair = 0


@dataclass(frozen=True)
class ConvStep:
    """The convolution: its settings, kernel (and the flipped one applied, for a true
    convolution), padded input (if padded), output, worked elements and im2col (if asked)."""

    setup: ConvSetup
    settings: ConvSettings
    kernel: Array
    flipped: Array | None
    padded: Array | None
    output: Array
    worked: tuple[str, ...]
    im2col: tuple[Im2col, ...] | None


@dataclass(frozen=True)
class PoolStep:
    """The pooling of the input, or of the convolution's output."""

    setup: PoolSetup
    settings: PoolSettings
    pooled: Array
    worked: tuple[str, ...]


@dataclass(frozen=True)
class Backward:
    """The gradients, from the final result back to the input: the pooling's first (if any)."""

    pool: PoolGradients | None
    conv: ConvGradients | None


@dataclass(frozen=True)
class Applied:
    """What the command computed, in order. ``convention`` names what the kernel did
    (cross-correlation or convolution); None without a kernel."""

    input: Array
    convention: str | None
    conv: ConvStep | None
    pool: PoolStep | None
    backward: Backward | None


def parse_at(text: str) -> At:
    """``"all"``, ``"i,j"`` or ``"c,i,j"``."""
    stripped = text.strip().lower()
    if stripped == ALL:
        return ALL
    parts = [part.strip() for part in stripped.split(",")]
    if len(parts) not in (2, 3) or not all(part.isdigit() and part.isascii() and len(part) < 10 for part in parts):
        raise UsageError("apply-bad-option", f"--at is 'i,j', 'channel,i,j' or 'all', got {text!r}")
    return tuple(int(part) for part in parts)


def _every(shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    channels, rows, cols = shape
    return [(c, i, j) for c in range(channels) for i in range(rows) for j in range(cols)]


def _conv_elements(setup: ConvSetup, at: At, pool: PoolSetup | None, pooled: tuple[int, int, int] | None) -> list:
    """The (filter, i, j) of the convolution's elements to work out."""
    if at == ALL:
        return _every((len(setup.bank), *setup.out_shape))
    if pool is None or pooled is None:
        return [setup.out_index(at or ((0, 0) if setup.single else (0, 0, 0)))]
    c, i, j = pooled
    return [(c, *cell) for cell in pool.cells(c, i, j) if cell is not None]


def compute(
    matrix: Array,
    conv: tuple[Array, ConvSettings] | None,
    pooling: PoolSettings | None,
    at: At = None,
    im2col: bool = False,
    backward: bool = False,
    grad: Array | None = None,
) -> Applied:
    """Run the convolution (given a kernel and its settings), then the pooling (if asked for);
    work out the elements ``at`` names, and im2col and the backward pass if asked for."""
    if conv is None and pooling is None:
        raise UsageError("apply-missing-option", "give --kernel, --pool or both (the kernel runs first)")
    if conv is None and im2col:
        raise UsageError("apply-bad-option", "--im2col: only used with --kernel")
    conv_setup = pool_setup = None
    if conv is not None:
        weights, settings = conv
        conv_setup = setup_conv(
            matrix, weights, settings.stride, settings.padding, settings.padding_mode.value, settings.dilation,
            settings.bias, settings.groups, settings.flip,
        )
    if pooling is not None:
        source = matrix if conv_setup is None else conv_setup.output()
        pool_setup = setup_pool(source, pooling.kernel_size, pooling.stride, pooling.padding, pooling.mode.value)

    pool_step = pooled_index = None
    if pool_setup is not None and pooling is not None:
        if at == ALL:
            elements = _every((len(pool_setup.channels), *pool_setup.out_shape))
        else:
            elements = [pool_setup.out_index(at or ((0, 0, 0) if pool_setup.stacked else (0, 0)))]
            pooled_index = elements[0]
        pool_step = PoolStep(pool_setup, pooling, pool_setup.output(), tuple(pool_setup.explain(*e) for e in elements))

    conv_step = None
    if conv_setup is not None and conv is not None:
        weights, settings = conv
        padded = pad(matrix, settings.padding, settings.padding_mode.value) if any(padding_sides(settings.padding)) else None
        elements = _conv_elements(conv_setup, at, pool_setup, pooled_index)
        conv_step = ConvStep(
            conv_setup, settings, weights, flip_kernel(weights) if settings.flip else None, padded, conv_setup.output(),
            tuple(conv_setup.explain(*e) for e in elements), conv_setup.im2col() if im2col else None,
        )

    gradients = None
    if backward:
        pool_grads = None if pool_setup is None else pool_gradients(pool_setup, grad)
        upstream = grad if pool_grads is None else pool_grads.grad_input
        gradients = Backward(pool_grads, None if conv_setup is None else conv_gradients(conv_setup, upstream))
    elif grad is not None:
        raise UsageError("apply-bad-option", "--grad: only used with --backward")
    convention = None if conv is None else CONVOLUTION if conv[1].flip else CROSS_CORRELATION
    return Applied(matrix, convention, conv_step, pool_step, gradients)
