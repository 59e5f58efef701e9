"""Layers that move or copy values without learning: padding, cropping, upsampling, dropout."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, StrictFloat, StrictInt, model_validator

from convcalc.arith._exact import off_centre_notes
from convcalc.conventions import UPSAMPLE_FLOPS
from convcalc.arith.dims import floor_div, is_int, prod
from convcalc.kinds._base import (
    Bool,
    LayerError,
    LayerKind,
    PosInt,
    Result,
    RFAxis,
    Tensor,
    as_tuple,
    format_shape,
    need_positive,
)
from convcalc.kinds._rf import upsample_rf
from convcalc.kinds._window import Padding, axis_names, resolve_padding

__all__ = ["CenterCrop", "Dropout", "Identity", "Upsample", "ZeroPad", "center_crop"]

Number = Union[StrictInt, Annotated[StrictFloat, Field(allow_inf_nan=False)]]  # never NaN or infinite


class Dropout(LayerKind):
    kind: ClassVar[str] = "dropout"
    aliases: ClassVar[tuple[str, ...]] = ("dropout2d",)
    summary: ClassVar[str] = "dropout: nothing at inference (nn.Dropout)"
    p: Number = 0.5

    def infer(self, x: Tensor) -> Result:
        if not 0 <= self.p <= 1:
            raise LayerError("arg-range", f"dropout probability p must be in [0, 1], got {self.p}", "p")
        return Result(shape=x.shape)


class Identity(LayerKind):
    kind: ClassVar[str] = "identity"
    summary: ClassVar[str] = "passes its input through (nn.Identity)"

    def infer(self, x: Tensor) -> Result:
        return Result(shape=x.shape)


class ZeroPad(LayerKind):
    """Zero padding; ``padding`` as for convolution (int, per axis, or [before, after] per axis).
    A negative size crops, as in ``F.pad``: PyTorch first cuts the negative sides off (what is
    left must not be negative), then pads the others."""

    kind: ClassVar[str] = "zero_pad"
    summary: ClassVar[str] = "zero padding of the spatial axes, negative sizes crop (nn.ZeroPad2d)"
    padding: Padding

    def infer(self, x: Tensor) -> Result:
        if self.padding in ("same", "valid"):
            raise LayerError("arg-padding", "zero_pad needs explicit sizes, not 'same' or 'valid'", "padding")
        rank = len(x.spatial)
        pads = resolve_padding(self.padding, x.spatial, (1,) * rank, (1,) * rank, (1,) * rank, allow_negative=True)
        names = axis_names(rank)
        for name, size, (b, a) in zip(names, x.spatial, pads):
            cut = min(b, 0) + min(a, 0)
            if cut:
                need_positive(size + cut + 1, f"zero_pad crops {-cut} along {name}, more than {name}_in = {size} (PyTorch cuts before it pads)", "padding", "shape-crop")
            need_positive(size + b + a, f"zero_pad leaves nothing along {name}: {name}_out = {size} + {b} + {a} = {size + b + a}", "padding", "shape-crop")
        spatial = tuple(size + b + a for size, (b, a) in zip(x.spatial, pads))
        rf = tuple(axis.through(1, 1, 1, b, n) for axis, (b, _), n in zip(x.rf, pads, spatial)) if x.rf else None
        return Result(shape=(x.channels, *spatial), rf=rf, extra={"padding": [list(p) for p in pads]})


def center_crop(x: Tensor, target: tuple) -> tuple[tuple, tuple[RFAxis, ...] | None, list[list]]:
    """Crop the spatial axes to ``target``, centred; an odd difference leaves the extra row at the end."""
    spans, rf = [], []
    for i, (size, want) in enumerate(zip(x.spatial, target)):
        need_positive(size - want + 1, f"cannot crop {format_shape(x.shape)} to {list(target)}: it is smaller", "size", "shape-crop")
        before = floor_div(size - want, 2)
        spans.append([before, before + want])
        if x.rf:
            rf.append(x.rf[i].shifted(before, want))
    return (x.channels, *target), (tuple(rf) if x.rf else None), spans


class CenterCrop(LayerKind):
    kind: ClassVar[str] = "center_crop"
    summary: ClassVar[str] = "centre crop of the spatial axes to a size (U-Net's skip crop)"
    size: Union[PosInt, list[PosInt]]

    def infer(self, x: Tensor) -> Result:
        target = as_tuple(self.size, len(x.spatial), "size")
        shape, rf, spans = center_crop(x, target)
        notes = (f"crop {list(x.spatial)} -> {list(target)}", *off_centre_notes(x.spatial, target, axis_names(len(target))))
        return Result(shape=shape, rf=rf, extra={"crop": spans}, notes=notes)


def _exact_factor(value: Number) -> Fraction:
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class Upsample(LayerKind):
    """``nn.Upsample``: ``size``, or ``scale_factor`` with ``out = floor(in * scale)`` (PyTorch)."""

    kind: ClassVar[str] = "upsample"
    summary: ClassVar[str] = "nearest / (bi|tri)linear / bicubic upsampling (nn.Upsample)"
    scale_factor: Optional[Union[Number, list[Number]]] = None
    size: Optional[Union[PosInt, list[PosInt]]] = None
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = "nearest"
    align_corners: Optional[Bool] = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.scale_factor is None) == (self.size is None):
            raise ValueError("give exactly one of scale_factor and size")
        return self

    def infer(self, x: Tensor) -> Result:
        if self.align_corners is not None and self.mode == "nearest":
            raise LayerError("arg-align-corners", "align_corners is for the interpolating modes (linear, bilinear, bicubic, trilinear); PyTorch refuses it with 'nearest'", "align_corners")
        rank = len(x.spatial)
        needed = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(self.mode)
        if needed is not None and needed != rank:
            raise LayerError("shape-rank", f"mode {self.mode!r} needs {needed} spatial axes, the input has {rank}", "mode")
        if self.size is not None:
            spatial = as_tuple(self.size, rank, "size")
            scales = (None,) * rank
        else:
            scales = as_tuple(self.scale_factor, rank, "scale_factor")
            factors = [_exact_factor(f) for f in scales]
            if any(f <= 0 for f in factors):
                raise LayerError("arg-range", "scale_factor must be positive", "scale_factor")
            spatial = tuple(_scaled_size(size, scale, f) for size, scale, f in zip(x.spatial, scales, factors))
        for name, size in zip(axis_names(rank), spatial):
            need_positive(size, f"upsampled size along {name} below 1", "scale_factor")
        rf = tuple(upsample_rf(a, self.mode, n, out, f, bool(self.align_corners)) for a, n, out, f in zip(x.rf, x.spatial, spatial, scales)) if x.rf else None
        return Result(shape=(x.channels, *spatial), flops=UPSAMPLE_FLOPS[self.mode] * x.channels * prod(spatial), rf=rf)


def _scaled_size(size, scale: Number, exact: Fraction):
    """``floor(in * scale)``. PyTorch multiplies in double precision, so a float scale follows
    it there: 100 * 0.29 is 28.999999999999996 and the output is 28, not 29. A symbolic size
    stays exact."""
    if isinstance(scale, float) and is_int(size):
        return math.floor(size * scale)  # an int size: the float product is PyTorch's own
    return floor_div(size * exact.numerator, exact.denominator)

