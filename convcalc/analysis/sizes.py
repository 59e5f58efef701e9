"""Which input sizes a network accepts, and which it accepts exactly.

A size is *valid* when every layer has an output of at least 1. It is *exact* when, in addition,
every strided layer maps n to n / s (its input is a multiple of its stride) and every crop takes
the same margin on both sides: no row of the input is silently dropped. Exactness depends only on
the size modulo the network's total stride P (the jump of its receptive field), so one scan of P
sizes from the smallest valid one gives the whole rule: ``n = r (mod P), n >= n0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import lcm
from typing import Iterable, Optional

from convcalc.engine import analyze
from convcalc.errors import SpecError, UsageError
from convcalc.graph.model import Graph
from convcalc.report import Report
from convcalc.spec import Spec

__all__ = ["ExactRule", "SizeResult", "check_size", "exact_rule", "exactness_problems", "scan_sizes", "smallest_valid_size", "sweep"]

MAX_SEARCH = 2**20
MAX_PERIOD = 4096


@dataclass(frozen=True)
class SizeResult:
    size: int
    valid: bool
    exact: bool
    output_shape: Optional[tuple]
    reason: Optional[str]  # why it is rejected: the layer and the condition
    macs: Optional[int] = None


@dataclass(frozen=True)
class ExactRule:
    smallest: int
    period: int
    residues: tuple[int, ...]

    def __str__(self) -> str:
        if not self.residues:
            return f"no exact size (checked one period of {self.period} from {self.smallest})"
        if self.period == 1:
            return f"every size >= {self.smallest}"
        rs = ", ".join(str(r) for r in self.residues)
        first = ", ".join(str(n) for n in self.sizes(self.smallest, self.smallest + 3 * self.period - 1)[:3])
        return f"n = {rs} (mod {self.period}), n >= {self.smallest}: {first}, ..."

    def sizes(self, low: int, high: int) -> list[int]:
        return [n for n in range(max(low, self.smallest), high + 1) if n % self.period in self.residues]


def input_shape(spec: Spec | Graph, n: int) -> tuple:
    """The declared input with every spatial size ``n`` (a spec's, or an imported graph's)."""
    declared = spec.input if isinstance(spec, Spec) else spec.input_shape
    return (declared[0], *(n for _ in declared[1:]))


def exactness_problems(report: Report) -> list[str]:
    return [f"{r.path} ({r.kind}): {note.split(': ', 1)[1]}" for r in report.rows for note in r.notes if note.startswith(("uneven:", "off-centre:"))]


def check_size(spec: Spec, n: int) -> SizeResult:
    try:
        report = analyze(spec, input_shape=input_shape(spec, n))
    except SpecError as exc:
        return SizeResult(n, False, False, None, exc.message)
    problems = exactness_problems(report)
    return SizeResult(n, True, not problems, report.output_shape, problems[0] if problems else None, report.totals.macs)


def scan_sizes(spec: Spec, sizes: Iterable[int]) -> list[SizeResult]:
    return [check_size(spec, n) for n in sizes]


def smallest_valid_size(spec: Spec) -> Optional[int]:
    """Binary search: output sizes never shrink when the input grows."""
    if not check_size(spec, MAX_SEARCH).valid:
        return None
    low, high = 1, MAX_SEARCH
    while low < high:
        mid = (low + high) // 2
        if check_size(spec, mid).valid:
            high = mid
        else:
            low = mid + 1
    return low


def _period(report: Report) -> int:
    period = 1
    for row in report.rows:
        for axis in row.rf:
            jump = axis.jump
            period = lcm(period, jump if isinstance(jump, int) else jump.numerator)
    return period


def exact_rule(spec: Spec) -> Optional[ExactRule]:
    smallest = smallest_valid_size(spec)
    if smallest is None:
        return None
    period = min(_period(analyze(spec, input_shape=input_shape(spec, smallest))), MAX_PERIOD)
    residues = tuple(sorted(n % period for n in range(smallest, smallest + period) if check_size(spec, n).exact))
    return ExactRule(smallest, period, residues)


def sweep(report: Report, name: str, sizes: list[int], fixed: dict[str, int]) -> list[Report]:
    """The symbolic ``report`` at each size of symbol ``name``; the other spatial symbols take
    the same size unless ``fixed`` gives them one."""
    if name not in report.symbols:
        raise UsageError("usage-sweep", f"--sweep {name}: no symbol {name!r} in the input {tuple(str(d) for d in report.input_shape)}", hint=f"symbols: {', '.join(report.symbols)}")
    return [report.subs({**{s: n for s in report.symbols if s != str(report.batch)}, **fixed, name: n}) for n in sizes]
