"""Reductions over dims: ``x.mean([2, 3])``, ``x.sum(dim)``, ``x.amax(dim)`` (PyTorch's dims: 0 is
the batch). FLOPs per output element over ``n`` reduced elements: mean ``n`` (n - 1 adds, 1
divide), sum ``n - 1``, amax ``n - 1`` comparisons. A reduction over every spatial axis sees the
whole input (like global pooling)."""

from __future__ import annotations

from typing import ClassVar, Union

from pydantic import StrictInt

from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import Bool, LayerError, LayerKind, Result, Tensor, Torch, not_known, sample_axis

__all__ = ["Amax", "Mean", "Sum"]


class _Reduce(LayerKind):
    dim: Union[StrictInt, list[StrictInt]]
    keepdim: Bool = False
    per_output_extra: ClassVar[int]  # FLOPs per output: n + this
    method: ClassVar[str]
    compat: ClassVar[dict] = peers.NOTHING  # tensor methods: no module, no hook, no patched function

    def size_period(self) -> int:
        return 1

    def axes(self, x: Tensor) -> list[int]:
        dims = self.dim if isinstance(self.dim, list) else [self.dim]
        axes = [sample_axis(d, len(x.shape)) for d in dims]
        if len(set(axes)) != len(axes):
            raise LayerError("arg-range", f"dim {self.dim} names a dim twice", "dim")
        return sorted(axes)

    def infer(self, x: Tensor) -> Result:
        axes = self.axes(x)
        n = prod(x.shape[a] for a in axes)
        shape = tuple((1 if i in axes else d) for i, d in enumerate(x.shape) if self.keepdim or i not in axes)
        outputs = prod(shape)
        spatial = set(range(1, len(x.shape)))
        whole = bool(spatial) and spatial <= set(axes)
        if whole:  # as global pooling: every output sees the whole input
            rf = tuple(a.through(size, size, 1, 0, 1) for a, size in zip(x.rf, x.spatial)) if self.keepdim and x.rf and 0 not in axes else ()
        elif self.keepdim and x.rf:  # the reduced spatial axes read all of themselves, the others are unchanged
            rf = tuple(a.through(size, size, 1, 0, 1) if i + 1 in axes else a for i, (a, size) in enumerate(zip(x.rf, x.spatial)))
        elif self.keepdim:
            rf = None  # the channels reduced, kept as one: the spatial field is unchanged
        else:  # the spatial axes are no longer where they were
            rf = not_known(x, shape, f"{self.method} over dim {self.dim} removes an axis: the others move")
        return Result(shape=shape, flops=outputs * (n + self.per_output_extra), rf=rf, is_global=True if whole else None,
                      formulas=lambda: (f"FLOPs = outputs*(n{self.per_output_extra:+d}) = {outputs}*({n}{self.per_output_extra:+d}) = {outputs * (n + self.per_output_extra)}",))

    def torch(self, io) -> Torch:
        keep = ", keepdim=True" if self.keepdim else ""
        return Torch(function=f"{{0}}.{self.method}({io.literal(self.dim) if isinstance(self.dim, list) else self.dim}{keep})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0]) if io.out_shapes[0] else "1"


class Mean(_Reduce):
    kind: ClassVar[str] = "mean"
    summary: ClassVar[str] = "mean over dims (Tensor.mean, e.g. x.mean([2, 3]) as global pooling)"
    per_output_extra: ClassVar[int] = 0
    method: ClassVar[str] = "mean"


class Sum(_Reduce):
    kind: ClassVar[str] = "sum"
    summary: ClassVar[str] = "sum over dims (Tensor.sum)"
    per_output_extra: ClassVar[int] = -1
    method: ClassVar[str] = "sum"


class Amax(_Reduce):
    kind: ClassVar[str] = "amax"
    summary: ClassVar[str] = "maximum over dims (Tensor.amax)"
    per_output_extra: ClassVar[int] = -1
    method: ClassVar[str] = "amax"
