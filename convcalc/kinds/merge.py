"""Merges of several tensors: add, multiply (with broadcasting) and concat."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Literal, Optional

from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import LayerError, LayerKind, Result, RFAxis, Tensor, Torch, format_shape, sample_axis
from convcalc.kinds._rf import merge_axes, simple_union, unknown_axis

__all__ = ["Add", "Concat", "Multiply", "aligned_refielder", "merge_rf"]


def merge_rf(xs: list[Tensor], shape: tuple | None = None) -> tuple[tuple[RFAxis, ...], bool, tuple[str, ...]]:
    """The union of the inputs' fields per axis of the output ``shape`` (a size-1 axis that
    ``add`` or ``multiply`` broadcasts is read by every output); a note when the branches' grids
    are misaligned. An input without a field (a parameter) reads no network input."""
    if any(x.is_global for x in xs):
        return (), True, ()
    with_rf = [x for x in xs if x.rf]
    if not with_rf:
        return (), False, ()
    spatial = tuple(shape[1:]) if shape is not None else with_rf[0].spatial
    if any(len(x.rf) != len(spatial) or len(x.spatial) != len(spatial) for x in with_rf):
        # broadcasting across ranks puts one input's channels on another's spatial axis
        reason = "inputs of different ranks broadcast: a channel axis meets a spatial one"
        return tuple(unknown_axis(reason, n) for n in spatial), False, ()
    # the common case first: every axis of every input one offset per output, of one jump and one
    # centre, none broadcast (no holes, no note)
    aligned = []
    for axis, n_out in enumerate(spatial):
        union = None if n_out != 1 and any(x.spatial[axis] == 1 for x in with_rf) else simple_union([x.rf[axis] for x in with_rf], n_out, centred=True)
        if union is None:
            break
        aligned.append(union)
    else:
        return tuple(aligned), False, ()
    # an input that reads nothing at some positions of one axis adds nothing there on the others:
    # the union axis by axis is then not the field, so those axes are not known
    holes = [[_has_holes(a) for a in x.rf] for x in with_rf] if len(with_rf) > 1 and len(spatial) > 1 else []
    holes = [row for row in holes if True in row]  # an input without holes blinds no axis
    merged, notes = [], []
    for axis, n_out in enumerate(spatial):
        if any(any(h for other, h in enumerate(row) if other != axis) for row in holes):
            merged.append(unknown_axis("a merged input reads nothing at some positions of another axis: the union per axis is not the field", n_out))
            continue
        group = [x.rf[axis].broadcast(n_out) if x.spatial[axis] == 1 and n_out != 1 else x.rf[axis] for x in with_rf]
        merged.append(merge_axes(group, n_out))
        if len({a.jump for a in group}) > 1 or len({_centre_key(a) for a in group}) > 1:
            notes.append(
                f"branches misaligned on axis {axis}: jumps {[_text(a.jump) for a in group]}, starts {[_text(a.start) for a in group]}"
            )
    return tuple(merged), False, tuple(notes)


def aligned_refielder(xs: list[Tensor], spatial: tuple, result: Result, every: Callable) -> Callable[[list[tuple[Any, Any]]], Optional[tuple]]:
    """The ``refielder_many`` of a merge whose fields are the union on ``spatial`` (``merge_rf``)
    on inputs of ``xs``'s shapes: the common case of ``merge_rf`` (every input with a field,
    none global, every axis one offset per output, of one jump and one centre) at once, without
    tensors, when those shapes broadcast no axis and ``result`` has no note; any other
    (``every``, the kind's own way) as ``refield_many`` answers it."""
    rank = len(spatial)
    if result.notes or any(len(x.shape) - 1 != rank for x in xs) or any(n_out != 1 and any(x.shape[axis + 1] == 1 for x in xs) for axis, n_out in enumerate(spatial)):
        return every
    axes = tuple(enumerate(spatial))

    def refield(fields: list[tuple[Any, Any]]) -> Optional[tuple]:
        for rf, is_global in fields:
            if is_global or len(rf) != rank:
                return every(fields)
        merged = []
        for axis, n_out in axes:
            union = simple_union([rf[axis] for rf, _ in fields], n_out, centred=True)
            if union is None:
                return every(fields)
            merged.append(union)
        return tuple(merged), False

    return refield


def _has_holes(axis: RFAxis) -> bool:
    """Whether some position reads no input (a transposed convolution's stride past its kernel)."""
    return any(None in comp.table for comp in axis.comps) or any(entry is None for _, entry in axis.exceptions)


def _centre_key(axis: RFAxis):
    """Twice the first output's centre (``lo + hi``): equal centres without building fractions."""
    first = axis.comps[0].table[0] if axis.is_simple else axis.first
    return None if first is None else first[0] + first[1]


def _text(x) -> str:
    return "none" if x is None else str(x)


class _Merge(LayerKind):
    """A merge reads the tensors named in ``inputs`` (``previous`` is the preceding layer's output);
    inside ``parallel`` it reads the branches."""
    compat: ClassVar[dict] = peers.NOTHING  # written `a + b`, `torch.cat`, `a * b`: no hook, no patched function

    inputs: Optional[list[str]] = None
    n_inputs: ClassVar[str] = "many"

    def size_period(self) -> int | None:
        """Sizes pass through, broadcast or added along a dim."""
        return 1

    def torch_function(self, io) -> str:
        return self.torch(io).function

    def infer_many(self, xs: list[Tensor]) -> Result:  # pragma: no cover - every merge overrides
        raise NotImplementedError

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])

    def refield_many(self, xs: list[Tensor], result: Result) -> Optional[tuple]:
        """``LayerKind.refield`` of a merge: ``(rf, is_global)`` on inputs ``xs`` of the shapes
        that gave ``result``, with other fields. None when the notes would differ (misaligned
        branches are said in them): inferred again."""
        rf, is_global, notes = merge_rf(xs, result.shape)
        return (rf, is_global) if notes == result.notes else None

    def refielder_many(self, xs: list[Tensor], result: Result) -> Callable[[list[tuple[Any, Any]]], Optional[tuple]]:
        return aligned_refielder(xs, result.shape[1:], result, super().refielder_many(xs, result))


