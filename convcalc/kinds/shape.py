"""Layers that move or copy values without learning: padding, cropping, upsampling, dropout."""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, StrictFloat, StrictInt, model_validator

from convcalc.arith._exact import off_centre_notes
from convcalc.arith.dims import dmin, floor_div, is_int, prod
from convcalc.conventions import UPSAMPLE_FLOPS
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import (
    Bool,
    LayerError,
    LayerKind,
    PosInt,
    Result,
    RFAxis,
    Tensor,
    Torch,
    as_tuple,
    format_shape,
    need_positive,
    register_helper,
)
from convcalc.kinds._rf_upsample import upsample_rf
from convcalc.kinds._window import Padding, axis_names, resolve_padding

__all__ = ["CenterCrop", "Dropout", "Identity", "Upsample", "ZeroPad", "center_crop"]

Number = Union[StrictInt, Annotated[StrictFloat, Field(allow_inf_nan=False)]]  # never NaN or infinite


class Dropout(LayerKind):
    compat: ClassVar[dict] = peers.NOTHING
    kind: ClassVar[str] = "dropout"
    aliases: ClassVar[tuple[str, ...]] = ("dropout2d",)
    summary: ClassVar[str] = "dropout: nothing at inference (nn.Dropout)"
    torch_only: ClassVar[tuple[str, ...]] = ("inplace", "device", "dtype")

    def torch_function(self, io) -> str:
        return f"F.dropout({{0}}{''.join(', ' + a for a in io.kw('p'))}, training=self.training)"
    p: Number = 0.5

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        if not 0 <= self.p <= 1:
            raise LayerError("arg-range", f"dropout probability p must be in [0, 1], got {self.p}", "p")
        return Result(shape=x.shape)

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.{'Dropout2d' if io.written == 'dropout2d' else 'Dropout'}({', '.join(io.kw('p'))})")


class Identity(LayerKind):
    compat: ClassVar[dict] = peers.NOTHING
    kind: ClassVar[str] = "identity"
    summary: ClassVar[str] = "passes its input through (nn.Identity)"
    functional: ClassVar[str] = "{0}"

    def infer(self, x: Tensor) -> Result:
        return Result(shape=x.shape)

    def torch(self, io) -> Torch:
        return Torch(module="nn.Identity()")


class ZeroPad(LayerKind):
    """Zero padding; ``padding`` as for convolution (int, per axis, or [before, after] per axis).
    A negative size crops, as in ``F.pad``: PyTorch first cuts the negative sides off (what is
    left must not be negative), then pads the others."""
    compat: ClassVar[dict] = peers.NOTHING
    short: ClassVar[str] = "pad"

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

    def torch(self, io) -> Torch:
        if io.rank == 0:
            return Torch(module="nn.Identity()")  # no spatial axis to pad: convcalc passes the tensor through
        if not 1 <= io.rank <= 3:
            raise LayerError("export-unsupported", f"zero_pad on a tensor with {io.rank} spatial axes")
        if isinstance(self.padding, int):
            return Torch(module=f"nn.ZeroPad{io.rank}d({io.arg('padding')})")
        pads = as_tuple(self.padding, io.rank, "padding")
        pairs = [tuple(p) if isinstance(p, list) else (p, p) for p in pads]
        flat: list = []
        for before, after in reversed(pairs):  # F.pad order: the last axis first
            flat += [before, after]
        return Torch(module=f"nn.ZeroPad{io.rank}d({io.literal(tuple(flat))})")


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
    """Centre crop of the spatial axes to ``size``; without a size, to the smallest spatial size
    among the tensors it is given as references (a ``concat`` with ``crop: center`` crops each
    larger input so: U-Net's skips)."""
    compat: ClassVar[dict] = peers.NOTHING
    short: ClassVar[str] = "crop"

    kind: ClassVar[str] = "center_crop"
    summary: ClassVar[str] = "centre crop of the spatial axes to a size (U-Net's skip crop)"
    size: Optional[Union[PosInt, list[PosInt]]] = None

    def infer(self, x: Tensor) -> Result:
        if self.size is None:
            raise LayerError("spec-missing-arg", "center_crop needs `size`", "size")
        return self._crop(x, as_tuple(self.size, len(x.spatial), "size"))

    def infer_refs(self, x: Tensor, refs: list[Tensor]) -> Result:
        """Crop to the smallest spatial size of ``x`` and the references, axis by axis."""
        if self.size is not None:
            return self.infer(x)
        target = tuple(functools.reduce(dmin, sizes) for sizes in zip(x.spatial, *(r.spatial for r in refs)))
        return self._crop(x, target)

    def torch(self, io) -> Torch:
        if self.size is None:  # a merge's crop, to the size of the other inputs
            return Torch(function="crop_like({0}, {refs})", helpers=("crop_like",))
        return Torch(module=f"CenterCrop({io.literal(as_tuple(self.size, io.rank, 'size'))})", helpers=("CenterCrop",))

    def _crop(self, x: Tensor, target: tuple) -> Result:
        shape, rf, spans = center_crop(x, target)
        notes = (f"crop {list(x.spatial)} -> {list(target)}", *off_centre_notes(x.spatial, target, axis_names(len(target))))
        return Result(shape=shape, rf=rf, extra={"size": list(target), "crop": spans}, notes=notes)


