"""Frozen results: one row per leaf layer, groups for blocks, totals summed once from the rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from operator import add
from typing import Any, Optional

from convcalc.conventions import DTYPE_BYTES
from convcalc.arith.dims import Dim, all_int, dsum, prod, to_json_dim
from convcalc.errors import Position
from convcalc.graph.model import Expectation
from convcalc.report._display import Displayed
from convcalc.kinds import RFAxis

__all__ = ["SCHEMA_VERSION", "Condition", "Diagnostic", "Expectation", "Group", "Report", "Row", "Totals", "report_dict", "rf_axis_json", "rf_json", "shape_json"]


SCHEMA_VERSION = 1  # of every JSON document convcalc writes; bumped only when a key changes meaning


@dataclass(frozen=True, slots=True)
class Row:
    """One leaf layer: what went in, what came out, and what it cost (per sample)."""

    index: int
    path: str
    name: str
    kind: str
    depth: int
    input_shapes: tuple[tuple[Dim, ...], ...]
    output_shape: tuple[Dim, ...]
    params: Dim
    buffers: Dim
    macs: Dim
    flops: Dim
    rf: tuple[RFAxis, ...]
    is_global: bool
    inputs: tuple[int, ...]  # indices of the rows feeding it; -1 is the network input
    pos: Optional[Position] = None
    notes: tuple[str, ...] = ()
    derivations: Any = ()  # the formulas, or a function that writes them on first use
    args: dict[str, Any] = field(default_factory=dict)
    output_shapes: tuple[tuple[Dim, ...], ...] = ()  # every output (a split has several); () means (output_shape,)
    input_ports: tuple[int, ...] = ()  # which output of each input row it reads (0 unless that row has several)
    layer: Any = field(default=None, repr=False, compare=False)  # the layer kind instance, its arguments validated
    functional: bool = False  # called as a function in PyTorch (F.relu), not a module
    backward_macs: Dim = 0  # the MACs of its backward pass in a training step (LayerKind.backward_macs)

    @property
    def activations(self) -> Dim:
        """Elements of the outputs (of every output, for a layer with several)."""
        if len(self.output_shapes) > 1:
            return dsum(prod(shape) for shape in self.output_shapes)
        return prod(self.output_shape)

    @property
    def formulas(self) -> tuple[str, ...]:
        """Each formula in symbols, then with the numbers, then the result (``explain``, ``check``)."""
        return tuple(self.derivations()) if callable(self.derivations) else tuple(self.derivations)


@dataclass(frozen=True, slots=True)
class Group:
    """A block, residual, branch set or repeat: rows ``[first, end)`` of the report."""

    path: str
    name: str
    kind: str
    depth: int
    first: int
    end: int
    output_shape: tuple[Dim, ...]
    pos: Optional[Position] = None


@dataclass(frozen=True)
class Diagnostic:
    """A warning (or error, or notice) the report lists: a stable code and a message for people."""

    code: str
    message: Any  # str, or Lazy: the text is written when it is read
    pos: Optional[Position] = None
    severity: str = "warning"


@dataclass(frozen=True)
class Condition:
    """A symbolic size that must be at least 1 for the network to be valid."""

    path: str
    size: Any  # a sympy expression in the input symbols
    message: Any  # str, or Lazy: the text is written when it is read
    pos: Optional[Position] = None
    equal: bool = False  # the size must be 0, not >= 1: a layer's input fixed by its weights


@dataclass(frozen=True)
class Totals:
    """Sums over the rows, computed once (per sample)."""

    params: Dim
    buffers: Dim
    macs: Dim
    flops: Dim
    activations: Dim


@dataclass(frozen=True)
class Report(Displayed):
    """A network analysed at one input: its rows, groups, totals, memory and diagnostics. In a
    notebook it shows as its table (``_repr_html_``, ``_repr_markdown_``: :mod:`convcalc.report._display`)."""

    name: str
    description: str
    input_shape: tuple[Dim, ...]
    batch: Dim
    output_shape: tuple[Dim, ...]
    rows: tuple[Row, ...]
    groups: tuple[Group, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    conditions: tuple[Condition, ...] = ()
    dtype: str = "float32"
    file: str = ""
    graph: Any = field(default=None, repr=False, compare=False)  # the Graph folded, for readers that walk it

    @property
    def backward_macs(self) -> Dim:
        """MACs of the backward pass of one training step (per sample)."""
        return dsum(r.backward_macs for r in self.rows)

    @property
    def training_macs(self) -> Dim:
        """Forward and backward MACs of one training step (per sample)."""
        return self.totals.macs + self.backward_macs

    @cached_property
    def totals(self) -> Totals:
        return Totals(
            params=dsum(r.params for r in self.rows),
            buffers=dsum(r.buffers for r in self.rows),
            macs=dsum(r.macs for r in self.rows),
            flops=dsum(r.flops for r in self.rows),
            activations=dsum(self._activations),
        )

    @cached_property
    def _activations(self) -> list[Dim]:
        """Each row's activations, in order (the totals and the peak read them)."""
        return [r.activations for r in self.rows]

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def bytes_of(self, elements: Dim | None) -> Dim | None:
        return None if elements is None else elements * self.batch * self.dtype_bytes

    @property
    def activation_bytes(self) -> Dim:
        return self.bytes_of(self.totals.activations)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The names of the symbolic sizes, in input order (``("H", "W")``); empty on the integer path."""
        return tuple(str(d) for d in (*self.input_shape, self.batch) if not isinstance(d, int))

    def subs(self, values: dict[str, int]) -> Report:
        """Substitute sizes for symbols everywhere: the integer report of that input."""
        from convcalc.report._substitute import substitute_report

        return substitute_report(self, values)

    def peak_activations(self, first: int = 0, end: int | None = None) -> tuple[Dim | None, Row | None]:
        """Most elements alive at once while rows ``[first, end)`` run, one at a time (inference).

        A tensor lives from the row that makes it to the last row that reads it (a skip
        connection keeps its tensor alive until its merge); the network input until its last
        reader. Returns the peak and the row at which it is reached. Theoretical: no allocator
        reuse, no in-place operations, no workspace. With symbolic sizes the peak is a ``Max`` of
        the candidates no other one covers, and no row (it depends on the input); ``None`` when
        that formula would be too long to be useful (``peak_of``).
        """
        end = len(self.rows) if end is None else end
        last_read: dict[int, int] = {}  # a row's index is its place in the rows, as everywhere here
        for row in self.rows:
            for source in row.inputs:
                last_read[source] = row.index
        input_elements = prod(self.input_shape)
        activations = self._activations
        if isinstance(input_elements, int) and all_int(activations):
            return self._int_peak(last_read, input_elements, max(first, 0), min(end, len(self.rows)))
        freed: dict[int, list[int]] = {}
        for source, index in last_read.items():
            freed.setdefault(index, []).append(source)
        live: Dim = input_elements if -1 in last_read else 0
        values: list[Dim] = []  # alive at each row of the range, in two lists: no tuple a row for the collector to walk
        seen: list[Row] = []
        for row, made in zip(self.rows, activations):
            live = live + made
            if first <= row.index < end:
                values.append(live)
                seen.append(row)
            for source in freed.get(row.index, ()):
                live = live - (activations[source] if source >= 0 else input_elements)
            if row.index not in last_read:
                live = live - made
        if all_int(values):
            peak: Dim = 0
            at: Row | None = None
            for value, row in zip(values, seen):
                if value > peak or at is None:
                    peak, at = max(value, peak), row
            return peak, at
        from convcalc.arith._symbolic import peak_of

        return peak_of(list(zip(values, seen)))

    def _int_peak(self, last_read: dict[int, int], input_elements: int, first: int, end: int) -> tuple[int, Row | None]:
        """:meth:`peak_activations` in integers, as running sums: what each row leaves alive (its
        output, less the tensors it reads last, less its output when no row reads it), summed
        from the network input on; the first row of the range with the most alive."""
        activations = self._activations
        steps = list(activations)
        for source, index in last_read.items():
            steps[index] -= activations[source] if source >= 0 else input_elements
        for index, made in enumerate(activations):
            if index not in last_read:
                steps[index] -= made
        before = list(accumulate(steps[:end], initial=input_elements if -1 in last_read else 0))  # alive as a row starts
        values = list(map(add, before[first:end], activations[first:end]))  # and while it runs
        if not values:
            return 0, None
        at = max(range(len(values)), key=values.__getitem__)  # the first of the largest
        return values[at], self.rows[first + at]

    @property
    def memory(self) -> dict[str, Any]:
        """Theoretical memory in bytes at this report's batch and dtype.

        inference: the peak of activations alive at once, plus the weights (params + buffers).
        training: every layer's output is kept for the backward pass (plus the input), and the
        weights have gradients of the same size; optimizer state is not included.
        """
        peak, at = self.peak_activations()
        t = self.totals
        weights = (t.params + t.buffers) * self.dtype_bytes
        kept = self.bytes_of(t.activations + prod(self.input_shape))
        return {
            "dtype": self.dtype,
            "batch": self.batch,
            "activation_bytes": self.activation_bytes,
            "peak_activation_bytes": self.bytes_of(peak),
            "peak_at": at.path if at else None,
            "weight_bytes": weights,
            "inference_bytes": None if peak is None else self.bytes_of(peak) + weights,
            "training_activation_bytes": kept,
            "training_bytes": kept + weights + t.params * self.dtype_bytes,
        }

    def row(self, path: str) -> Row | None:
        return next((r for r in self.rows if r.path == path), None)

    # -- in Python and notebooks ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Exactly the document ``convcalc summary --format json`` prints (README: The JSON report)."""
        return report_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)

    def to_dataframe(self):
        """One row per layer, indexed by path: kind, shapes, the exact counts (Python ints, or
        formulas on the symbolic path), activation bytes and the receptive field per axis.
        Needs pandas (``pip install pandas``), which convcalc does not depend on."""
        try:
            import pandas
        except ModuleNotFoundError:
            raise ModuleNotFoundError("Report.to_dataframe() needs pandas, which convcalc does not install: pip install pandas") from None
        records = [
            {
                "path": r.path, "name": r.name or r.path.rsplit(".", 1)[-1], "kind": r.kind, "depth": r.depth,
                "input_shape": r.input_shapes[0] if r.input_shapes else None, "output_shape": r.output_shape, "params": r.params, "buffers": r.buffers,
                "macs": r.macs, "flops": r.flops, "activations": r.activations, "activation_bytes": self.bytes_of(r.activations),
                "rf_size": None if r.is_global else tuple(a.size for a in r.rf),
                "rf_jump": None if r.is_global else tuple(a.jump for a in r.rf),
                "rf_global": r.is_global,
            }
            for r in self.rows
        ]
        frame = pandas.DataFrame.from_records(records, columns=list(records[0]) if records else None)
        return frame.set_index("path")

    def __repr__(self) -> str:
        def shape(s: tuple) -> str:
            return "(" + ", ".join(str(d) for d in s) + ")"

        t = self.totals
        counts = ", ".join(f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}" for name, value in (("params", t.params), ("MACs", t.macs)))
        return f"<Report {self.name}: {shape(self.input_shape)} -> {shape(self.output_shape)}, {len(self.rows)} layers, {counts}>"


    def group(self, path: str) -> Group | None:
        return next((g for g in self.groups if g.path == path), None)


