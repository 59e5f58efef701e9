"""The symbolic path: sizes that are sympy expressions in the input's symbols (``H``, ``W``).

Imported only when a spec has a symbol, so that the integer path never pays for sympy.
Every size formula convcalc builds is non-decreasing in each input size, which makes "is this
size at least 1?" decidable by looking at the smallest and largest inputs, and "from which input
size on?" a binary search.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy as sp

__all__ = [
    "SEARCH_LIMIT",
    "floor_div",
    "igcd",
    "is_at_least_one",
    "min_valid_size",
    "requirements",
    "substitute_report",
    "to_int",
]

SEARCH_LIMIT = 2**40
MAX_EXPR_OPS = 20_000


class igcd(sp.Function):  # noqa: N801 - reads like sympy's own functions in printed formulas
    """gcd of two integers, left unevaluated while an argument is a symbol."""

    @classmethod
    def eval(cls, a, b):
        if a.is_Integer and b.is_Integer:
            return sp.Integer(sp.igcd(int(a), int(b)))
        return None


def _as_floor_argument(expr: Any) -> Any | None:
    """``floor(x) + c`` or ``ceiling(e / d) + c`` (integer c, d) as ``y`` with ``expr == floor(y)``."""
    const, rest = sp.sympify(expr).as_coeff_Add()
    if not const.is_Integer:
        return None
    if isinstance(rest, sp.floor):
        return rest.args[0] + const
    if isinstance(rest, sp.ceiling):
        numerator, denominator = rest.args[0].as_numer_denom()
        if denominator.is_Integer and denominator > 0:
            return (numerator + denominator - 1) / denominator + const
    return None


def floor_div(a: Any, b: int) -> Any:
    """``floor(a / b)`` in a normal form that keeps stacked layers readable.

    Sizes are integers, so ``floor((floor(x) + c) / b) == floor((x + c) / b)`` and
    ``ceiling(e / d) == floor((e + d - 1) / d)``; constants leave the floor
    (``floor((e + q*d + r) / d) == floor((e + r) / d) + q``) and ``floor((e + d - 1) / d)`` prints
    as ``ceiling(e / d)``: ResNet's sizes read ``ceiling(H/32)``, not nested floors.
    """
    inner = _as_floor_argument(a) if isinstance(b, int) and b > 0 else None
    x = sp.together((inner if inner is not None else sp.sympify(a)) / b)
    numerator, denominator = x.as_numer_denom()
    const, rest = sp.expand(numerator).as_coeff_Add()
    if denominator.is_Integer and denominator > 1 and const.is_Integer:
        q, r = divmod(int(const), int(denominator))
        core = sp.ceiling(rest / denominator) if r == denominator - 1 else sp.floor((rest + r) / denominator)
        result = core + q
    else:
        result = sp.floor(x)
    check_size(result)
    return result


def _period(expr: Any) -> int | None:
    """A shift of the symbol after which every floor / ceiling argument moves by an integer."""
    period = 1
    for atom in expr.atoms(sp.floor, sp.ceiling):
        for coeff in atom.args[0].as_coefficients_dict().values():
            if not coeff.is_Rational:
                return None
            period = period * int(coeff.q) // sp.igcd(period, int(coeff.q))
    return period if period <= 4096 else None


def always_le(a: Any, b: Any) -> bool:
    """Is ``a <= b`` for every positive integer value of the one symbol they share?

    For floor-linear sizes, ``d = a - b`` satisfies ``d(n + P) = d(n) + c`` for the period P of its
    floors, so checking ``n = 1..P`` and the sign of the drift ``c`` decides it exactly.
    """
    d = sp.sympify(a) - sp.sympify(b)
    symbols = d.free_symbols
    if len(symbols) != 1:
        return not symbols and bool(d <= 0)
    (n,) = symbols
    period = _period(d)
    if period is None:
        return False
    drift = d.subs(n, period + 1) - d.subs(n, 1)
    if not drift.is_Integer or drift > 0:
        return False
    return all(d.subs(n, k) <= 0 for k in range(1, period + 1))


def smaller(a: Any, b: Any) -> Any:
    """``min(a, b)``: one of the two when that is decided for every input size, else ``Min``."""
    if always_le(a, b):
        return a
    if always_le(b, a):
        return b
    return sp.Min(a, b)


def check_size(expr: Any) -> None:
    from .layers._base import LayerError

    if sp.count_ops(expr) > MAX_EXPR_OPS:
        raise LayerError("limit-expression", f"a symbolic size grew past {MAX_EXPR_OPS} operations (limit MAX_EXPR_OPS)")


def _value_at(expr: Any, value: int) -> Any:
    return expr.subs({s: value for s in expr.free_symbols})


def is_at_least_one(expr: Any) -> bool | None:
    """True if ``expr >= 1`` for every input size, False for none, None when it depends."""
    if _value_at(expr, 1) >= 1:
        return True
    if _value_at(expr, SEARCH_LIMIT) < 1:
        return False
    return None


def min_valid_size(expr: Any) -> int | None:
    """The smallest size n (all symbols = n) with ``expr >= 1``; None if there is none."""
    if _value_at(expr, SEARCH_LIMIT) < 1:
        return None
    low, high = 1, SEARCH_LIMIT
    while low < high:
        mid = (low + high) // 2
        if _value_at(expr, mid) >= 1:
            high = mid
        else:
            low = mid + 1
    return low


def to_int(expr: Any) -> Any:
    """A fully substituted expression back to a Python int (a Fraction stays a Fraction)."""
    if isinstance(expr, int):
        return expr
    expr = sp.sympify(expr)
    if expr.is_Integer:
        return int(expr)
    if expr.is_Rational:
        from fractions import Fraction

        return Fraction(int(expr.p), int(expr.q))
    return expr


def _subs(x: Any, mapping: dict) -> Any:
    if isinstance(x, (int, Fraction)) or x is None:
        return x
    return to_int(sp.sympify(x).xreplace(mapping))


def substitute_report(report, values: dict[str, int]):
    """The report with every symbol replaced by its value (see ``Report.subs``)."""
    from dataclasses import replace

    from .layers import RFAxis

    symbols = {str(s): s for d in (*report.input_shape, report.batch) if not isinstance(d, int) for s in sp.sympify(d).free_symbols}
    unknown = sorted(set(values) - set(symbols))
    if unknown:
        from .errors import UsageError

        raise UsageError("usage-set", f"no symbol {unknown[0]!r} in this input (symbols: {', '.join(symbols) or 'none'})")
    mapping = {symbols[name]: sp.Integer(v) for name, v in values.items()}

    def shape(t):
        return tuple(_subs(d, mapping) for d in t)

    def rf(axes):
        return tuple(RFAxis(_subs(a.size, mapping), _subs(a.jump, mapping), _subs(a.start, mapping)) for a in axes)

    rows = tuple(
        replace(
            r, input_shapes=tuple(shape(s) for s in r.input_shapes), output_shape=shape(r.output_shape),
            params=_subs(r.params, mapping), buffers=_subs(r.buffers, mapping), macs=_subs(r.macs, mapping),
            flops=_subs(r.flops, mapping), rf=rf(r.rf),
        )
        for r in report.rows
    )
    groups = tuple(replace(g, output_shape=shape(g.output_shape)) for g in report.groups)
    conditions = tuple(c for c in report.conditions if not (isinstance(s := _subs(c.size, mapping), int) and s >= 1))
    for c in conditions:
        size = _subs(c.size, mapping)
        if isinstance(size, int):
            from .errors import SpecError

            raise SpecError("shape-nonpositive", f"{c.message.split(': ', 1)[0]}: size {size} with {_format(values)}: {c.message}", c.pos)
    return replace(
        report, input_shape=shape(report.input_shape), batch=_subs(report.batch, mapping),
        output_shape=shape(report.output_shape), rows=rows, groups=groups, conditions=conditions,
    )


def _format(values: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def requirements(report) -> list[str]:
    """The input sizes for which every layer has a positive size, as readable conditions:
    ``H >= 32`` per symbol when a condition involves one symbol, else the condition itself."""
    needed: dict[str, int] = {}
    other: list[str] = []
    for c in report.conditions:
        expr = sp.sympify(c.size)
        names = sorted(str(s) for s in expr.free_symbols)
        if len(names) == 1:
            low = min_valid_size(expr)
            if low is None:
                other.append(f"never: {c.message}")
            else:
                needed[names[0]] = max(needed.get(names[0], 1), low)
        else:
            other.append(f"{expr} >= 1 ({c.path})")
    return [f"{name} >= {low}" for name, low in sorted(needed.items())] + other
