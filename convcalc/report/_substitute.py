"""Substituting sizes for the symbols of a symbolic report, and its validity conditions as text."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from convcalc.arith._symbolic import min_valid_size, sp, to_int

__all__ = ["requirements", "substitute_report"]


def _subs(x: Any, mapping: dict) -> Any:
    if isinstance(x, (int, Fraction)) or x is None:
        return x
    return to_int(sp.sympify(x).xreplace(mapping))


def substitute_report(report, values: dict[str, int]):
    """The report with every symbol replaced by its value (see ``Report.subs``)."""
    from dataclasses import replace

    symbols = {str(s): s for d in (*report.input_shape, report.batch) if not isinstance(d, int) for s in sp.sympify(d).free_symbols}
    unknown = sorted(set(values) - set(symbols))
    if unknown:
        from convcalc.errors import UsageError

        raise UsageError("usage-set", f"no symbol {unknown[0]!r} in this input (symbols: {', '.join(symbols) or 'none'})")
    mapping = {symbols[name]: sp.Integer(v) for name, v in values.items()}

    def shape(t):
        return tuple(_subs(d, mapping) for d in t)

    def rf(axes):
        return tuple(a.subs(mapping, lambda v: _subs(v, mapping)) for a in axes)

    rows = tuple(
        replace(
            r, input_shapes=tuple(shape(s) for s in r.input_shapes), output_shape=shape(r.output_shape),
            output_shapes=tuple(shape(s) for s in r.output_shapes),
            params=_subs(r.params, mapping), buffers=_subs(r.buffers, mapping), macs=_subs(r.macs, mapping),
            flops=_subs(r.flops, mapping), rf=rf(r.rf),
        )
        for r in report.rows
    )
    groups = tuple(replace(g, output_shape=shape(g.output_shape)) for g in report.groups)
    conditions = tuple(c for c in report.conditions if not _holds(c, _subs(c.size, mapping)))
    for c in conditions:
        size = _subs(c.size, mapping)
        if isinstance(size, int):
            from convcalc.errors import SpecError

            if c.equal:
                raise SpecError("shape-fixed-weights", f"{c.message} (with {_format(values)})", c.pos)
            raise SpecError("shape-nonpositive", f"{str(c.message).split(': ', 1)[0]}: size {size} with {_format(values)}: {c.message}", c.pos)
    return replace(
        report, input_shape=shape(report.input_shape), batch=_subs(report.batch, mapping),
        output_shape=shape(report.output_shape), rows=rows, groups=groups, conditions=conditions,
    )


def _holds(condition, size: Any) -> bool:
    """A substituted condition that holds: ``size >= 1``, or ``size == 0`` for a fixed input."""
    if not isinstance(size, int):
        return False
    return size == 0 if condition.equal else size >= 1


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
        if c.equal:
            other.append(str(c.message))
        elif len(names) == 1:
            low = min_valid_size(expr)
            if low is None:
                other.append(f"never: {c.message}")
            else:
                needed[names[0]] = max(needed.get(names[0], 1), low)
        else:
            other.append(f"{expr} >= 1 ({c.path})")
    return [f"{name} >= {low}" for name, low in sorted(needed.items())] + other