# -- the JSON document (one function for `summary --format json` and Report.to_dict) ----------


def rf_axis_json(a: RFAxis) -> dict[str, Any]:
    """One axis of a ``receptive_field``: the keys of schema 1 (``size``, ``jump``, ``start``,
    ``padding``), ``first`` (the first output's interval ``[lo, hi]``, null if it reads nothing),
    ``period`` (the fields repeat every so many outputs) and, when the field is not known,
    ``unknown`` (why; ``size``, ``start``, ``padding`` and ``first`` are then null)."""
    def value(x):
        return None if x is None else to_json_dim(x)

    first = a.first
    data = {
        "size": value(a.size), "jump": value(a.jump), "start": value(a.start), "padding": value(a.padding),
        "first": None if first is None else [value(first[0]), value(first[1])], "period": a.period,
    }
    if not a.known:
        data["unknown"] = a.unknown
    return data


def rf_json(row: Row) -> list[dict[str, Any]]:
    return [rf_axis_json(a) for a in row.rf]


def shape_json(shape: tuple) -> list:
    return [to_json_dim(d) for d in shape]


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON contract (the README's "The JSON report"): these keys are stable within a
    schema_version. ``render.report.json_chunks`` writes the same document from these pieces."""
    data = head_dict(report)
    data["layers"] = [layer_dict(report, r) for r in report.rows]
    data["groups"] = [group_dict(g) for g in report.groups]
    data.update(tail_dict(report))
    return data


def head_dict(report: Report) -> dict[str, Any]:
    """The keys before ``layers``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": report.name,
        "description": report.description,
        "input_shape": shape_json(report.input_shape),
        "batch": to_json_dim(report.batch),
        "dtype": report.dtype,
        "output_shape": shape_json(report.output_shape),
    }


