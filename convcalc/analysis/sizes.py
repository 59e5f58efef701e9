"""Which input sizes a network accepts, and which it accepts exactly.

A size is *valid* when every layer has an output of at least 1. It is *exact* when, in addition,
every strided layer maps n to n / s (its input is a multiple of its stride) and every crop takes
the same margin on both sides: no row of the input is silently dropped. Exactness depends only on
the size modulo the network's total stride P (the jump of its receptive field), so one scan of P
sizes from the smallest valid one gives the whole rule: ``n = r (mod P), n >= n0``.

Most sizes are answered, not folded. Every layer's output size is a floor formula of its input
(``floor((in + a) / s) + b``, a product for upsampling, a fixed size after an adaptive pool), so
along one residue class n = r + M*k, with M the lcm of the strides before each strided layer times
its own (``_modulus``), every size is affine in k and every count (params, MACs) a polynomial of
degree at most R, the input's spatial axes: a layer's kind promises this with
``LayerKind.size_period``. Sizes only grow with k, so a class valid at R + 1 consecutive k is
valid from there on (a fixed weight equal at R + 1 points is equal everywhere), uneven at the
same layers, and its MACs and output sizes are Newton's interpolation of those folds (``_Rule``),
exact integers. The first sizes of a class, where minimum sizes and fixed weights bite, are
folded; so is every size of a network with a kind that makes no promise (a crop, a reshape), of
a class whose folds break a promise, and of one without R + 1 consecutive valid sizes among its
first MAX_PREFIX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import comb, lcm
from typing import Iterable, Optional

from convcalc.arith.dims import MAX_INT, dsum
from convcalc.engine import analyze
from convcalc.engine.fold import fold
from convcalc.errors import LayerError, SpecError, UsageError
from convcalc.graph.build import build_graph
from convcalc.graph.model import Graph
from convcalc.kinds import Tensor
from convcalc.kinds._run import run, running_batch
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
    symbolic has no fixed weights: it is analysed at each size.

    With ``rule`` (the default) most sizes are not folded: when every layer's kind promises how
    its answers follow its input sizes (``LayerKind.size_period``), the sizes of one residue class
    modulo the network's period answer from a rule (``_Rule``) once a few consecutive ones were
    folded, each identical to its fold."""

    def __init__(self, spec: Spec | Graph, rule: bool = True):
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
        self.modulus = _modulus(self.graph) if rule and self.graph is not None else None
        # the strided layers: their inputs' slopes along a class must be multiples of their periods
        periods = [(node, node.layer.size_period()) for node in self.graph.nodes] if self.modulus is not None else []
        self.strided = [(node, period) for node, period in periods if period > 1]
        self.classes: dict[int, _Class] = {}
        self.reasons: dict[tuple, Optional[str]] = {}

    def check(self, n: int) -> SizeResult:
        answer = self.answers.get(n)
        if answer is None:
            answer = self.answers[n] = self._answer(n)
        return answer

    def period(self, n: int) -> int:
        """The total stride at a valid size ``n``."""
        if self.graph is None:
            return _period(row.rf for row in analyze(self.spec, input_shape=input_shape(self.spec, n)).rows)
        shape = input_shape(self.spec, n)
        results = self.graph.results if shape == self.graph.input_shape else fold(self.graph, shape, self.steps)[0]
        return _period(result.rf for result in results)

    def _answer(self, n: int) -> SizeResult:
        if self.modulus is None:
            return self._fold(n)[0]
        k, r = divmod(n, self.modulus)
        known = self.classes.get(r)
        if known is None:
            known = self.classes[r] = _Class(1 if r == 0 else 0)
        while known.rule is None and known.open and known.next < k:
            self._learn(known, r, known.next)
        if known.rule is not None and k >= known.rule.start:
            answer = known.rule.answer(self, n, k)
            if answer is not None:
                return answer
        folded = self._fold(n)
        if known.rule is None and known.open and k == known.next:
            self._learn(known, r, k, folded)
        return folded[0]

    def _learn(self, known: _Class, r: int, k: int, folded: Optional[tuple] = None) -> None:
        """Feed the class its next size: a rule once its last ``degree + 1`` sizes were valid."""
        n = r + self.modulus * k
        answer, results, problems = folded if folded is not None else self._fold(n)
        self.answers.setdefault(n, answer)
        known.next = k + 1
        if not answer.valid:
            known.window.clear()
        else:
            known.window.append((k, answer, results, problems))
            del known.window[: -(self.degree + 1)]
            if len(known.window) == self.degree + 1:
                known.rule = _rule_of(self.graph, self.strided, known.window)
        if known.rule is None and known.next - (1 if r == 0 else 0) >= MAX_PREFIX:
            known.open = False

    @property
    def degree(self) -> int:
        """The degree of every count along a residue class: the input's spatial axes."""
        return len(self.graph.input_shape) - 1

    def _fold(self, n: int) -> tuple[SizeResult, Optional[tuple], tuple]:
        """The size folded: its answer, the layers' results and the layers with uneven or off-centre notes."""
        if self.fault is not None:
            return SizeResult(n, False, False, None, self.fault.message), None, ()
        if self.graph is None:
            return _analysed(self.spec, n), None, ()
        graph, shape = self.graph, input_shape(self.spec, n)
        try:
            results = graph.results if shape == graph.input_shape else fold(graph, shape, self.steps)[0]
        except SpecError as exc:
            return SizeResult(n, False, False, None, exc.message), None, ()
        problems = [(node.index, _problem(node, note)) for node, result in zip(graph.nodes, results) for note in result.notes if note.startswith(_PROBLEMS)]
        output = shape if graph.output.node < 0 else tuple(results[graph.output.node].shapes[graph.output.port])
        answer = SizeResult(n, True, not problems, output, problems[0][1] if problems else None, dsum(r.macs for r in results))
        return answer, results, tuple(index for index, _ in problems)

    def reason_at(self, index: int, shapes: tuple, is_global: tuple) -> Optional[str]:
        """The first uneven or off-centre note of node ``index`` on inputs of these shapes (the
        notes read the shapes only, not the receptive fields)."""
        key = (index, shapes, is_global)
        if key not in self.reasons:
            node = self.graph.nodes[index]
            xs = [Tensor(shape, (), g, p.node, p.port, 1) for shape, g, p in zip(shapes, is_global, node.inputs)]
            try:
                with running_batch(self.graph.batch):
                    result, _ = run(node.layer, xs, False)
            except LayerError:
                result = None
            notes = [note for note in result.notes if note.startswith(_PROBLEMS)] if result is not None else []
            self.reasons[key] = _problem(node, notes[0]) if notes else None
        return self.reasons[key]


