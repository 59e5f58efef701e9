"""Arithmetic on sizes that may be ints or sympy expressions.

Shape rules are written once with ``+ - *`` and the helpers below, so that the same code runs on
ints (the fast path: sympy is never imported) and on symbols (``input: [3, H, W]``). Never call
``max``, ``math.floor`` or ``int()`` on a dimension: use ``dmax``, ``floor_div``, ``ceil_div``.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import Any, Union

__all__ = [
    "Dim",
    "ceil_div",
    "dmax",
    "dmin",
    "floor_div",
    "format_dim",
    "is_int",
    "positive",
    "prod",
    "sympy_module",
    "to_json_dim",
]

Dim = Union[int, Any]  # an int, or a sympy expression on the symbolic path


def sympy_module():
    """Import sympy on first use only: the integer path must not pay for it."""
    import sympy

    return sympy


def is_int(x: Dim) -> bool:
    return isinstance(x, int)


def _symbolic(*xs: Any) -> bool:
    return any(not isinstance(x, (int, Fraction)) for x in xs)


def floor_div(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return a // b
    sp = sympy_module()
    return sp.floor(sp.sympify(a) / b)


def ceil_div(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return -((-a) // b)
    sp = sympy_module()
    return sp.ceiling(sp.sympify(a) / b)


def dmax(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return max(a, b)
    return sympy_module().Max(a, b)


def dmin(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return min(a, b)
    return sympy_module().Min(a, b)


def prod(xs) -> Dim:
    result: Dim = 1
    for x in xs:
        result = result * x
    return result


def positive(x: Dim) -> bool | None:
    """Is ``x >= 1``? ``None`` when it depends on the symbols (the caller records a condition)."""
    if isinstance(x, int):
        return x >= 1
    if "sympy" not in sys.modules:  # pragma: no cover - a non-int dimension means sympy is loaded
        return bool(x >= 1)
    sp = sympy_module()
    answer = sp.simplify(sp.Ge(x, 1))
    if answer is sp.true:
        return True
    if answer is sp.false:
        return False
    return None


def format_dim(x: Dim) -> str:
    return str(x)


def to_json_dim(x: Dim) -> Any:
    """Ints stay ints, a Fraction that is whole becomes an int, anything else becomes a string."""
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else str(x)
    try:
        if x.is_Integer:  # sympy
            return int(x)
    except AttributeError:
        pass
    return str(x)
