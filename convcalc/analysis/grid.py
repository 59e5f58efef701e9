"""Design-space sweeps: every combination of a spec's top-level parameters, analysed in one process.

``convcalc sweep efficientnet --grid width_mult=0.5..2.0:0.25 --grid depth_mult=1..3 --budget
"macs<=600M"``: a grid is ``NAME=LOW..HIGH:STEP`` (both ends included; ints stay ints, decimals are
stepped exactly and given to the spec as floats), ``NAME=LOW..HIGH`` (step 1) or ``NAME=A,B,C``. Each
point's params, MACs, FLOPs, peak activation memory, receptive field and output are measured; a point
that breaks a budget (``check``'s syntax) is marked, and the points no other point beats on every
metric of the Pareto front (params and MACs by default) are flagged.

The points share work: the params read first (by the input, by the first layers) vary slowest, a
point's graph is built from the state an earlier point's build left after the layers that read
the same values (:mod:`convcalc.graph._prefix`), and its measures are summed on from the steps it
shares with the point before (:class:`_Measures`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable, Optional

from convcalc.analysis.check import Budget, check_budget, parse_budget
from convcalc.arith.dims import dsum, prod, to_json_dim
from convcalc.conventions import DTYPE_BYTES
from convcalc.engine import analyze
from convcalc.errors import ConvcalcError, UsageError
from convcalc.graph.build import build_graph, first_reads
from convcalc.graph.model import Graph, Node
from convcalc.report import Report
from convcalc.spec import Spec

__all__ = ["MAX_POINTS", "METRICS", "Point", "parse_grid", "parse_sweep_budget", "pareto", "sweep_grid"]

MAX_POINTS = 100_000
METRICS = ("params", "macs", "flops", "peak_activation_bytes", "receptive_field")


@dataclass(frozen=True)
class Point:
    values: dict[str, Any]  # the parameters of this point
    metrics: dict[str, Any] = field(default_factory=dict)  # None for a point that could not be analysed
    output_shape: Optional[tuple] = None
    error: Optional[str] = None  # why it could not be analysed
    broken: tuple[str, ...] = ()  # the budgets it breaks
    pareto: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.values, **{k: to_json_dim(v) if v is not None else None for k, v in self.metrics.items()},
            "output_shape": list(self.output_shape) if self.output_shape else None, "budget_ok": not self.broken and self.error is None,
            "broken": list(self.broken), "pareto": self.pareto, "error": self.error,
        }


def _number(text: str, where: str) -> Fraction:
    try:
        return Fraction(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise UsageError("usage-grid", f"--grid {where!r}: {text!r} is not a number") from None


def _value(x: Fraction, decimal: bool) -> Any:
    return float(x) if decimal else int(x)


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``width_mult=0.5..2.0:0.25``, ``depth=1..3``, ``act=relu,hardswish`` -> (name, values)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not spec.strip():
        raise UsageError("usage-grid", f"--grid {text!r}: write NAME=LOW..HIGH[:STEP] or NAME=A,B,C")
    if ".." in spec:
        bounds, _, step_text = spec.partition(":")
        low_text, _, high_text = bounds.partition("..")
        low, high = _number(low_text, text), _number(high_text, text)
        step = _number(step_text, text) if step_text else Fraction(1)
        if step <= 0 or high < low:
            raise UsageError("usage-grid", f"--grid {text!r}: LOW <= HIGH and a positive STEP, please")
        count = int((high - low) / step) + 1
        if count > MAX_POINTS:
            raise UsageError("usage-grid", f"--grid {text!r} has {count:,} values, more than {MAX_POINTS:,} (limit MAX_POINTS)")
        decimal = any("." in t or "e" in t.lower() for t in (low_text, high_text, step_text))
        return name, [_value(low + k * step, decimal) for k in range(count)]
    return name, [_scalar(v) for v in spec.split(",") if v.strip()]


def _scalar(text: str) -> Any:
    text = text.strip()
    try:
        value = Fraction(Decimal(text))
    except (InvalidOperation, ValueError):
        return {"true": True, "false": False}.get(text, text)
    return int(value) if value.denominator == 1 and "." not in text else float(value)


def parse_sweep_budget(text: str) -> Budget:
    """``macs<=600M`` (or ``macs: <=600M``): a budget in ``check``'s syntax on one metric."""
    for i, ch in enumerate(text):
        if ch in "<>=:":
            key, value = text[:i].strip(), text[i:].lstrip(":").strip()
            break
    else:
        raise UsageError("usage-budget", f"--budget {text!r}: write METRIC OP VALUE, e.g. --budget 'macs<=600M'")
    try:
        return parse_budget(key, value)
    except ConvcalcError as exc:
        raise UsageError("usage-budget", f"--budget {text!r}: {exc.message}", hint=exc.hint) from None