def _exact_factor(value: Number) -> Fraction:
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class Upsample(LayerKind):
    """``nn.Upsample``: ``size``, or ``scale_factor`` with ``out = floor(in * scale)`` (PyTorch)."""
    compat: ClassVar[dict] = {"fvcore": (peers.FV_UPSAMPLE,), "ptflops": (peers.PT_UPSAMPLE, peers.PT_UPSAMPLE_TWICE, peers.PT_UPSAMPLE_FUNCTION), "torchinfo": ()}

    kind: ClassVar[str] = "upsample"
    summary: ClassVar[str] = "nearest / (bi|tri)linear / bicubic upsampling (nn.Upsample)"
    scale_factor: Optional[Union[Number, list[Number]]] = None
    size: Optional[Union[PosInt, list[PosInt]]] = None
    size_of: Optional[str] = None  # a tensor id, or `input` (the network's): its spatial size, at any input size
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = "nearest"
    align_corners: Optional[Bool] = None

    @model_validator(mode="after")
    def _one_of(self):
        if sum(v is not None for v in (self.scale_factor, self.size, self.size_of)) != 1:
            raise ValueError("give exactly one of scale_factor, size and size_of")
        return self

    def infer_refs(self, x: Tensor, refs: list[Tensor]) -> Result:
        """``size_of``: to the spatial size of the referenced tensor (FCN's and DeepLab's heads)."""
        target = refs[0].spatial
        if len(target) != len(x.spatial):
            raise LayerError("shape-rank", f"size_of names a tensor with {len(target)} spatial axes, the input has {len(x.spatial)}", "size_of")
        return self._resize(x, tuple(target), (None,) * len(target))

    def infer(self, x: Tensor) -> Result:
        if self.align_corners is not None and self.mode == "nearest":
            raise LayerError("arg-align-corners", "align_corners is for the interpolating modes (linear, bilinear, bicubic, trilinear); PyTorch refuses it with 'nearest'", "align_corners")
        rank = len(x.spatial)
        needed = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(self.mode)
        if needed is not None and needed != rank:
            raise LayerError("shape-rank", f"mode {self.mode!r} needs {needed} spatial axes, the input has {rank}", "mode")
        if self.size_of is not None:
            raise LayerError("spec-missing-arg", "size_of needs the tensor it names", "size_of")
        if self.size is not None:
            spatial = as_tuple(self.size, rank, "size")
            scales = (None,) * rank
        else:
            scales = as_tuple(self.scale_factor, rank, "scale_factor")
            factors = [_exact_factor(f) for f in scales]
            if any(f <= 0 for f in factors):
                raise LayerError("arg-range", "scale_factor must be positive", "scale_factor")
            spatial = tuple(_scaled_size(size, scale, f) for size, scale, f in zip(x.spatial, scales, factors))
        return self._resize(x, spatial, scales)

    def _resize(self, x: Tensor, spatial: tuple, scales: tuple) -> Result:
        """To ``spatial``; ``scales`` the scale factors as given (None per axis for a size)."""
        rank = len(x.spatial)
        for name, size in zip(axis_names(rank), spatial):
            need_positive(size, f"upsampled size along {name} below 1", "scale_factor")
        rf = tuple(upsample_rf(a, self.mode, n, out, f, bool(self.align_corners), rank) for a, n, out, f in zip(x.rf, x.spatial, spatial, scales)) if x.rf else None
        return Result(shape=(x.channels, *spatial), flops=UPSAMPLE_FLOPS[self.mode] * x.channels * prod(spatial), rf=rf)

    def torch(self, io) -> Torch:
        if self.size_of is not None:
            extra = "".join(f", {kw}" for kw in io.kw("mode", "align_corners"))
            return Torch(function=f"F.interpolate({{0}}, size={{ref0}}.shape[2:]{extra})", helpers=("F",))
        return Torch(module=f"nn.Upsample({', '.join(io.kw('size', 'scale_factor', 'mode', 'align_corners'))})")

    def torch_function(self, io) -> str:
        if self.size_of is not None:
            return self.torch(io).function
        return f"F.interpolate({{0}}{''.join(', ' + a for a in io.kw('size', 'scale_factor', 'mode', 'align_corners'))})"


register_helper("center_crop", '''
def center_crop(x, size):
    """Crop the trailing spatial axes to size, centred; an odd difference leaves the extra row at the end."""
    for axis, want in enumerate(size, start=x.dim() - len(size)):
        x = x.narrow(axis, (x.shape[axis] - want) // 2, want)
    return x
''')
register_helper("CenterCrop", '''
class CenterCrop(nn.Module):
    """Centre crop of the spatial axes to a fixed size."""

    def __init__(self, size):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        return center_crop(x, self.size)
''', ("center_crop",))
register_helper("crop_like", '''
def crop_like(x, others):
    """Centre-crop x to the smallest spatial size among x and others (U-Net's crop-and-concat)."""
    size = [min(sizes) for sizes in zip(*(t.shape[2:] for t in (x, *others)))]
    return center_crop(x, size)
''', ("center_crop",))


def _scaled_size(size, scale: Number, exact: Fraction):
    """``floor(in * scale)``. PyTorch multiplies in double precision, so a float scale follows
    it there: 100 * 0.29 is 28.999999999999996 and the output is 28, not 29. A symbolic size
    stays exact."""
    if isinstance(scale, float) and is_int(size):
        return math.floor(size * scale)  # an int size: the float product is PyTorch's own
    return floor_div(size * exact.numerator, exact.denominator)