def layer_dict(report: Report, r: Row) -> dict[str, Any]:
    return {
        "path": r.path,
        "name": r.name or r.path.rsplit(".", 1)[-1],
        "kind": r.kind,
        "depth": r.depth,
        "input_shape": shape_json(r.input_shapes[0]) if r.input_shapes else None,  # a parameter reads no input
        "input_shapes": [shape_json(s) for s in r.input_shapes],
        "output_shape": shape_json(r.output_shape),
        "params": to_json_dim(r.params),
        "buffers": to_json_dim(r.buffers),
        "macs": to_json_dim(r.macs),
        "flops": to_json_dim(r.flops),
        "activations": to_json_dim(r.activations),
        "activation_bytes": to_json_dim(report.bytes_of(r.activations)),
        "receptive_field": rf_json(r),
        "receptive_field_global": r.is_global,
        "inputs": list(r.inputs),
        "notes": list(r.notes),
    }


def group_dict(g: Group) -> dict[str, Any]:
    return {"path": g.path, "kind": g.kind, "depth": g.depth, "first": g.first, "end": g.end, "output_shape": shape_json(g.output_shape)}


def tail_dict(report: Report) -> dict[str, Any]:
    """The keys after ``groups``."""
    totals = report.totals
    return {
        "totals": {
            "params": to_json_dim(totals.params),
            "buffers": to_json_dim(totals.buffers),
            "macs": to_json_dim(totals.macs),
            "flops": to_json_dim(totals.flops),
            "activations": to_json_dim(totals.activations),
            "activation_bytes": to_json_dim(report.activation_bytes),
        },
        "memory": {k: (to_json_dim(v) if not isinstance(v, str) and v is not None else v) for k, v in report.memory.items()},
        "diagnostics": [{"code": d.code, "message": d.message, "severity": d.severity, "position": str(d.pos) if d.pos else None} for d in report.diagnostics],
    }