def _receptive_field(report: Report) -> Any:
    last = report.rows[-1]
    if last.is_global:
        return "global"
    if any(not axis.known for axis in last.rf):
        return None  # not known: said as null, never a number
    return max((axis.size for axis in last.rf), default=None)


def measure(report: Report) -> dict[str, Any]:
    peak, _ = report.peak_activations()
    return {
        "params": report.totals.params, "macs": report.totals.macs, "flops": report.totals.flops,
        "peak_activation_bytes": report.bytes_of(peak), "receptive_field": _receptive_field(report),
    }


def measure_graph(graph: Graph, dtype: str = "float32") -> Optional[tuple[dict[str, Any], tuple]]:
    """:func:`measure` of ``analyze(graph)`` and its output shape, from the graph's results alone
    (no rows written: a sweep point needs five numbers); None when a count is symbolic (then
    the report answers). The same sums and the same peak as :class:`Report`'s, in integers."""
    return _Measures(dtype).measure(graph)


class _Measures:
    """:func:`measure_graph`, step by step, the steps of the graph measured last kept: the next
    graph that starts with the same nodes (a sweep's points share the nodes of their prefix) is
    measured from where they end."""

    def __init__(self, dtype: str = "float32"):
        self.dtype = dtype
        self.graph: Optional[Graph] = None
        # after each node of the last graph: the sums of params, MACs and FLOPs, its activations,
        # and the peak of live activations so far
        self.params: list[int] = []
        self.macs: list[int] = []
        self.flops: list[int] = []
        self.activations: list[int] = []
        self.peaks: list[int] = []

    def shared(self, graph: Graph) -> int:
        """How many first steps of the last graph hold for this one: the same nodes and results,
        and the same of their tensors read by the nodes after them (then the same tensors are
        live at each of those steps)."""
        last = self.graph
        if last is None or last.input_shape != graph.input_shape or last.batch != graph.batch:
            return 0
        nodes, results, before, before_results = graph.nodes, graph.results, last.nodes, last.results
        m, n = 0, min(len(nodes), len(before), len(self.peaks))
        while m < n and nodes[m] is before[m] and results[m] is before_results[m]:
            m += 1
        if m and _read_from(nodes, m) != _read_from(before, m):
            return 0
        return m

    def measure(self, graph: Graph) -> Optional[tuple[dict[str, Any], tuple]]:
        results = graph.results
        if not results:
            return None
        input_elements = prod(graph.input_shape)
        if type(input_elements) is not int or not isinstance(graph.batch, int):
            return None
        m = self.shared(graph)
        params_at, macs_at, flops_at = self.params[:m], self.macs[:m], self.flops[:m]
        activations, peaks = self.activations[:m], self.peaks[:m]
        params, macs, flops = (params_at[-1], macs_at[-1], flops_at[-1]) if m else (0, 0, 0)
        peak = peaks[-1] if m else 0
        # Report.peak_activations: a tensor lives from the row that makes it to the last row that reads it
        nodes = graph.nodes
        last_read: dict[int, int] = {}
        for node in nodes[m:]:
            for port in node.inputs:
                last_read[port.node] = node.index
        freed: dict[int, list[int]] = {}
        for source, index in last_read.items():
            freed.setdefault(index, []).append(source)
        # live after the shared steps: the tensors made before them and read after
        live = sum(activations[source] if source >= 0 else input_elements for source in last_read if source < m)
        for index in range(m, len(results)):
            result = results[index]
            p, b, mac, f = result.params, result.buffers, result.macs, result.flops
            if not (type(p) is int and type(b) is int and type(mac) is int and type(f) is int):
                return None
            shapes = result.shapes
            a = dsum(prod(shape) for shape in shapes) if len(shapes) > 1 else prod(result.shape)
            if type(a) is not int:
                return None
            params += p
            macs += mac
            flops += f
            live += a
            if live > peak:
                peak = live
            for source in freed.get(index, ()):
                live -= activations[source] if source >= 0 else input_elements
            if index not in last_read:
                live -= a
            params_at.append(params)
            macs_at.append(macs)
            flops_at.append(flops)
            activations.append(a)
            peaks.append(peak)
        self.graph, self.params, self.macs, self.flops, self.activations, self.peaks = graph, params_at, macs_at, flops_at, activations, peaks
        last = results[-1]
        rf = "global" if last.is_global else max((axis.size for axis in last.rf), default=None)
        output = graph.output
        shape = graph.input_shape if output.node < 0 else results[output.node].shapes[output.port]
        return {
            "params": params, "macs": macs, "flops": flops, "peak_activation_bytes": peak * graph.batch * DTYPE_BYTES[self.dtype],
            "receptive_field": rf,
        }, tuple(shape)