_PROBLEMS = ("uneven:", "off-centre:")
MAX_PREFIX = 24  # sizes of one residue class folded before its rule is given up


def _problem(node, note: str) -> str:
    return f"{node.path} ({node.kind}): {note.split(': ', 1)[1]}"


@dataclass
class _Class:
    """What is known of one residue class of input sizes: the next size to fold (its k), the
    latest consecutive valid folds, and the rule once they make one."""

    next: int
    window: list = field(default_factory=list)
    rule: Optional[_Rule] = None
    open: bool = True  # False: no rule within MAX_PREFIX sizes; every size is folded


def _modulus(graph: Graph) -> Optional[int]:
    """The modulus M of the residue classes: along n = r + M*k every layer's input sizes are
    affine in k with slopes that are multiples of its period. A layer's input moves by M / J per
    step of k, J the product of the periods before it (at most: an upsampling multiplies the
    slope), so M is the lcm of every J times the period. None when a layer's kind makes no
    promise (or reads another's shape)."""
    jumps = {-1: 1}
    for node in graph.nodes:
        period = node.layer.size_period()
        if period is None or node.refs:
            return None
        jumps[node.index] = lcm(*(jumps[p.node] for p in node.inputs)) * period
        if jumps[node.index] > MAX_PERIOD:
            return None
    return lcm(*jumps.values())


