"""Sliding-window arithmetic shared by convolution and pooling: padding and output sizes."""

from __future__ import annotations

from typing import Any, Callable, Literal, Union

from pydantic import StrictInt

from convcalc.arith.dims import Dim, Lazy, ceil_div, dmax, floor_div, is_int
from convcalc.kinds._base import LayerError, as_tuple

__all__ = [
    "AXIS_NAMES",
    "Padding",
    "axis_names",
    "out_size",
    "product_text",
    "resolve_padding",
    "transposed_out_size",
    "window_reach",
    "window_refielder",
]

Padding = Union[StrictInt, Literal["same", "valid"], list[Union[StrictInt, list[StrictInt]]]]

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_names(rank: int) -> tuple[str, ...]:
    return AXIS_NAMES.get(rank, tuple(f"S{i}" for i in range(rank)))


def resolve_padding(padding: Padding, spatial: tuple[Dim, ...], kernel: tuple, stride: tuple, dilation: tuple, allow_negative: bool = False) -> tuple[tuple[Dim, Dim], ...]:
    """Return ``(before, after)`` per spatial axis.

    ``same`` follows TensorFlow / Keras: ``out = ceil(in / s)``, total padding
    ``max((out - 1) * s + d * (k - 1) + 1 - in, 0)``, split with the extra pixel after.
    ``allow_negative``: a negative size crops (``F.pad``'s rule, for ``zero_pad``).
    """
    rank = len(spatial)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        pads = []
        for size, k, s, d in zip(spatial, kernel, stride, dilation):
            total = (ceil_div(size, s) - 1) * s + d * (k - 1) + 1 - size
            if d * (k - 1) + 1 < s or is_int(total):  # (ceil(n/s) - 1)*s >= n - s: never negative otherwise
                total = dmax(total, 0)
            before = floor_div(total, 2)
            pads.append((before, total - before))
        return tuple(pads)
    if isinstance(padding, int):
        if padding < 0 and not allow_negative:
            raise LayerError("arg-negative", f"padding must be >= 0, got {padding}", "padding")
        return ((padding, padding),) * rank
    values = as_tuple(padding, rank, "padding")
    pads = []
    for i, v in enumerate(values):
        pair = (v, v) if isinstance(v, int) else tuple(v)
        if len(pair) != 2:
            raise LayerError("arg-padding", f"padding[{i}] must be an int or a [before, after] pair", ("padding", i))
        if (pair[0] < 0 or pair[1] < 0) and not allow_negative:
            raise LayerError("arg-negative", f"padding[{i}] must be >= 0, got {list(pair)}", ("padding", i))
        pads.append(pair)
    return tuple(pads)


def product_text(values) -> str:
    """``28*28``; a symbolic factor in parentheses: ``(H - 4)*(W - 4)``."""
    return "*".join(str(v) if is_int(v) or str(v).isidentifier() else f"({v})" for v in values)


def _pad_text(before: Dim, after: Dim) -> str:
    if before == after:
        return f"2*{before}"
    return f"{before} + {after}"


def out_size(size: Dim, kernel: int, stride: int, dilation: int, pad: tuple[Dim, Dim], ceil_mode: bool = False, same: bool = False) -> tuple[Dim, str | Lazy]:
    """PyTorch's output size along one axis, and the formula with the numbers substituted.

    ``floor((in + p_before + p_after - d*(k-1) - 1) / s) + 1``; with ``ceil_mode`` the division
    rounds up, but the last window may not start in the right padding (PyTorch's rule). With
    ``same`` (the padding from ``resolve_padding``) that is ``ceil(in / s)`` by construction, the
    form a symbolic size keeps: the padding's own ``max(..., 0)`` does not enter the next layer.
    """
    before, after = pad
    numer = size + before + after - dilation * (kernel - 1) - 1
    if not (is_int(size) and is_int(before) and is_int(after)):  # symbolic: printed when read
        if same:
            out = ceil_div(size, stride)
        elif ceil_mode:
            out = ceil_div(size + window_reach(kernel, stride, dilation, pad, True), stride)
        else:
            out = floor_div(numer, stride) + 1
        rounding = "ceil" if ceil_mode else "floor"

        def text() -> str:
            formula = f"{rounding}(({size} + {_pad_text(before, after)} - {dilation}*({kernel}-1) - 1) / {stride}) + 1"
            return f"{formula} = ceil({size} / {stride}) = {out}" if same else f"{formula} = {out}"

        return out, Lazy(text)
    text = f"({size} + {_pad_text(before, after)} - {dilation}*({kernel}-1) - 1) / {stride}"
    if not ceil_mode:
        out = floor_div(numer, stride) + 1
        return out, f"floor({text}) + 1 = {out}"
    out = ceil_div(numer, stride) + 1
    if (out - 1) * stride >= size + before:
        out -= 1
        return out, f"ceil({text}) + 1 - 1 = {out} (the last window would start in the padding)"
    return out, f"ceil({text}) + 1 = {out}"


def window_reach(kernel: int, stride: int, dilation: int, pad: tuple[int, int], ceil_mode: bool = False) -> int:
    """The X with ``out == ceil((in + X) / s)`` for every input size: the form symbolic sizes take.

    Floor mode: ``floor((in + b + a - d*(k-1) - 1) / s) + 1``, so ``X = b + a - d*(k-1)``. Ceil mode
    (PyTorch): ``o1 = ceil((in + b + a - d*(k-1) - 1) / s) + 1``, minus one when the last window
    would start in the right padding, that is ``min(o1, ceil((in + b) / s))``; the two differ by
    ``ceil((u + m) / s) - ceil(u / s)`` with ``m = a + s - d*(k-1) - 1``, which is >= 0 when
    ``m > 0`` and <= 0 otherwise, so the min is decided: ``X = b + min(m, 0)``.
    """
    before, after = pad
    if not ceil_mode:
        return before + after - dilation * (kernel - 1)
    return before + min(after + stride - dilation * (kernel - 1) - 1, 0)


def transposed_out_size(size: Dim, kernel: int, stride: int, dilation: int, padding: int, output_padding: int) -> tuple[Dim, Lazy]:
    """``(in - 1)*s - 2p + d*(k-1) + output_padding + 1`` (PyTorch's ConvTranspose)."""
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    return out, Lazy(lambda: f"({size} - 1)*{stride} - 2*{padding} + {dilation}*({kernel}-1) + {output_padding} + 1 = {out}")


def window_refielder(kernel: tuple, stride: tuple, dilation: tuple, pads: tuple, out_spatial: tuple) -> Callable[[Any, Any], tuple[Any, Any]]:
    """The ``refield`` of a sliding window (a convolution, a pooling) on inputs of one shape, its
    window per axis worked out once (``LayerKind.refielder``): each axis of the field goes
    through its window; a tensor without one keeps it."""
    windows = tuple(zip(kernel, stride, dilation, [before for before, _ in pads], out_spatial))
    square = len(windows) == 2 and windows[0] == windows[1]

    def refield(rf: Any, is_global: Any) -> tuple[Any, Any]:
        if not rf:
            return rf, is_global
        if square and len(rf) == 2 and rf[0] == rf[1]:  # a square field through a square window: one axis, twice
            axis = rf[0].through(*windows[0])
            return (axis, axis), is_global
        return tuple([axis.through(k, s, d, before, out) for axis, (k, s, d, before, out) in zip(rf, windows)]), is_global

    return refield