def broadcast(xs: list[Tensor], what: str, code: str) -> tuple:
    """PyTorch's broadcasting, per sample: shapes aligned at their last axis, a size 1 (or a missing
    leading axis) stretched to the other's size; any other difference is an error naming both."""
    width = max(len(x.shape) for x in xs)
    shape = [1] * width
    for i, x in enumerate(xs):
        padded = (1,) * (width - len(x.shape)) + tuple(x.shape)
        for axis, (a, b) in enumerate(zip(shape, padded)):
            if a != b and a != 1 and b != 1:
                first = xs[0].shape
                raise LayerError(
                    code, f"{what}: input 0 has shape {format_shape(first)}, input {i} has {format_shape(x.shape)}"
                    + ("" if len(x.shape) == len(first) and axis == 0 else f"; they do not broadcast (axis {axis})"),
                    "inputs",
                )
            shape[axis] = b if a == 1 else a
    return tuple(shape)


class Add(_Merge):
    kind: ClassVar[str] = "add"
    summary: ClassVar[str] = "element-wise sum, broadcasting size-1 axes as PyTorch (residual connections, position embeddings)"

    def infer_many(self, xs: list[Tensor]) -> Result:
        shape = broadcast(xs, "add", "graph-add-mismatch")
        rf, is_global, notes = merge_rf(xs, shape)
        return Result(shape=shape, flops=(len(xs) - 1) * prod(shape), rf=rf, is_global=is_global, notes=notes)

    def torch(self, io) -> Torch:
        return Torch(function=" + ".join(f"{{{i}}}" for i in range(len(io.in_shapes))))


class Multiply(_Merge):
    kind: ClassVar[str] = "multiply"
    summary: ClassVar[str] = "element-wise product, broadcasting size-1 axes (squeeze-excitation gates)"

    def infer_many(self, xs: list[Tensor]) -> Result:
        shape = broadcast(xs, "multiply", "graph-multiply-mismatch")
        rf, is_global, notes = merge_rf(xs, shape)
        return Result(shape=shape, flops=(len(xs) - 1) * prod(shape), rf=rf, is_global=is_global, notes=notes)

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

    def size_period(self) -> int | None:
        """A crop makes no promise: its margin may shrink as the input grows."""
        return None if self.crop == "center" else 1

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

    def refielder_many(self, xs: list[Tensor], result: Result) -> Callable[[list[tuple[Any, Any]]], Optional[tuple]]:
        every = super().refielder_many(xs, result)
        return every if sample_axis(self.dim, len(xs[0].shape)) != 0 else aligned_refielder(xs, xs[0].spatial, result, every)

    def refield_many(self, xs: list[Tensor], result: Result) -> Optional[tuple]:
        if sample_axis(self.dim, len(xs[0].shape)) != 0:
            return (), any(x.is_global for x in xs)
        rf, is_global, notes = merge_rf(xs)
        return (rf, is_global) if notes == result.notes else None

    def torch(self, io) -> Torch:
        return Torch(function=f"torch.cat([{', '.join(f'{{{i}}}' for i in range(len(io.in_shapes)))}], dim={self.dim})")

    def torch_channels(self, io) -> str:
        return io.add(io.c_ins) if self.dim == 1 else io.literal(io.out_shapes[0][0])
