"""Arithmetic on sizes that may be ints or sympy expressions.

Shape rules are written once with ``+ - *`` and the helpers below, so that the same code runs on
ints (the fast path: sympy is never imported) and on symbols (``input: [3, H, W]``). Never call
``max``, ``math.floor`` or ``int()`` on a dimension: use ``dmax``, ``floor_div``, ``ceil_div``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from typing import Any, Union

__all__ = [
    "MAX_INT",
    "Dim",
    "all_int",
    "ceil_div",
    "collect_conditions",
    "dmax",
    "dmin",
    "dsum",
    "floor_div",
    "format_dim",
    "is_count",
    "is_int",
    "Lazy",
    "positive",
    "prod",
    "require_positive",
    "sympy_module",
    "to_json_dim",
]

Dim = Union[int, Any]  # an int, or a sympy expression on the symbolic path

MAX_INT = 2**48  # larger than any tensor dimension or channel count anyone needs (limit-int)


def sympy_module():
    """Import sympy on first use only: the integer path must not pay for it."""
    import sympy

    return sympy


def is_count(text: str) -> bool:
    """Plain ASCII digits of a sane length: ``int()`` would also take '²'-like digits (and fail)
    and spend quadratic time on thousands of them."""
    text = text.strip()
    return text.isascii() and text.isdigit() and len(text) <= 15


def is_int(x: Dim) -> bool:
    return isinstance(x, int)


def _symbolic(*xs: Any) -> bool:
    return any(not isinstance(x, (int, Fraction)) for x in xs)


def floor_div(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return a // b
    from convcalc.arith._symbolic import floor_div as symbolic_floor_div

    return symbolic_floor_div(a, b)


def ceil_div(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return -((-a) // b)
    if isinstance(b, int):  # sizes are integers: ceil(a / b) == floor((a + b - 1) / b)
        return floor_div(a + b - 1, b)
    sp = sympy_module()
    return sp.ceiling(sp.sympify(a) / b)


def dmax(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return max(a, b)
    from convcalc.arith._symbolic import larger

    return larger(a, b)


def dmin(a: Dim, b: Dim) -> Dim:
    if not _symbolic(a, b):
        return min(a, b)
    from convcalc.arith._symbolic import smaller

    return smaller(a, b)


class Lazy:
    """Text written when it is first read. Printing a long symbolic size costs more than computing
    it, and most formulas and messages are never read (``explain`` and errors read them)."""

    __slots__ = ("_make", "_text")

    def __init__(self, make):
        self._make = make
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(self._make())
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return repr(str(self))


def all_int(xs) -> bool:
    """Whether every value is an int (no symbolic size): a list of plain ints is told by its types
    in one pass, the ``isinstance`` test (int subclasses) only when that says no."""
    return set(map(type, xs)) <= {int} or all(isinstance(x, int) for x in xs)


def dsum(xs) -> Dim:
    """``sum(xs)``; symbolic terms are added in one step (a running ``+`` rebuilds the sum each
    time: quadratic in the number of rows)."""
    xs = list(xs)
    if all_int(xs):
        return sum(xs)
    return sympy_module().Add(*xs)


def prod(xs) -> Dim:
    result: Dim = 1
    for x in xs:
        result = result * x
    return result


_conditions: ContextVar[list | None] = ContextVar("convcalc_conditions", default=None)


def positive(x: Dim) -> bool | None:
    """Is ``x >= 1``? ``None`` when it depends on the symbols."""
    if isinstance(x, (int, Fraction)):
        return x >= 1
    from convcalc.arith._symbolic import is_at_least_one

    return is_at_least_one(x)


def require_positive(x: Dim, message: str | Lazy) -> bool:
    """False if ``x`` can never be >= 1. When it depends on the input sizes, the condition is
    recorded for the engine (``collect_conditions``) and the answer is True."""
    ok = positive(x)
    if ok is None:
        found = _conditions.get()
        if found is not None:
            found.append((x, message))
        return True
    return ok


@contextmanager
def collect_conditions():
    """Collect the ``size >= 1`` conditions recorded by the layers run inside the block."""
    found: list = []
    token = _conditions.set(found)
    try:
        yield found
    finally:
        _conditions.reset(token)


_printed: dict = {}


def format_dim(x: Any) -> str:
    """A number or formula as text; a symbolic one printed once and remembered (printing a long
    formula is the slowest thing convcalc does)."""
    if isinstance(x, (int, Fraction, str)) or x is None or not _symbolic(x):
        return str(x)
    text = _printed.get(x)
    if text is None:
        from convcalc.arith._symbolic import to_text

        if len(_printed) > 50_000:
            _printed.clear()
        text = _printed[x] = to_text(x)
    return text


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
    return format_dim(x)
