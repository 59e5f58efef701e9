"""Merges of several tensors: add, multiply (with broadcasting) and concat."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from convcalc.arith.dims import prod
from convcalc.kinds._base import LayerError, LayerKind, Result, RFAxis, Tensor, format_shape
from convcalc.kinds._rf import merge_axes

__all__ = ["Add", "Concat", "Multiply", "merge_rf"]


def merge_rf(xs: list[Tensor], spatial: tuple | None = None) -> tuple[tuple[RFAxis, ...], bool, tuple[str, ...]]:
    """The union of the inputs' fields per axis (a size-1 axis that ``multiply`` broadcasts is read
    by every output); a note when the branches' grids are misaligned."""
    if any(x.is_global for x in xs):
        return (), True, ()
    with_rf = [x for x in xs if x.rf]
    if not with_rf:
        return (), False, ()
    spatial = spatial if spatial is not None else with_rf[0].spatial
    merged, notes = [], []
    for axis, n_out in enumerate(spatial):
        group = [x.rf[axis].broadcast(n_out) if x.spatial[axis] == 1 and n_out != 1 else x.rf[axis] for x in with_rf]
        merged.append(merge_axes(group, n_out))
        if len({a.jump for a in group}) > 1 or len({_centre_key(a) for a in group}) > 1:
            notes.append(
                f"branches misaligned on axis {axis}: jumps {[_text(a.jump) for a in group]}, starts {[_text(a.start) for a in group]}"
            )
    return tuple(merged), False, tuple(notes)


def _centre_key(axis: RFAxis):
    """Twice the first output's centre (``lo + hi``): equal centres without building fractions."""
    first = axis.comps[0].table[0] if axis.is_simple else axis.first
    return None if first is None else first[0] + first[1]


def _text(x) -> str:
    return "none" if x is None else str(x)


class _Merge(LayerKind):
    """A merge reads the tensors named in ``inputs`` (``previous`` is the preceding layer's output);
    inside ``parallel`` it reads the branches."""

    inputs: Optional[list[str]] = None
    n_inputs: ClassVar[str] = "many"

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
        rf, is_global, notes = merge_rf(xs, tuple(shape[1:]))
        return Result(shape=tuple(shape), flops=(len(xs) - 1) * prod(shape), rf=rf, is_global=is_global, notes=notes)


class Concat(_Merge):
    """Concatenate along the channels. ``crop: center`` first centre-crops every input to the
    smallest spatial size (U-Net's crop-and-concat)."""

    kind: ClassVar[str] = "concat"
    summary: ClassVar[str] = "concatenate along the channels; crop: center for U-Net skips"
    crop: Literal["none", "center"] = "none"

    def infer_many(self, xs: list[Tensor]) -> Result:
        spatial = xs[0].spatial
        for i, x in enumerate(xs[1:], 1):
            if len(x.shape) != len(xs[0].shape) or x.spatial != spatial:
                hint = "add `crop: center` to crop the larger one" if len(x.shape) == len(xs[0].shape) and self.crop == "none" else None
                raise LayerError(
                    "graph-concat-mismatch",
                    f"concat: input 0 has shape {format_shape(xs[0].shape)}, input {i} has {format_shape(x.shape)}; spatial sizes must match",
                    "inputs",
                    hint,
                )
        channels = sum(x.channels for x in xs)
        rf, is_global, notes = merge_rf(xs)
        return Result(shape=(channels, *spatial), rf=rf, is_global=is_global, notes=notes)
