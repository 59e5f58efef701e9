"""Which input sizes a network accepts, and which it accepts exactly.

A size is *valid* when every layer has an output of at least 1. It is *exact* when, in addition,
every strided layer maps n to n / s (its input is a multiple of its stride) and every crop takes
the same margin on both sides: no row of the input is silently dropped. Exactness depends only on
the size modulo the network's total stride P (the jump of its receptive field), so one scan of P
sizes from the smallest valid one gives the whole rule: ``n = r (mod P), n >= n0``.
"""

from __future__ import annotations

from fractions import Fraction

from dataclasses import dataclass
from math import lcm
from typing import Iterable, Optional

from convcalc.arith.dims import dsum
from convcalc.engine import analyze
from convcalc.engine.fold import fold
from convcalc.errors import SpecError, UsageError
from convcalc.graph.build import build_graph
from convcalc.graph.model import Graph
from convcalc.report import Report
from convcalc.spec import Spec

__all__ = ["ExactRule", "SizeResult", "Sizer", "check_size", "exact_rule", "exactness_problems", "scan_sizes", "smallest_valid_size", "sweep"]

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


class Sizer:
    """Answers for one spec at many input sizes. Its graph is built once, at the declared input,
    and folded at each size with the weights that input fixed (what ``analyze`` does for each);
    the folds share every layer step whose inputs are the same. A spec whose declared input is
    symbolic has no fixed weights: it is analysed at each size."""

    def __init__(self, spec: Spec | Graph):
        self.spec = spec
        self.graph: Optional[Graph] = None
        self.fault: Optional[SpecError] = None
        self.steps: dict = {}
        self.answers: dict[int, SizeResult] = {}
        if isinstance(spec, Graph):  # an imported model: built already
            self.graph = spec
        elif all(isinstance(d, int) for d in (*spec.input, spec.batch)):
            try:
                self.graph = build_graph(spec)
            except SpecError as exc:
                self.fault = exc

    def check(self, n: int) -> SizeResult:
        answer = self.answers.get(n)
        if answer is None:
            answer = self.answers[n] = self._check(n)
        return answer

    def period(self, n: int) -> int:
        """The total stride at a valid size ``n``."""
        if self.graph is None:
            return _period(row.rf for row in analyze(self.spec, input_shape=input_shape(self.spec, n)).rows)
        shape = input_shape(self.spec, n)
        results = self.graph.results if shape == self.graph.input_shape else fold(self.graph, shape, self.steps)[0]
        return _period(result.rf for result in results)

    def _check(self, n: int) -> SizeResult:
        if self.fault is not None:
            return SizeResult(n, False, False, None, self.fault.message)
        if self.graph is None:
            return _analysed(self.spec, n)
        graph, shape = self.graph, input_shape(self.spec, n)
        try:
            results = graph.results if shape == graph.input_shape else fold(graph, shape, self.steps)[0]
        except SpecError as exc:
            return SizeResult(n, False, False, None, exc.message)
        problems = [
            f"{node.path} ({node.kind}): {note.split(': ', 1)[1]}"
            for node, result in zip(graph.nodes, results) for note in result.notes if note.startswith(("uneven:", "off-centre:"))
        ]
        output = shape if graph.output.node < 0 else tuple(results[graph.output.node].shapes[graph.output.port])
        return SizeResult(n, True, not problems, output, problems[0] if problems else None, dsum(r.macs for r in results))


def _analysed(spec: Spec, n: int) -> SizeResult:
    try:
        report = analyze(spec, input_shape=input_shape(spec, n))
    except SpecError as exc:
        return SizeResult(n, False, False, None, exc.message)
    problems = exactness_problems(report)
    return SizeResult(n, True, not problems, report.output_shape, problems[0] if problems else None, report.totals.macs)


def check_size(spec: Spec, n: int, sizer: Optional[Sizer] = None) -> SizeResult:
    return (sizer or Sizer(spec)).check(n)


def scan_sizes(spec: Spec, sizes: Iterable[int], sizer: Optional[Sizer] = None) -> list[SizeResult]:
    sizer = sizer or Sizer(spec)
    return [sizer.check(n) for n in sizes]


def smallest_valid_size(spec: Spec, sizer: Optional[Sizer] = None) -> Optional[int]:
    """Binary search: output sizes never shrink when the input grows."""
    sizer = sizer or Sizer(spec)
    if not sizer.check(MAX_SEARCH).valid:
        return None
    low, high = 1, MAX_SEARCH
    while low < high:
        mid = (low + high) // 2
        if sizer.check(mid).valid:
            high = mid
        else:
            low = mid + 1
    return low


def _period(rfs) -> int:
    """The network's total stride: the lcm of the jumps of every layer's receptive field."""
    period = 1
    for rf in rfs:
        for axis in rf:
            jump = axis.jump
            if isinstance(jump, (int, Fraction)):  # a field not known has no jump
                period = lcm(period, jump if isinstance(jump, int) else jump.numerator)
    return period


def exact_rule(spec: Spec, sizer: Optional[Sizer] = None) -> Optional[ExactRule]:
    sizer = sizer or Sizer(spec)
    smallest = smallest_valid_size(spec, sizer)
    if smallest is None:
        return None
    period = min(sizer.period(smallest), MAX_PERIOD)
    residues = tuple(sorted(n % period for n in range(smallest, smallest + period) if sizer.check(n).exact))
    return ExactRule(smallest, period, residues)


def sweep(report: Report, name: str, sizes: list[int], fixed: dict[str, int]) -> list[Report]:
    """The symbolic ``report`` at each size of symbol ``name``; the other spatial symbols take
    the same size unless ``fixed`` gives them one."""
    if name not in report.symbols:
        raise UsageError("usage-sweep", f"--sweep {name}: no symbol {name!r} in the input {tuple(str(d) for d in report.input_shape)}", hint=f"symbols: {', '.join(report.symbols)}")
    return [report.subs({**{s: n for s in report.symbols if s != str(report.batch)}, **fixed, name: n}) for n in sizes]