def _read_from(nodes: tuple[Node, ...], m: int) -> set[int]:
    """The tensors made before node ``m`` (or the input, -1) that node ``m`` and those after it read."""
    return {port.node for node in nodes[m:] for port in node.inputs if port.node < m}


def sweep_grid(spec: Spec, grids: list[tuple[str, list[Any]]], budgets: tuple[Budget, ...] = (), front: tuple[str, ...] = ("params", "macs"),
               progress: Optional[Callable[[int, int], None]] = None) -> list[Point]:
    """Every combination of the grids' values, in order (the last grid varies fastest)."""
    for name, _ in grids:
        if name not in spec.params:
            raise UsageError("usage-grid", f"--grid {name}: the spec has no parameter {name!r}", hint=f"its parameters: {', '.join(spec.params) or 'none (add params: to the spec)'}")
    names = [name for name, _ in grids]
    total = 1
    for _, values in grids:
        total *= len(values)
    if total > MAX_POINTS:
        raise UsageError("usage-grid", f"the grid has {total:,} points, more than {MAX_POINTS:,} (limit MAX_POINTS)")
    # the points are analysed with the params read first (by the input, by the first layers)
    # varying slowest: neighbouring points then share the longest prefixes; they are reported in
    # the grid's order
    reads = first_reads(spec)
    order = sorted(range(len(grids)), key=lambda j: reads.get(names[j], len(spec.layers)))
    strides = [1] * len(grids)
    for j in range(len(grids) - 2, -1, -1):
        strides[j] = strides[j + 1] * len(grids[j + 1][1])
    points: list[Optional[Point]] = [None] * total
    memo: dict = {}  # the folds of blocks and the prefixes, shared by the points: most points repeat most blocks of others
    measures = _Measures()  # and the measures of their shared first layers
    for n, picked in enumerate(itertools.product(*(range(len(grids[j][1])) for j in order))):
        chosen = dict(zip(order, picked))
        values = {name: grids[j][1][chosen[j]] for j, name in enumerate(names)}
        slot = sum(chosen[j] * strides[j] for j in range(len(grids)))
        try:
            graph = build_graph(spec.with_params(values), memo=memo)
            measured = None if budgets else measures.measure(graph)
            report = analyze(graph) if measured is None else None
        except ConvcalcError as exc:
            points[slot] = Point(values, {m: None for m in METRICS}, error=exc.render().split("\n")[0])
        else:
            if report is None:
                points[slot] = Point(values, *measured)
            else:
                broken = tuple(b.key for b in budgets if not check_budget(report, b).ok)
                points[slot] = Point(values, measure(report), tuple(report.output_shape), broken=broken)
        if progress is not None:
            progress(n + 1, total)
    return pareto(points, front)


def pareto(points: list[Point], front: tuple[str, ...]) -> list[Point]:
    """Flag the points no other valid point beats: at most as large on every metric of ``front``
    and smaller on one."""
    valid = [p for p in points if p.error is None and all(isinstance(p.metrics.get(m), (int, Fraction)) for m in front)]

    def dominated(p: Point) -> bool:
        return any(
            all(q.metrics[m] <= p.metrics[m] for m in front) and any(q.metrics[m] < p.metrics[m] for m in front)
            for q in valid if q is not p
        )

    flagged = {id(p) for p in valid if not dominated(p)}
    return [Point(p.values, p.metrics, p.output_shape, p.error, p.broken, id(p) in flagged) for p in points]