def _differences(values: list) -> list:
    """The forward differences of ``values`` at its first point: Newton's coefficients."""
    coefficients = []
    while values:
        coefficients.append(values[0])
        values = [b - a for a, b in zip(values, values[1:])]
    return coefficients


def _newton(coefficients: list, t: int) -> int:
    return sum(c * comb(t, j) for j, c in enumerate(coefficients) if c)


@dataclass(frozen=True)
class _Rule:
    """The answers of one residue class from its k = ``start`` on: every count a polynomial in k
    (Newton's coefficients from the folds at start, start + 1, ...), valid throughout, the same
    layers uneven; the note's text is the first uneven layer's, on its inputs at k."""

    start: int
    macs: list
    output: tuple
    bound: list  # the sum of every size of every layer: no size grows past MAX_INT while it does not
    first: Optional[int]  # the first layer with an uneven or off-centre note
    inputs: tuple  # that layer's inputs: per input, Newton's coefficients per size
    is_global: tuple

    def answer(self, sizer: Sizer, n: int, k: int) -> Optional[SizeResult]:
        t = k - self.start
        if _newton(self.bound, t) > MAX_INT:
            return None
        reason = None
        if self.first is not None:
            shapes = tuple(tuple(_newton(c, t) for c in shape) for shape in self.inputs)
            reason = sizer.reason_at(self.first, shapes, self.is_global)
            if reason is None:
                return None
        output = tuple(_newton(c, t) for c in self.output)
        return SizeResult(n, True, self.first is None, output, reason, _newton(self.macs, t))


def _rule_of(graph: Graph, strided: list, window: list) -> Optional[_Rule]:
    """The rule of consecutive valid folds, or None where the layers' promises do not hold along them
    (a strided layer's input not affine or its slope not a multiple of the stride, other layers
    uneven, an output of another rank)."""
    answers = [answer for _, answer, _, _ in window]
    results = [rs for _, _, rs, _ in window]
    if len({problems for _, _, _, problems in window}) > 1 or len({len(a.output_shape) for a in answers}) > 1:
        return None

    inputs = [input_shape(graph, a.size) for a in answers]
    for node, period in strided:
        for port in node.inputs:
            shapes = [inputs[j] if port.node < 0 else results[j][port.node].shapes[port.port] for j in range(len(window))]
            if len({len(s) for s in shapes}) > 1:
                return None
            for axis in range(1, len(shapes[0])):
                steps = {b[axis] - a[axis] for a, b in zip(shapes, shapes[1:])}
                if len(steps) > 1 or next(iter(steps), 0) % period:
                    return None
    bound = _differences([sum(inputs[j]) + sum([sum(r.shape) + sum([sum(s) for s in r.more]) for r in rs]) for j, rs in enumerate(results)])
    first, port_shapes, is_global = None, (), ()
    problems = window[0][3]
    if problems:
        first = problems[0]
        node = graph.nodes[first]
        port_shapes, flags = [], []
        for port in node.inputs:
            shapes = [inputs[j] if port.node < 0 else results[j][port.node].shapes[port.port] for j in range(len(window))]
            port_shapes.append(tuple(_differences([s[axis] for s in shapes]) for axis in range(len(shapes[0]))))
            flags.append(False if port.node < 0 else {bool(results[j][port.node].is_global) for j in range(len(window))})
        if any(isinstance(f, set) and len(f) > 1 for f in flags):
            return None
        port_shapes = tuple(port_shapes)
        is_global = tuple(f if isinstance(f, bool) else next(iter(f)) for f in flags)
    output = tuple(_differences([a.output_shape[axis] for a in answers]) for axis in range(len(answers[0].output_shape)))
    return _Rule(window[0][0], _differences([a.macs for a in answers]), output, bound, first, port_shapes, is_global)


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
