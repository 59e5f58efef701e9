"""The symbolic path: sizes that are sympy expressions in the input's symbols (``H``, ``W``).

Imported only when a spec has a symbol, so that the integer path never pays for sympy.
Every size formula convcalc builds is non-decreasing in each input size, which makes "is this
size at least 1?" decidable by looking at the smallest and largest inputs, and "from which input
size on?" a binary search.

Formulas are kept short by construction (one normal form for floors, min / max decided exactly
where they can be, see ``floor_div`` and ``always_le``) and bounded where they cannot: per formula
MAX_EXPR_NODES, MAX_EXPR_DEPTH and MAX_EXPR_BITS (``check_size``), per analysis MAX_SYMBOLIC_WORK
(``spend``). sympy's own evaluation, search and printing grow with all of these; within them, a
whole analysis takes seconds at most, and a refusal comes at the layer that passes a bound.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any

import sympy as sp

__all__ = [
    "SEARCH_LIMIT",
    "floor_div",
    "igcd",
    "is_at_least_one",
    "larger",
    "lowest",
    "measure",
    "min_valid_size",
    "peak_of",
    "smaller",
    "spend",
    "start_work",
    "to_int",
    "to_text",
    "tree_size",
]

SEARCH_LIMIT = 2**48  # MAX_INT: no larger input size can be written
MAX_EXPR_NODES = 500
MAX_EXPR_DEPTH = 64
MAX_EXPR_BITS = 96
MAX_SYMBOLIC_WORK = 100_000

_work = [0]  # units spent by the analysis under way (start_work)


def start_work() -> None:
    """Begin counting MAX_SYMBOLIC_WORK for a new analysis."""
    _work[0] = 0


def spend(units: int) -> None:
    """Count symbolic work: every formula a row holds counts its nodes written out (what printing
    it costs), every exact min / max decision the values it tries. Past MAX_SYMBOLIC_WORK the
    analysis stops: nothing a network needs comes near (ResNet-152, the most of the built-ins, spends 10,851)."""
    from convcalc.errors import LayerError

    _work[0] += units
    if _work[0] > MAX_SYMBOLIC_WORK:
        raise LayerError(
            "limit-expression",
            f"the symbolic formulas of this network pass {MAX_SYMBOLIC_WORK:,} units of work (limit MAX_SYMBOLIC_WORK); give the input size as a number",
        )


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
        d = int(denominator)
        q, r = divmod(int(const), d)
        # terms whose coefficient d divides are whole: they leave the floor too. What stays is
        # built without sympy's own evaluation, which would search the same and cost far more.
        outside, inside = [], []
        for term in sp.Add.make_args(rest):
            coefficient, _ = term.as_coeff_Mul()
            (outside if coefficient.is_Integer and int(coefficient) % d == 0 else inside).append(term)
        rest = sp.Add(*inside)
        if rest == 0:
            core = sp.Integer(0)
        elif r == d - 1:
            core = sp.ceiling(rest / d, evaluate=False)
        else:
            core = sp.floor((rest + r) / d, evaluate=False)
        result = core + q + sp.Add(*outside) / d
    elif denominator == 1:
        result = x  # a whole number already: sizes are integers
    else:
        result = sp.floor(x)
    check_size(result)
    return result


def _nodes(expr: Any) -> list:
    """The distinct sub-expressions of ``expr``, children before parents (a shared one once)."""
    order: list = []
    seen: set = set()
    stack = [(expr, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((arg, False) for arg in node.args if arg not in seen)
    return order


_measured: dict = {}  # sub-expression -> (nodes, depth, bits): a formula is measured once


def measure(expr: Any) -> tuple[int, int, int]:
    """``(nodes, depth, bits)`` of ``expr`` written out: nodes count a shared sub-expression each
    time it appears (the size of the printed formula and of sympy's walks over it), depth is the
    longest chain of nested sub-expressions (sympy recurses along it), bits those of the widest
    number. Each distinct sub-expression is measured once, so this costs the new nodes only, and
    a formula whose written size is exponential is measured in no time."""
    if not isinstance(expr, sp.Basic):
        return 1, 1, 0
    known = _measured.get(expr)
    if known is not None:
        return known
    if len(_measured) > 200_000:
        _measured.clear()
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if not ready:
            if node not in _measured:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if a not in _measured)
            continue
        parts = [_measured[a] for a in node.args]
        bits = max(int(node.p).bit_length(), int(node.q).bit_length()) if node.is_Rational else 0
        _measured[node] = (
            1 + sum(p[0] for p in parts),
            1 + max((p[1] for p in parts), default=0),
            max([bits, *(p[2] for p in parts)]),
        )
    return _measured[expr]


def tree_size(expr: Any) -> int:
    return measure(expr)[0]


PRETTY_NODES = 100


def to_text(expr: Any) -> str:
    """sympy's text for a formula; past PRETTY_NODES nodes its terms keep sympy's internal order
    instead of being sorted for reading, which costs more than all the arithmetic before it."""
    if tree_size(expr) <= PRETTY_NODES:
        return str(expr)
    return sp.sstr(expr, order="none")


def _rational(x: Any) -> Fraction:
    return Fraction(int(x.p), int(x.q))


@functools.lru_cache(maxsize=4096)
def evaluator(expr: Any):
    """``expr`` as a Python function of ``{symbol: int}`` with exact int / Fraction arithmetic.

    Much faster than ``subs`` on the formulas convcalc builds (sums, products, integer powers,
    floor, ceiling, Max, Min, igcd), which ``always_le`` and the size searches evaluate many times.
    Anything else falls back to ``subs``.
    """
    from math import ceil, floor, gcd

    program = []
    for node in _nodes(sp.sympify(expr)):
        if node.is_Rational:
            program.append((node, "const", _rational(node)))
        elif node.is_Symbol:
            program.append((node, "symbol", node))
        elif isinstance(node, (sp.Add, sp.Mul, sp.floor, sp.ceiling, sp.Max, sp.Min, igcd)) or (
            isinstance(node, sp.Pow) and node.exp.is_Integer
        ):
            program.append((node, type(node), node.args))
        else:
            return lambda values: to_int(expr.subs(values))

    def run(values: dict) -> Any:
        value: dict = {}
        for node, op, data in program:
            if op == "const":
                v = data
            elif op == "symbol":
                v = Fraction(values[data])
            else:
                args = [value[a] for a in data]
                if op is sp.Add:
                    v = sum(args, Fraction(0))
                elif op is sp.Mul:
                    v = Fraction(1)
                    for a in args:
                        v *= a
                elif op is sp.Pow:
                    v = args[0] ** int(data[1])
                elif op is sp.floor:
                    v = Fraction(floor(args[0]))
                elif op is sp.ceiling:
                    v = Fraction(ceil(args[0]))
                elif op is sp.Max:
                    v = max(args)
                elif op is sp.Min:
                    v = min(args)
                else:
                    v = Fraction(gcd(int(args[0]), int(args[1])))
            value[node] = v
        result = value[program[-1][0]]
        return int(result) if result.denominator == 1 else result

    run.steps = len(program)
    return run


MAX_PERIOD = 256


def _linear_shape(expr: Any, n: Any) -> tuple[Fraction, int] | None:
    """``(slope, period)`` with ``expr(n + period) == expr(n) + slope*period`` for every integer n,
    or None when ``expr`` is not of that kind (a product of sizes, a max of different slopes, a
    period past MAX_PERIOD). Floors of linear forms, and max / min of equal slopes, are."""
    shape: dict = {}
    for node in _nodes(expr):
        if node.is_Rational:
            shape[node] = (Fraction(0), 1)
            continue
        if node == n:
            shape[node] = (Fraction(1), 1)
            continue
        args = [shape.get(a) for a in node.args]
        if any(a is None for a in args):
            return None
        slope, period = Fraction(0), 1
        if isinstance(node, sp.Add):
            for s_, p_ in args:
                slope, period = slope + s_, period * p_ // sp.igcd(period, p_)
        elif isinstance(node, sp.Mul):
            constants = [a for a in node.args if a.is_Rational]
            if len(node.args) - len(constants) != 1:
                return None
            slope, period = next(sh for a, sh in zip(node.args, args) if not a.is_Rational)
            for c in constants:
                slope *= _rational(c)
        elif isinstance(node, (sp.floor, sp.ceiling)):
            slope, period = args[0]
            period *= (slope * period).denominator
        elif isinstance(node, (sp.Max, sp.Min)):
            slope = args[0][0]
            if any(s_ != slope for s_, _ in args):
                return None
            for _, p_ in args:
                period = period * p_ // sp.igcd(period, p_)
        else:
            return None
        if period > MAX_PERIOD:
            return None
        shape[node] = (slope, period)
    return shape.get(expr)


def always_le(a: Any, b: Any) -> bool:
    """Is ``a <= b`` for every positive integer value of the one symbol they share?

    For floor-linear sizes, ``d = a - b`` satisfies ``d(n + P) = d(n) + slope*P`` for its period P
    (``_linear_shape``), so the sign of the slope and the values at ``n = 1..P`` decide it exactly.
    False when undecided (two symbols, a product, a long period).
    """
    d = sp.sympify(a) - sp.sympify(b)
    symbols = d.free_symbols
    if len(symbols) != 1:
        return not symbols and bool(d <= 0)
    (n,) = symbols
    shape = _linear_shape(d, n)
    if shape is None or shape[0] > 0:
        return False
    value = evaluator(d)
    spend(shape[1] * value.steps)
    return all(value({n: k}) <= 0 for k in range(1, shape[1] + 1))


def _extreme(cls: Any, a: Any, b: Any) -> Any:
    """``cls(a, b)`` (``Min`` or ``Max``): one of the two when ``always_le`` decides it, else
    built without sympy's pairwise search (costly on long formulas), nested ones flattened and
    repeats dropped."""
    low, high = (a, b) if always_le(a, b) else (b, a) if always_le(b, a) else (None, None)
    if low is not None:
        return low if cls is sp.Min else high
    args: list = []
    for x in (sp.sympify(a), sp.sympify(b)):
        for y in (x.args if isinstance(x, cls) else (x,)):
            if y not in args:
                args.append(y)
    result = args[0] if len(args) == 1 else cls(*args, evaluate=False)
    check_size(result)
    return result


def smaller(a: Any, b: Any) -> Any:
    """``min(a, b)``: one of the two when that is decided for every input size, else ``Min``."""
    return _extreme(sp.Min, a, b)


def larger(a: Any, b: Any) -> Any:
    """``max(a, b)``: one of the two when that is decided for every input size, else ``Max``."""
    return _extreme(sp.Max, a, b)


MAX_PEAK_TERMS = 32


def _terms(value: Any) -> dict:
    return sp.expand(value).as_coefficients_dict() if isinstance(value, sp.Basic) else {sp.S.One: value}


def _covers(big: dict, small: dict) -> bool:
    """``big >= small`` for every input: each monomial (a product of sizes, never negative) has
    at least the coefficient in ``big`` that it has in ``small``."""
    return all(big.get(m, 0) >= c for m, c in small.items()) and all(c >= 0 for m, c in big.items() if m not in small)


def peak_of(values: list) -> tuple[Any, Any]:
    """The largest of ``(value, row)`` pairs with symbolic values: ``(value, row)`` when one covers
    all the others, else ``(Max(...), None)`` of those no other covers; ``(None, None)`` when
    more than MAX_PEAK_TERMS stay or the Max is past MAX_EXPR_NODES (a formula nobody can read)."""
    kept: list = []
    for value, row in values:
        terms = _terms(value)
        if any(_covers(other, terms) for _, other, _ in kept):
            continue
        kept = [k for k in kept if not _covers(terms, k[1])]
        kept.append((value, terms, row))
        if len(kept) > MAX_PEAK_TERMS:
            return None, None
    if not kept:
        return 0, None
    if len(kept) == 1:
        return kept[0][0], kept[0][2]
    result = sp.Max(*(k[0] for k in kept), evaluate=False)
    return (result, None) if tree_size(result) <= MAX_EXPR_NODES else (None, None)


def check_size(expr: Any, count: bool = False) -> None:
    """Refuse a formula past MAX_EXPR_NODES nodes, MAX_EXPR_DEPTH levels or MAX_EXPR_BITS-bit
    numbers: sympy's cost grows with all three, and past a few hundred levels its printer and
    comparisons overflow the stack. (Past 2**48 = MAX_INT, a divisor makes a size constant over
    every input size convcalc accepts.)"""
    from convcalc.errors import LayerError

    nodes, depth, bits = measure(expr)
    if count:  # a value a row holds: MAX_SYMBOLIC_WORK counts it
        spend(nodes)
    if bits > MAX_EXPR_BITS:
        raise LayerError("limit-expression", f"a symbolic formula holds a number of more than {MAX_EXPR_BITS} bits (limit MAX_EXPR_BITS); give the input size as a number")
    if nodes > MAX_EXPR_NODES:
        raise LayerError("limit-expression", f"a symbolic formula grew past {MAX_EXPR_NODES:,} terms written out (limit MAX_EXPR_NODES); give the input size as a number")
    if depth > MAX_EXPR_DEPTH:
        raise LayerError("limit-expression", f"a symbolic formula nests deeper than {MAX_EXPR_DEPTH} levels (limit MAX_EXPR_DEPTH); give the input size as a number")


def _value_at(expr: Any, value: int) -> Any:
    return evaluator(expr)({s: value for s in expr.free_symbols})


def lowest(expr: Any) -> Any:
    """The value of a size at every symbol = 1: its smallest, as sizes never decrease as the
    input grows."""
    if isinstance(expr, (int, Fraction)):
        return expr
    expr = sp.sympify(expr)
    return evaluator(expr)(dict.fromkeys(expr.free_symbols, 1))


def is_at_least_one(expr: Any) -> bool | None:
    """True if ``expr >= 1`` for every input size, False for none, None when it depends."""
    if _value_at(expr, 1) >= 1:
        return True
    if _value_at(expr, SEARCH_LIMIT) < 1:
        return False
    return None


def min_valid_size(expr: Any) -> int | None:
    """The smallest size n (all symbols = n) with ``expr >= 1``; None if there is none."""
    value = evaluator(expr)
    symbols = expr.free_symbols
    if value(dict.fromkeys(symbols, SEARCH_LIMIT)) < 1:
        return None
    low, high = 1, SEARCH_LIMIT
    while low < high:
        mid = (low + high) // 2
        if value(dict.fromkeys(symbols, mid)) >= 1:
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
