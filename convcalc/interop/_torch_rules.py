"""PyTorch modules and ATen operators as convcalc layers, for :mod:`convcalc.interop.torch_import`:
what the two kinds of rule share. :data:`convcalc.interop._torch_modules.MODULES` maps a
``torch.nn`` class to the row its call is (arguments read from the module);
:data:`convcalc.interop._torch_ops.FUNCTIONS` maps an ATen operator of ``torch.export``'s graph
to its layer. A rule that meets a use no kind describes raises
:class:`~convcalc.interop._imported.Unsupported`: an unknown row. Dims are PyTorch's, with the
batch (0), as convcalc's ``dim`` arguments are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from convcalc.interop._imported import Live, Scope

__all__ = ["CONSTANT_SHAPES", "Const", "Param", "base_class", "dim_of", "emit", "hardtanh", "one", "pairs", "rank_of", "softmax"]


@dataclass(frozen=True)
class Param:
    """A parameter or buffer the trace reads (its first name, when modules share it)."""

    name: str
    shape: tuple
    numel: int
    learned: bool  # a parameter, or a floating-point buffer (running statistics): what a row counts


@dataclass(frozen=True)
class Const:
    """A tensor the model makes from nothing it computes (``torch.zeros(...)`` as an index): its
    shape is all a rule reads of it."""

    shape: tuple


# operators that only reshape: on a Const they give the Const of their recorded shape
CONSTANT_SHAPES = frozenset({"view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze", "clone", "contiguous", "to", "_to_copy", "expand"})


def one(values: Any) -> Any:
    if isinstance(values, (tuple, list)):
        values = list(values)
        return values[0] if values and all(v == values[0] for v in values) else values
    return values


def emit(w, kind: str, args: dict, lives: list, scope: Scope, weights: Optional[dict] = None) -> Live:
    ports = [w.builder.port_of(x, scope) for x in lives]
    return Live(w.builder.emit(kind, args, ports, scope, weights=weights or {})[0])


def rank_of(w, x: Live, scope: Scope) -> int:
    return len(w.builder.shape(w.builder.port_of(x, scope))) - 1


def dim_of(w, x: Live, dim: int) -> int:
    """A dim of the source's tensor as a dim of the channels-first one (a pending transpose)."""
    rank = len(w.builder.full_shape(x))
    dim %= rank
    return x.layout[dim] if x.layout else dim


def hardtanh(w, x: Live, low: float, high: float, scope: Scope) -> Live:
    """relu6 when the range is [0, 6] (ReLU6 is Hardtanh(0, 6) in PyTorch), else hardtanh."""
    if (low, high) == (0.0, 6.0):
        return w.builder.unary("relu6", x, scope)
    return w.builder.unary("hardtanh", x, scope, {k: v for k, v, d in (("min_val", low, -1.0), ("max_val", high, 1.0)) if v != d})


def softmax(w, kind: str, x: Live, dim: int, scope: Scope) -> Live:
    canonical = dim_of(w, x, dim)
    return w.builder.unary(kind, x, scope, {"dim": canonical} if canonical != 1 else {})


def pairs(flat: list) -> Any:
    """F.pad's (left, right, top, bottom, ...), the last axis first, as convcalc's [before, after] per axis."""
    pairs = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)][::-1]
    if all(b == a for b, a in pairs):
        return one([b for b, _ in pairs])
    return pairs


def base_class(m, prefix: str) -> str:
    return next(c.__name__ for c in type(m).__mro__ if c.__name__.startswith(prefix) and c.__module__.startswith("torch.nn"))
