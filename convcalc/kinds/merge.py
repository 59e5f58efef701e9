"""Merges of several tensors: add, multiply (with broadcasting) and concat."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import LayerError, LayerKind, Result, RFAxis, Tensor, Torch, format_shape, sample_axis

__all__ = ["Add", "Concat", "Multiply", "merge_rf"]


def merge_rf(xs: list[Tensor]) -> tuple[tuple[RFAxis, ...], bool, tuple[str, ...]]:
    """Largest field per axis; a note when the branches' grids are misaligned."""
    if any(x.is_global for x in xs):
        return (), True, ()
    fields = [x.rf for x in xs if x.rf]
    if not fields:
        return (), False, ()
    merged, notes = [], []
    for axis, group in enumerate(zip(*fields)):
        merged.append(max(group, key=lambda a: a.size))
        if len({a.jump for a in group}) > 1 or len({a.start for a in group}) > 1:
            notes.append(
                f"branches misaligned on axis {axis}: jumps {[str(a.jump) for a in group]}, starts {[str(a.start) for a in group]}"
            )
    return tuple(merged), False, tuple(notes)


class _Merge(LayerKind):
    """A merge reads the tensors named in ``inputs`` (``previous`` is the preceding layer's output);
    inside ``parallel`` it reads the branches."""
    compat: ClassVar[dict] = peers.NOTHING  # written `a + b`, `torch.cat`, `a * b`: no hook, no patched function

    inputs: Optional[list[str]] = None
    n_inputs: ClassVar[str] = "many"

    def torch_function(self, io) -> str:
        return self.torch(io).function

    def infer_many(self, xs: list[Tensor]) -> Result:  # pragma: no cover - every merge overrides
        raise NotImplementedError

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])


class Add(_Merge):
    kind: ClassVar[str] = "add"
    summary: ClassVar[str] = "element-wise sum of tensors of one shape (residual connections)"

    def infer_many(self, xs: list[Tensor]) -> Result:
        first = xs[0].shape
        for i, x in enumerate(xs[1:], 1):
            if x.shape != first:
                raise LayerError(
                    "graph-add-mismatch",
                    f"add: input 0 has shape {format_shape(first)}, input {i} has {format_shape(x.shape)}",
                    "inputs",
                )
        rf, is_global, notes = merge_rf(xs)
        return Result(shape=first, flops=(len(xs) - 1) * prod(first), rf=rf, is_global=is_global, notes=notes)

    def torch(self, io) -> Torch:
        return Torch(function=" + ".join(f"{{{i}}}" for i in range(len(io.in_shapes))))


class Multiply(_Merge):
    kind: ClassVar[str] = "multiply"
    summary: ClassVar[str] = "element-wise product, broadcasting size-1 axes (squeeze-excitation gates)"

    def infer_many(self, xs: list[Tensor]) -> Result:
        shape = list(xs[0].shape)
        for i, x in enumerate(xs[1:], 1):
            if len(x.shape) != len(shape):
                raise LayerError("graph-multiply-mismatch", f"multiply: input 0 has shape {format_shape(shape)}, input {i} has {format_shape(x.shape)}", "inputs")
            for axis, (a, b) in enumerate(zip(shape, x.shape)):
                if a != b and a != 1 and b != 1:
                    raise LayerError(
                        "graph-multiply-mismatch",
                        f"multiply: shapes {format_shape(shape)} and {format_shape(x.shape)} do not broadcast (axis {axis})",
                        "inputs",
                    )
                shape[axis] = b if a == 1 else a
        rf, is_global, notes = merge_rf(xs)
        return Result(shape=tuple(shape), flops=(len(xs) - 1) * prod(shape), rf=rf, is_global=is_global, notes=notes)

    def torch(self, io) -> Torch:
        return Torch(function=" * ".join(f"{{{i}}}" for i in range(len(io.in_shapes))))

    def torch_channels(self, io) -> str:
        distinct = list(dict.fromkeys(io.c_ins))
        return distinct[0] if len(distinct) == 1 else io.literal(io.out_shapes[0][0])


class Concat(_Merge):
    """Concatenate along the channels. ``crop: center`` first centre-crops every input to the
    smallest spatial size (U-Net's crop-and-concat)."""

    kind: ClassVar[str] = "concat"
    aliases: ClassVar[tuple[str, ...]] = ("cat",)
    summary: ClassVar[str] = "concatenate along a dim, the channels by default; crop: center for U-Net skips"
    crop: Literal["none", "center"] = "none"
    dim: int = 1  # PyTorch's dims: 1 the channels, 2 the tokens of an (L, E) sequence

    def infer_many(self, xs: list[Tensor]) -> Result:
        axis = sample_axis(self.dim, len(xs[0].shape))
        first = xs[0].shape
        for i, x in enumerate(xs[1:], 1):
            others_differ = len(x.shape) != len(first) or any(a != b for j, (a, b) in enumerate(zip(x.shape, first)) if j != axis)
            if others_differ:
                hint = "add `crop: center` to crop the larger one" if len(x.shape) == len(first) and self.crop == "none" and axis == 0 else None
                raise LayerError(
                    "graph-concat-mismatch",
                    f"concat: input 0 has shape {format_shape(first)}, input {i} has {format_shape(x.shape)}; "
                    + ("spatial sizes must match" if axis == 0 else f"every dim but {self.dim} must match"),
                    "inputs",
                    hint,
                )
        joined = sum(x.shape[axis] for x in xs)
        shape = tuple(joined if j == axis else d for j, d in enumerate(first))
        if axis != 0:
            return Result(shape=shape, rf=(), is_global=any(x.is_global for x in xs))
        rf, is_global, notes = merge_rf(xs)
        return Result(shape=shape, rf=rf, is_global=is_global, notes=notes)

    def torch(self, io) -> Torch:
        return Torch(function=f"torch.cat([{', '.join(f'{{{i}}}' for i in range(len(io.in_shapes)))}], dim={self.dim})")

    def torch_channels(self, io) -> str:
        return io.add(io.c_ins) if self.dim == 1 else io.literal(io.out_shapes[0][0])
