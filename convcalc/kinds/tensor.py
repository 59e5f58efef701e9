"""Moving values without computing: split, chunk, reshape, permute, transpose, flatten, unflatten,
narrow, select, expand, roll, channel and pixel shuffles.

Dims are PyTorch's: 0 is the batch (which convcalc's per-sample shapes leave out, so a dim of 0 is
an error), 1 the channels, negative ones count from the end. Shapes (``reshape``'s target,
``unflatten``'s sizes, ``expand``'s sizes) are per sample, as every shape convcalc prints.

None of these costs a FLOP or holds a parameter. The receptive field follows the spatial axes
while they stay where they are, exactly through a narrow (a crop), an expand (a broadcast) and the
pixel shuffles (an integer nearest upsampling, a k = s = r window); a layer that moves, merges or
splits them (a reshape across spatial axes, a permute of them, a split along one, a roll, a
gather) leaves the field not known from there on, said with the reason (``?`` in the tables),
never guessed.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Union

from pydantic import StrictInt

from convcalc.arith.dims import Dim, floor_div, is_int, prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import (
    LayerError,
    LayerKind,
    PosInt,
    Result,
    Tensor,
    Torch,
    dim_meaning,
    format_shape,
    need_positive,
    not_known,
    sample_axis,
)
from convcalc.kinds._rf import repeated_rf

__all__ = [
    "ChannelShuffle",
    "Chunk",
    "Gather",
    "Expand",
    "Flatten",
    "Narrow",
    "Permute",
    "PixelShuffle",
    "PixelUnshuffle",
    "Reshape",
    "Roll",
    "Select",
    "Split",
    "Transpose",
    "Unflatten",
]


def _spatial_kept(x: Tensor, shape: tuple, moved: bool, reason: str) -> Optional[tuple]:
    """The field when the spatial axes stay the last ones, unchanged; else not known."""
    if not moved and len(shape) == len(x.shape) and tuple(shape[1:]) == tuple(x.shape[1:]):
        return None
    return not_known(x, shape, reason)


class _Plumbing(LayerKind):
    compat: ClassVar[dict] = peers.NOTHING  # tensor methods: no module, no hook, no patched function


def _sizes_along(total: Dim, sizes: list[int], name: str, what: str) -> None:
    if is_int(total) and sum(sizes) != total:
        raise LayerError("shape-split", f"{what} {sizes} add up to {sum(sizes)}, the axis has {total}", name)


class Split(_Plumbing):
    """``torch.split(x, split_size_or_sections, dim)``: pieces of one size (the last may be
    smaller), or of the sizes listed; one output each (name them with ``id: [a, b, ...]``)."""

    kind: ClassVar[str] = "split"
    summary: ClassVar[str] = "split a tensor into pieces along a dim, one output each (torch.split)"
    related: ClassVar[tuple[str, ...]] = ("tensor_split", "slice_channels")
    split_size_or_sections: Union[PosInt, list[PosInt]]
    dim: int = 1

    def pieces(self, size: Dim) -> list[Dim]:
        if isinstance(self.split_size_or_sections, list):
            return list(self.split_size_or_sections)
        if not is_int(size):
            raise LayerError("shape-symbolic", "split into pieces of a size needs the axis size as a number", "split_size_or_sections")
        step = self.split_size_or_sections
        return [min(step, size - start) for start in range(0, size, step)]

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        sizes = self.pieces(x.shape[axis])
        _sizes_along(x.shape[axis], sizes, "split_size_or_sections", "the sections")
        shapes = [tuple(s if i == axis else d for i, d in enumerate(x.shape)) for s in sizes]
        rf = None if axis == 0 else not_known(x, shapes[0], f"split along dim {self.dim}: each piece reads another part of the axis")
        return Result(shape=shapes[0], more=tuple(shapes[1:]), rf=rf,
                      formulas=(f"split {format_shape(x.shape)} along dim {self.dim} into {sizes}",))

    def torch(self, io) -> Torch:
        return Torch(function=f"torch.split({{0}}, {io.arg('split_size_or_sections')}, dim={self.dim})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Chunk(_Plumbing):
    """``torch.chunk(x, chunks, dim)``: ``chunks`` pieces of ``ceil(n / chunks)`` (the last smaller)."""

    kind: ClassVar[str] = "chunk"
    summary: ClassVar[str] = "split a tensor into equal chunks along a dim, one output each (torch.chunk)"
    chunks: PosInt
    dim: int = 1

    def size_period(self) -> int | None:
        """Along the channels only: along a spatial axis the number of pieces follows its size."""
        return 1 if self.dim == 1 else None

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        size = x.shape[axis]
        if not is_int(size):
            raise LayerError("shape-symbolic", "chunk needs the axis size as a number", "chunks")
        step = -(-size // self.chunks)
        sizes = [min(step, size - start) for start in range(0, size, step)]
        shapes = [tuple(s if i == axis else d for i, d in enumerate(x.shape)) for s in sizes]
        rf = None if axis == 0 else not_known(x, shapes[0], f"chunk along dim {self.dim}: each piece reads another part of the axis")
        return Result(shape=shapes[0], more=tuple(shapes[1:]), rf=rf,
                      formulas=(f"chunk {format_shape(x.shape)} into {self.chunks} along dim {self.dim}: {sizes}",))

    def torch(self, io) -> Torch:
        return Torch(function=f"torch.chunk({{0}}, {io.arg('chunks')}, dim={self.dim})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class ChannelShuffle(_Plumbing):
    """``nn.ChannelShuffle(groups)`` (ShuffleNet): ``(C, ...)`` viewed as ``(groups, C/groups, ...)``,
    transposed and flattened back: the channels interleaved, nothing computed."""

    kind: ClassVar[str] = "channel_shuffle"
    summary: ClassVar[str] = "interleave the channels of groups (nn.ChannelShuffle, ShuffleNet)"
    related: ClassVar[tuple[str, ...]] = ("shuffle", "channelshuffle")
    functional: ClassVar[str] = "F.channel_shuffle({0}{kw})"  # torchvision's ShuffleNetV2 shuffles in a function, no module
    groups: PosInt

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        if is_int(x.channels) and x.channels % self.groups:
            raise LayerError("arg-groups", f"groups={self.groups} does not divide the {x.channels} channels", "groups")
        return Result(shape=x.shape)

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.ChannelShuffle({io.arg('groups')})")


class _PixelShuffle(_Plumbing):
    factor_name: ClassVar[str]

    def infer(self, x: Tensor) -> Result:
        if len(x.shape) != 3:
            raise LayerError("shape-rank", f"{self.kind} needs a (C, H, W) input, got {format_shape(x.shape)}")
        r = getattr(self, self.factor_name)
        c, h, w = x.shape
        if self.kind == "pixel_shuffle":
            if is_int(c) and c % (r * r):
                raise LayerError("arg-range", f"the {c} channels are not a multiple of {self.factor_name}**2 = {r * r}", self.factor_name)
            shape = (floor_div(c, r * r), h * r, w * r)
        else:
            for name, n in (("H", h), ("W", w)):
                if is_int(n) and n % r:
                    raise LayerError("arg-range", f"{name} = {n} is not a multiple of downscale_factor {r}", self.factor_name)
            shape = (c * r * r, floor_div(h, r), floor_div(w, r))
        if not x.rf:
            return Result(shape=shape, rf=())
        if self.kind == "pixel_shuffle":  # output pixel o is input pixel o // r (of one channel)
            rf = tuple(repeated_rf(a, r, n) for a, n in zip(x.rf, shape[1:]))
        else:  # output pixel o holds inputs o*r .. o*r + r - 1 (one per channel): a window k = s = r
            rf = tuple(a.through(r, r, 1, 0, n) for a, n in zip(x.rf, shape[1:]))
        return Result(shape=shape, rf=rf)

    def torch(self, io) -> Torch:
        name = "PixelShuffle" if self.kind == "pixel_shuffle" else "PixelUnshuffle"
        return Torch(module=f"nn.{name}({io.arg(self.factor_name)})")


class PixelShuffle(_PixelShuffle):
    kind: ClassVar[str] = "pixel_shuffle"
    summary: ClassVar[str] = "(C*r*r, H, W) -> (C, H*r, W*r) (nn.PixelShuffle)"
    factor_name: ClassVar[str] = "upscale_factor"
    upscale_factor: PosInt


class PixelUnshuffle(_PixelShuffle):
    kind: ClassVar[str] = "pixel_unshuffle"
    summary: ClassVar[str] = "(C, H*r, W*r) -> (C*r*r, H, W) (nn.PixelUnshuffle)"
    factor_name: ClassVar[str] = "downscale_factor"
    downscale_factor: PosInt


class Flatten(_Plumbing):
    """``torch.flatten(x, start_dim, end_dim)`` / ``nn.Flatten``: dims ``start_dim..end_dim`` into
    one. PyTorch's dims: ``nn.Flatten()``'s default ``start_dim: 1`` flattens each sample whole."""

    kind: ClassVar[str] = "flatten"
    summary: ClassVar[str] = "flatten dims start_dim..end_dim into one, PyTorch's dims (nn.Flatten)"
    start_dim: int = 1
    end_dim: int = -1

    def size_period(self) -> int | None:
        """Whole samples only: a partial flatten makes a spatial size the product of two."""
        return 1 if (self.start_dim, self.end_dim) == (1, -1) else None

    def infer(self, x: Tensor) -> Result:
        first = sample_axis(self.start_dim, len(x.shape), "start_dim")
        last = sample_axis(self.end_dim, len(x.shape), "end_dim")
        if last < first:
            raise LayerError("arg-range", f"end_dim {self.end_dim} comes before start_dim {self.start_dim} in {format_shape(x.shape)}", "end_dim")
        shape = (*x.shape[:first], prod(x.shape[first : last + 1]), *x.shape[last + 1 :])
        notes = dim_meaning(self, "start_dim")
        if first == 0 and last == len(x.shape) - 1:
            return Result(shape=shape, rf=(), is_global=True, formulas=lambda: (f"features = {'*'.join(str(d) for d in x.shape)} = {shape[0]}",), diagnostics=notes)
        rf = None if first == last else not_known(x, shape, f"flatten merges dims {self.start_dim}..{self.end_dim}: a spatial axis is merged")
        return Result(shape=shape, rf=rf, diagnostics=notes)

    def torch(self, io) -> Torch:
        args = ([str(self.start_dim)] if self.start_dim != 1 or self.end_dim != -1 else []) + ([str(self.end_dim)] if self.end_dim != -1 else [])
        return Torch(module=f"nn.Flatten({', '.join(args)})")

    def torch_function(self, io) -> str:
        return f"torch.flatten({{0}}, {self.start_dim}, {self.end_dim})"

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0]) if io.out_shapes[0][:1] != io.in_shapes[0][:1] else io.c_in


class Unflatten(_Plumbing):
    """``nn.Unflatten(dim, unflattened_size)``: one dim into several (-1 once, for the rest)."""

    kind: ClassVar[str] = "unflatten"
    summary: ClassVar[str] = "split one dim into several sizes (nn.Unflatten)"
    dim: int
    unflattened_size: list[StrictInt]

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        sizes = _fill(self.unflattened_size, x.shape[axis], "unflattened_size")
        shape = (*x.shape[:axis], *sizes, *x.shape[axis + 1 :])
        rf = None if len(sizes) == 1 else not_known(x, shape, f"unflatten splits dim {self.dim}: the spatial axes move")
        return Result(shape=shape, rf=rf)

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.Unflatten({self.dim}, {io.literal(tuple(self.unflattened_size))})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


def _fill(sizes: list[int], total: Dim, name: str) -> list[Dim]:
    """Sizes with one -1 standing for what the others leave of ``total``; their product checked."""
    if sizes.count(-1) > 1:
        raise LayerError("arg-reshape", f"{name} {sizes} has more than one -1", name)
    if any(s < -1 or s == 0 for s in sizes):
        raise LayerError("arg-reshape", f"{name} {sizes}: sizes are positive (or one -1)", name)
    known = prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if is_int(total) and total % known:
            raise LayerError("shape-reshape", f"{name} {sizes}: {total} elements do not divide into parts of {known}", name)
        rest = floor_div(total, known)
        return [rest if s == -1 else s for s in sizes]
    if is_int(total) and known != total:
        raise LayerError("shape-reshape", f"{name} {sizes} holds {known} elements, the input has {total}", name)
    return list(sizes)


class Reshape(_Plumbing):
    """``x.reshape(N, *shape)`` / ``x.view``: ``shape`` per sample, one size may be -1."""

    kind: ClassVar[str] = "reshape"
    aliases: ClassVar[tuple[str, ...]] = ("view",)
    summary: ClassVar[str] = "a new shape for the same elements, per sample, one -1 allowed (Tensor.reshape)"
    shape: list[StrictInt]

    def infer(self, x: Tensor) -> Result:
        sizes = tuple(_fill(self.shape, prod(x.shape), "shape"))
        kept = _spatial_kept(x, sizes, False, "reshape changes the spatial axes")
        return Result(shape=sizes, rf=kept, formulas=(f"{format_shape(x.shape)} -> {format_shape(sizes)}: {prod(x.shape)} elements",))

    def torch(self, io) -> Torch:
        method = "view" if io.written == "view" else "reshape"
        return Torch(function=f"{{0}}.{method}({{0}}.shape[0], {', '.join(str(s) for s in self.shape)})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0]) if io.out_shapes[0] else "1"


class Permute(_Plumbing):
    """``x.permute(dims)``: PyTorch's dims, the batch (0) first and staying first."""

    kind: ClassVar[str] = "permute"
    summary: ClassVar[str] = "reorder the dims (Tensor.permute; dims include the batch, 0, which stays first)"
    dims: list[StrictInt]

    def infer(self, x: Tensor) -> Result:
        if len(self.dims) != len(x.shape) + 1:
            raise LayerError("arg-rank", f"permute needs {len(x.shape) + 1} dims (the batch and {format_shape(x.shape)}), got {len(self.dims)}", "dims")
        order = [d % (len(x.shape) + 1) for d in self.dims]
        if sorted(order) != list(range(len(x.shape) + 1)) or order[0] != 0:
            raise LayerError("arg-permute", f"dims {self.dims} must reorder 0..{len(x.shape)}, the batch (0) first", "dims")
        axes = [d - 1 for d in order[1:]]
        shape = tuple(x.shape[a] for a in axes)
        return Result(shape=shape, rf=None if axes == sorted(axes) else not_known(x, shape, f"permute {self.dims} moves the spatial axes"))

    def torch(self, io) -> Torch:
        return Torch(function=f"{{0}}.permute({', '.join(str(d) for d in self.dims)})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Transpose(_Plumbing):
    """``x.transpose(dim0, dim1)``: two dims swapped (PyTorch's dims)."""

    kind: ClassVar[str] = "transpose"
    summary: ClassVar[str] = "swap two dims (Tensor.transpose)"
    dim0: int
    dim1: int

    def infer(self, x: Tensor) -> Result:
        a, b = sample_axis(self.dim0, len(x.shape), "dim0"), sample_axis(self.dim1, len(x.shape), "dim1")
        shape = list(x.shape)
        shape[a], shape[b] = shape[b], shape[a]
        return Result(shape=tuple(shape), rf=None if a == b else not_known(x, tuple(shape), f"transpose {self.dim0}, {self.dim1} moves the spatial axes"))

    def torch(self, io) -> Torch:
        return Torch(function=f"{{0}}.transpose({self.dim0}, {self.dim1})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Narrow(_Plumbing):
    """``x.narrow(dim, start, length)``, or ``x[..., start:start + length]`` along ``dim``."""

    kind: ClassVar[str] = "narrow"
    aliases: ClassVar[tuple[str, ...]] = ("slice",)
    summary: ClassVar[str] = "a contiguous part of one dim (Tensor.narrow, slicing)"
    dim: int
    start: int
    length: PosInt

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        size = x.shape[axis]
        start = self.start if self.start >= 0 else size + self.start
        need_positive(size - start - self.length + 1, f"narrow {self.start}..{self.start}+{self.length} is outside the {size} of dim {self.dim}", "length", "shape-narrow")
        if is_int(start) and start < 0:
            raise LayerError("shape-narrow", f"start {self.start} is before the first of the {size} of dim {self.dim}", "start")
        shape = tuple(self.length if i == axis else d for i, d in enumerate(x.shape))
        if axis == 0 or not x.rf:
            return Result(shape=shape, rf=None if axis == 0 else ())
        # a crop: output o reads input start + o along the axis
        return Result(shape=shape, rf=tuple(a.shifted(start, self.length) if i == axis - 1 else a for i, a in enumerate(x.rf)))

    def torch(self, io) -> Torch:
        return Torch(function=f"{{0}}.narrow({self.dim}, {self.start}, {self.length})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Select(_Plumbing):
    """``x.select(dim, index)``, ``x[:, 0]``: one index of a dim, the dim removed (ViT's class token)."""

    kind: ClassVar[str] = "select"
    aliases: ClassVar[tuple[str, ...]] = ("index",)
    summary: ClassVar[str] = "one index of a dim, which goes away (Tensor.select, x[:, 0])"
    dim: int
    index: int

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        size = x.shape[axis]
        if is_int(size) and not -size <= self.index < size:
            raise LayerError("shape-index", f"index {self.index} is outside the {size} of dim {self.dim}", "index")
        shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
        return Result(shape=shape, rf=not_known(x, shape, f"select along dim {self.dim} removes an axis: the others move"))

    def torch(self, io) -> Torch:
        return Torch(function=f"{{0}}.select({self.dim}, {self.index})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0]) if io.out_shapes[0] else "1"


class Expand(_Plumbing):
    """``x.expand(N, *sizes)``: size-1 dims repeated (a view: no memory, no work); -1 keeps a size."""

    kind: ClassVar[str] = "expand"
    summary: ClassVar[str] = "repeat size-1 dims as a view (Tensor.expand; sizes per sample, -1 keeps one)"
    sizes: list[StrictInt]

    def infer(self, x: Tensor) -> Result:
        if len(self.sizes) != len(x.shape):
            raise LayerError("arg-rank", f"expand needs {len(x.shape)} sizes for {format_shape(x.shape)}, got {len(self.sizes)}", "sizes")
        shape = []
        for i, (want, have) in enumerate(zip(self.sizes, x.shape)):
            if want == -1:
                shape.append(have)
            elif have == 1 or have == want:
                shape.append(want)
            else:
                raise LayerError("shape-expand", f"dim {i + 1} has size {have}: only size 1 expands (to {want})", "sizes")
        if tuple(shape) == tuple(x.shape) or not x.rf:
            return Result(shape=tuple(shape), rf=None if tuple(shape) == tuple(x.shape) else ())
        # a size-1 spatial axis repeated: every output position reads its one position
        rf = tuple(a.broadcast(n) if have == 1 and n != 1 else a for a, have, n in zip(x.rf, x.shape[1:], shape[1:]))
        return Result(shape=tuple(shape), rf=rf)

    def torch(self, io) -> Torch:
        return Torch(function=f"{{0}}.expand({{0}}.shape[0], {', '.join(str(s) for s in self.sizes)})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Gather(_Plumbing):
    """``x[index]`` along ``dim`` with a fixed index tensor of ``index_shape``: Swin's relative
    position bias, a table of ``(2w - 1)**2`` rows looked up by a ``(w*w, w*w)`` index. Only the
    index's shape is in the spec, not its values: shapes, params and MACs are exact; the exported
    module looks up row 0 everywhere (its values are not Swin's)."""

    kind: ClassVar[str] = "gather"
    aliases: ClassVar[tuple[str, ...]] = ("index_select",)
    summary: ClassVar[str] = "look a dim up with a fixed index tensor of a given shape (x[index], relative-position tables)"
    dim: int = 1
    index_shape: list[PosInt]

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        shape = (*x.shape[:axis], *self.index_shape, *x.shape[axis + 1 :])
        if axis == 0 and len(self.index_shape) == 1:  # channels looked up: every position keeps its field
            return Result(shape=shape)
        return Result(shape=shape, rf=not_known(x, shape, f"gather along dim {self.dim} reads the positions an index tensor names (its values are not in the spec)"))

    def torch(self, io) -> Torch:
        index = f"torch.zeros({io.literal(tuple(self.index_shape))}, dtype=torch.long, device={{0}}.device)"
        return Torch(function=f"torch.index_select({{0}}, {self.dim}, {index}.flatten()).unflatten({self.dim}, {io.literal(tuple(self.index_shape))})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Roll(_Plumbing):
    """``torch.roll(x, shifts, dims)`` (Swin's shifted windows): values moved round, shape kept."""

    kind: ClassVar[str] = "roll"
    summary: ClassVar[str] = "shift values round along dims (torch.roll, Swin's shifted windows)"
    shifts: Union[StrictInt, list[StrictInt]]
    dims: Union[StrictInt, list[StrictInt]]

    def infer(self, x: Tensor) -> Result:
        shifts = self.shifts if isinstance(self.shifts, list) else [self.shifts]
        dims = self.dims if isinstance(self.dims, list) else [self.dims]
        if len(shifts) != len(dims):
            raise LayerError("arg-rank", f"{len(shifts)} shifts for {len(dims)} dims", "shifts")
        axes = [sample_axis(d, len(x.shape), "dims") for d in dims]
        if all(a == 0 or s == 0 for a, s in zip(axes, shifts)):  # the channels rolled: the positions stay
            return Result(shape=x.shape)
        return Result(shape=x.shape, rf=not_known(x, x.shape, f"roll {self.shifts} along dims {self.dims} wraps positions round: the fields are not one pattern"))

    def torch(self, io) -> Torch:
        return Torch(function=f"torch.roll({{0}}, {io.literal(self.shifts)}, {io.literal(self.dims)})")
