"""``convcalc check``: the expectations and budgets written in a spec, held against its report.

Pure functions: they return frozen :class:`Verdict` and :class:`FileResult` objects and print
nothing. Every comparison is exact (ints, ``fractions.Fraction``, sympy for symbolic sizes).

Expectations (``expect:``)
    On an item (a layer, a ``seq``, a residual, a block use, a repeated item) or on the whole model.
    An item's ``shape`` (or ``output``) is its output shape, channels first; ``params``,
    ``buffers``, ``macs``, ``flops`` and ``activations`` of a group are sums over its layers;
    ``activation_bytes`` is ``activations * batch * dtype size``; ``receptive_field`` is the size of
    the field of the item's last layer: one int (every spatial axis) or one per axis. A value may
    be exact arithmetic written as a string (``"28*28*6"``, or ``"6*(H-4)*(W-4)"`` with the spec's
    symbols); an unreadable one is ``check-expect-syntax``.

Budgets (``budget:``)
    ``"<= 25M"``: an operator (``<=``, ``<``, ``>=``, ``>``, ``==``; a bare number means ``<=``,
    since a budget is a ceiling unless it says otherwise), a number (digits, ``_`` between digits,
    a decimal point, an exponent such as ``e9``) and a unit. Counts take K (or k), M, G, T: powers
    of 1000. Byte budgets also take B, KB (or kB), MB, GB, TB (powers of 1000) and KiB, MiB, GiB,
    TiB (powers of 1024). Numbers are exact: ``4.2G`` is 4,200,000,000. A malformed budget is
    ``check-budget-syntax`` at its value. The keys:

    - ``params``, ``buffers``, ``macs``, ``flops``, ``activations``: the totals, per sample;
    - ``activation_bytes``: ``activations * batch * dtype size``;
    - ``peak_activation_bytes``: the most activation bytes alive at once while the layers run one
      after another: the network input and every output from the layer that makes it to the last
      layer that reads it (nothing computed in place);
    - ``receptive_field``: the final layer's field size, the largest over the spatial axes; a
      global field (after flatten, linear or global pooling) satisfies every ``>=`` and ``>``, and
      no ``<=``, ``<`` or ``==``;
    - ``layers``: the number of layers (rows, after blocks and repeats are expanded).

    ``PATH.KEY`` budgets one layer or block, named by its path as ``convcalc summary`` prints it
    (``features.stage4.params: "<= 8M"``; every layer with that path must hold). ``==`` makes it an
    expectation about a layer that the spec does not annotate (``classifier.0.params: "==
    102764544"``). A path that names no layer or block is ``check-unknown-layer``.


Codes
    ``check-expect`` (a wrong value), ``check-expect-syntax``, ``check-budget`` (a budget broken,
    or undecidable for symbolic sizes), ``check-budget-syntax``, ``check-unknown-layer``,
    ``check-baseline``, ``check-against``, ``import-unknown-op``; a spec that cannot be analysed keeps
    its own code (``spec-...``).

A baseline (``--baseline``) and a model (``--against``) are compared by :mod:`convcalc.analysis.drift`;
the results are :mod:`convcalc.analysis.verdict`'s. Their names are importable from here too.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

from convcalc.analysis.drift import (
    BASELINE_TOTALS,
    MAX_AGAINST,
    Baseline,
    compare_against,
    compare_baseline,
    load_baseline,
    load_reference,
    parse_tolerance,
)
from convcalc.analysis.verdict import (
    LABELS,
    BaselineLayer,
    FileResult,
    Verdict,
    json_value,
    text_of,
    worst_exit,
)
from convcalc.arith.dims import dsum, sympy_module
from convcalc.engine import analyze
from convcalc.errors import (
    EXIT_USAGE,
    ConvcalcError,
    Position,
    SpecError,
)
from convcalc.kinds import RFAxis
from convcalc.report import Expectation, Report, Row
from convcalc.spec import BUDGET_KEYS, Spec, did_you_mean, load_spec
from convcalc.spec._expr import ExprError, evaluate
from convcalc.spec.files import not_a_spec, spec_files
from convcalc.spec.zoo import STDIN, read_source

__all__ = [
    "BASELINE_TOTALS",
    "BYTE_KEYS",
    "BYTE_UNITS",
    "COUNT_UNITS",
    "MAX_AGAINST",
    "MAX_EXPONENT",
    "Baseline",
    "BaselineLayer",
    "Budget",
    "FileResult",
    "Verdict",
    "check_budget",
    "check_expectation",
    "check_file",
    "check_paths",
    "check_report",
    "compare_against",
    "compare_baseline",
    "load_baseline",
    "load_reference",
    "parse_budget",
    "parse_budgets",
    "parse_quantity",
    "parse_tolerance",
    "worst_exit",
]

COUNT_UNITS = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_UNITS = {
    **COUNT_UNITS, "B": 1, "KB": 10**3, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}
BYTE_KEYS = ("activation_bytes", "peak_activation_bytes")
MAX_EXPONENT = 30  # 1e30 is past any network; a huge exponent would build a huge int
_SUM_TERMS_SHOWN = 12  # a longer sum shows its first and last terms

_OPS: dict[str, Callable[[Any, Any], Any]] = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
_BUDGET = re.compile(
    r"^\s*(?P<op><=|>=|==|<|>)?\s*(?P<number>\d+(?:_\d+)*(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$"
)
_LABELS = LABELS
_SHAPE_KEYS = ("shape", "output")
_GLOBAL = "global"
_UNKNOWN = "unknown"  # a symbolic peak too long to write (Report.peak_activations), a field not known


# -- budgets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """One ``budget:`` entry: ``metric`` of ``path`` (``""``: the model) ``op`` ``limit``."""

    key: str
    metric: str
    path: str
    op: str
    limit: Fraction
    text: str
    pos: Optional[Position] = None


def parse_quantity(text: str, *, byte_units: bool = False) -> Fraction:
    """``"4.2G"`` -> ``Fraction(4_200_000_000)``, exactly. Raises ``ValueError`` with a reason."""
    match = _BUDGET.match(text)
    if not match or match.group("op"):
        raise ValueError(f"{text!r} is not a number with an optional unit")
    return _scaled(match.group("number"), match.group("unit"), byte_units)


def _scaled(number: str, unit: str, byte_units: bool) -> Fraction:
    units = BYTE_UNITS if byte_units else COUNT_UNITS
    if unit not in units:
        known = ", ".join(u for u in units if u)
        extra = "" if byte_units or unit not in BYTE_UNITS else " (byte units are for activation_bytes and peak_activation_bytes)"
        raise ValueError(f"unknown unit {unit!r}{extra}; units: {known}")
    try:
        value = Decimal(number.replace("_", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"{number!r} is not a number") from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"{number!r} is out of range (exponent limit MAX_EXPONENT = {MAX_EXPONENT})")
    return Fraction(value) * units[unit]


def parse_budget(key: str, value: Any, pos: Optional[Position] = None) -> Budget:
    """Read one budget entry; raise ``SpecError[check-budget-syntax]`` at ``pos`` if malformed."""
    path, _, metric = key.rpartition(".")
    if metric not in BUDGET_KEYS:
        raise SpecError("spec-budget-key", f"unknown budget {metric!r}", pos, did_you_mean(metric, BUDGET_KEYS))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Budget(key, metric, path, "<=", Fraction(value), str(value), pos)
    text = value if isinstance(value, str) else repr(value)
    match = _BUDGET.match(text) if isinstance(value, str) else None
    example = '"<= 200MiB"' if metric in BYTE_KEYS else '"<= 25M" or ">= 200"'
    if not match:
        raise SpecError("check-budget-syntax", f"budget {key}: cannot read {text!r}", pos, f"write an operator, a number and a unit, e.g. {example}")
    try:
        limit = _scaled(match.group("number"), match.group("unit"), metric in BYTE_KEYS)
    except ValueError as exc:
        raise SpecError("check-budget-syntax", f"budget {key}: {exc}", pos, f"e.g. {example}") from None
    return Budget(key, metric, path, match.group("op") or "<=", limit, text.strip(), pos)


def parse_budgets(spec: Spec) -> tuple[Budget, ...]:
    """Every ``budget:`` entry of a spec, in order; the first malformed one raises."""
    return tuple(parse_budget(key, value, spec.pos(("budget", key))) for key, value in spec.budget.items())


# -- what an expectation or budget is about -----------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A row, a group of rows, or the whole model."""

    label: str
    rows: tuple[Row, ...]
    output_shape: tuple
    first: int
    end: int
    is_row: bool = False

    @property
    def last(self) -> Optional[Row]:
        return self.rows[-1] if self.rows else None


def _model(report: Report) -> _Target:
    return _Target("model", report.rows, report.output_shape, 0, len(report.rows))


def _targets(report: Report, path: str) -> list[tuple[tuple[int, int], _Target]]:
    """Every row and group with ``path``, each with its source position (for duplicate names)."""
    if path == "":
        return [((0, 0), _model(report))]
    found = [
        (_where(r.pos), _Target(r.path if r.name else f"{r.path} ({r.kind})", (r,), r.output_shape, r.index, r.index + 1, is_row=True))
        for r in report.rows if r.path == path
    ]
    found += [
        (_where(g.pos), _Target(f"{g.path} ({g.kind})", report.rows[g.first : g.end], g.output_shape, g.first, g.end))
        for g in report.groups if g.path == path
    ]
    return found


def _where(pos: Optional[Position]) -> tuple[int, int]:
    return (pos.line, pos.col) if pos else (0, 0)


def _target_of(report: Report, exp: Expectation, occurrence: int) -> Optional[_Target]:
    """The item an expectation was written on. Paths repeat when names do; the item is the last one
    that starts at or before the ``expect:`` value (an item's keys follow its start), and items
    that start at the same place (one block body used twice under one name) go in fold order."""
    found = _targets(report, exp.path)
    before = [c for c in found if c[0] <= _where(exp.pos)] or found
    if not before:
        return None
    start = max(where for where, _ in before)
    tied = [t for where, t in before if where == start]
    return tied[min(occurrence, len(tied) - 1)]


# -- measuring ----------------------------------------------------------------------------------


def _sum_formula(target: _Target, key: str, label: str) -> tuple[Any, tuple[str, ...]]:
    """A group's count is the sum over its layers: show the non-zero terms."""
    values = [(r, getattr(r, key)) for r in target.rows]
    total = dsum(v for _, v in values)
    terms = [(r, v) for r, v in values if v != 0]
    if len(terms) > _SUM_TERMS_SHOWN:
        shown = [text_of(v) for _, v in terms[: _SUM_TERMS_SHOWN - 3]] + ["..."] + [text_of(v) for _, v in terms[-2:]]
    else:
        shown = [text_of(v) for _, v in terms] or ["0"]
    lines = [f"{label} = sum over the {len(values)} layers of {target.label} ({len(terms)} non-zero) = {' + '.join(shown)} = {text_of(total)}"]
    if len(terms) == 1:
        row = terms[0][0]
        lines += [f"{row.path}: {line}" for line in _row_formulas(row, key)]
    return total, tuple(lines)


def _row_formulas(row: Row, key: str) -> tuple[str, ...]:
    value = getattr(row, key)
    if key == "params":
        found = [f for f in row.formulas if f.startswith("params")]
    elif key == "buffers":
        found = [f for f in row.formulas if "buffers" in f]
    elif key == "macs":
        found = [f for f in row.formulas if f.startswith("MACs")]
    elif key == "flops":
        found = [f"FLOPs = 2*MACs + bias and element-wise work = 2*{text_of(row.macs)} + {text_of(row.flops - 2 * row.macs)} = {text_of(row.flops)}"]
    else:
        names = {1: "C", 2: "C*L", 3: "C*H*W", 4: "C*D*H*W"}.get(len(row.output_shape), "product of the shape")
        found = [f"activations = {names} = {'*'.join(text_of(d) for d in row.output_shape)} = {text_of(value)}"]
    return tuple(found) or (f"{_LABELS[key]} = {text_of(value)} ({row.kind})",)


def _count(target: _Target, key: str) -> tuple[Any, tuple[str, ...]]:
    if target.is_row:
        row = target.rows[0]
        return getattr(row, key), _row_formulas(row, key)
    return _sum_formula(target, key, _LABELS[key])


def _shape_lines(row: Row) -> list[str]:
    lines = [f for f in row.formulas if not f.startswith(("params", "MACs", "FLOPs", "buffers"))]
    for arg, name in (("out_channels", "C_out"), ("out_features", "out")):
        if arg in row.args:
            lines.insert(0, f"{name} = {arg} = {row.args[arg]}")
    return lines


def _shape_formulas(target: _Target) -> tuple[str, ...]:
    """The formulas of the layer that gave the output its shape (layers after it keep the shape)."""
    for row in reversed(target.rows):
        lines = _shape_lines(row)
        if lines:
            return tuple(lines if target.is_row else (f"{row.path}: {line}" for line in lines))
        if row.input_shapes and row.input_shapes[0] != row.output_shape:
            return (f"{row.path} ({row.kind}): {text_of(row.input_shapes[0])} -> {text_of(row.output_shape)}",)
    return ()


def _input_rf(report: Report, row: Optional[Row]) -> tuple[RFAxis, ...]:
    source = row.inputs[0] if row is not None and row.inputs else -1
    return report.rows[source].rf if source >= 0 else tuple(RFAxis() for _ in report.input_shape[1:])


def _rf_formulas(report: Report, target: _Target) -> tuple[str, ...]:
    """How the last layer's field follows from its input's: r_out = r_in + (k_eff-1)*j_in where
    that rule holds exactly, else the exact field composed through the layers (kinds/_rf.py)."""
    row = target.last
    if row is None:
        return ("no layer: the field of the input, 1 pixel",)
    if row.is_global:
        return (f"{row.path} ({row.kind}) sees the whole input: a global receptive field",)
    unknown = next((a.unknown for a in row.rf if not a.known), None)
    prefix = "" if target.is_row else f"{row.path}: "
    if unknown is not None:
        return (f"{prefix}the field is not known: {unknown}",)
    if len(row.inputs) > 1:
        return (f"r = the largest field of the union of the {len(row.inputs)} merged inputs' fields = {text_of(_rf_value(report, row))}",)
    lines = []
    for before, after in zip(_input_rf(report, row), row.rf):
        if after.size == before.size and after.is_simple:
            lines.append(f"r = r_in = {text_of(after.size)} ({row.kind} does not widen the field)")
        elif before.is_simple and after.is_simple and _exact(before.jump):
            grow = Fraction(after.size - before.size) / Fraction(before.jump)
            lines.append(f"r_out = r_in + (k_eff-1)*j_in = {text_of(before.size)} + {text_of(grow)}*{text_of(before.jump)} = {text_of(after.size)}")
        else:
            lines.append(f"r = {text_of(after.size)}, the largest field over the outputs (they differ from one output to the next)")
    unique = list(dict.fromkeys(lines))
    return tuple(prefix + line for line in unique)


def _rf_value(report: Report, row: Optional[Row]) -> Any:
    """The field size per spatial axis, or ``"global"``."""
    if row is None:
        return tuple(a.size for a in _input_rf(report, None))
    if row.is_global:
        return _GLOBAL
    if any(not a.known for a in row.rf):
        return _UNKNOWN
    return tuple(a.size for a in row.rf)


def _measure(report: Report, target: _Target, key: str) -> tuple[Any, tuple[str, ...]]:
    """The value of ``key`` for a target, and the formulas that produce it."""
    if key in _SHAPE_KEYS:
        return tuple(target.output_shape), _shape_formulas(target)
    if key in _LABELS:
        return _count(target, key)
    if key == "activation_bytes":
        elements, lines = _count(target, "activations")
        value = report.bytes_of(elements)
        return value, (*lines, f"activation_bytes = activations*batch*bytes({report.dtype}) = {text_of(elements)}*{text_of(report.batch)}*{report.dtype_bytes} = {text_of(value)}")
    if key == "peak_activation_bytes":
        elements, row = report.peak_activations(target.first, target.end)
        if elements is None:
            return _UNKNOWN, ("peak: no short formula for these symbols (too many live totals, none covering the others); give the input size as numbers to check it",)
        value = report.bytes_of(elements)
        where = f" at {row.path} ({row.kind})" if row is not None else ""
        return value, (f"peak{where}: {text_of(elements)} elements alive * batch {text_of(report.batch)} * {report.dtype_bytes} bytes ({report.dtype}) = {text_of(value)}",)
    if key == "receptive_field":
        return _rf_value(report, target.last), _rf_formulas(report, target)
    assert key == "layers", key
    return len(target.rows), (f"layers = rows of {target.label} after expanding blocks and repeats = {len(target.rows)}",)


# -- comparing ----------------------------------------------------------------------------------


def _exact(value: Any) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


def _equal(expected: Any, actual: Any) -> bool:
    if _exact(expected) and _exact(actual):
        return expected == actual
    if isinstance(expected, str) or isinstance(actual, str):
        return expected == actual
    sp = sympy_module()
    return sp.simplify(sp.sympify(expected) - sp.sympify(actual)) == 0


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (tuple, list)) or isinstance(actual, (tuple, list)):
        if not (isinstance(expected, (tuple, list)) and isinstance(actual, (tuple, list))) or len(expected) != len(actual):
            return False
        return all(_equal(e, a) for e, a in zip(expected, actual))
    return _equal(expected, actual)


def _symbol_env(report: Report) -> dict[str, Any]:
    """The spec's symbols (``H``, ``W``, the batch), for expectations written as formulas."""
    env: dict[str, Any] = {}
    for dim in (*report.input_shape, report.batch):
        for symbol in getattr(dim, "free_symbols", ()):
            env[str(symbol)] = symbol
    return env


def _read_expected(raw: Any, env: dict[str, Any], pos: Position) -> Any:
    """An int stays; a string is exact arithmetic (``"28*28*6"``) in the spec's symbols."""
    if isinstance(raw, list):
        return [_read_expected(v, env, pos) for v in raw]
    if not isinstance(raw, str):
        return raw
    try:
        value = evaluate(raw, env)
    except ExprError as exc:
        raise SpecError("check-expect-syntax", f"cannot read the expected value {raw!r}: {exc.message}", pos, "write a number or exact arithmetic such as \"28*28*6\"") from None
    if isinstance(value, (bool, str)):
        raise SpecError("check-expect-syntax", f"the expected value {raw!r} is not a number", pos)
    return value


def _expected_rf(expected: Any, actual: Any) -> Any:
    """``receptive_field: 5`` means 5 on every spatial axis."""
    if isinstance(expected, int) and isinstance(actual, tuple):
        return tuple(expected for _ in actual)
    return expected


def check_expectation(report: Report, exp: Expectation, env: dict[str, Any], occurrence: int = 0) -> Verdict:
    """Hold one ``expect:`` value against the report."""
    target = _target_of(report, exp, occurrence)
    if target is None:
        return Verdict("expect", False, "check-unknown-layer", f"expect: no layer or block at {exp.path!r}", exp.pos, json_value(exp.expected), None)
    expected = _read_expected(exp.expected, env, exp.pos)
    actual, formulas = _measure(report, target, exp.key)
    wanted = _expected_rf(expected, actual) if exp.key == "receptive_field" else expected
    ok = _same(wanted, actual)
    message = f"{target.label} {exp.key} = {text_of(actual)}" if ok else f"{target.label} {exp.key}: expected {text_of(exp.expected)}, got {text_of(actual)}"
    return Verdict("expect", ok, "check-expect", message, exp.pos, json_value(exp.expected), json_value(actual), formulas)


def _holds(op: str, actual: Any, limit: Fraction) -> Optional[bool]:
    """Does ``actual op limit`` hold? ``None`` when it depends on the spec's symbols."""
    if actual == _GLOBAL:
        return op in (">=", ">")
    if actual == _UNKNOWN:
        return None
    if _exact(actual):
        return bool(_OPS[op](actual, limit))
    sp = sympy_module()
    relation = _OPS[op](sp.sympify(actual), sp.Rational(limit.numerator, limit.denominator))
    if relation in (sp.true, True):
        return True
    if relation in (sp.false, False):
        return False
    return None


def _budget_actual(report: Report, target: _Target, budget: Budget) -> tuple[Any, tuple[str, ...]]:
    actual, formulas = _measure(report, target, budget.metric)
    if budget.metric == "receptive_field" and isinstance(actual, tuple):
        return max(actual, default=1), formulas
    return actual, formulas


def check_budget(report: Report, budget: Budget) -> Verdict:
    """Hold one budget against the report (every layer with the budget's path, if it has one)."""
    found = [t for _, t in _targets(report, budget.path)]
    if not found:
        known = [*(r.path for r in report.rows), *(g.path for g in report.groups)]
        return Verdict(
            "budget", False, "check-unknown-layer",
            f"budget {budget.key}: no layer or block at {budget.path!r}" + (f" ({hint})" if (hint := did_you_mean(budget.path, known)) else ""),
            budget.pos, budget.text, None,
        )
    limit = text_of(budget.limit)
    written = budget.text if budget.text.lstrip("<>=").strip() == limit else f"{budget.text} ({budget.op} {limit})"
    for target in found:
        actual, formulas = _budget_actual(report, target, budget)
        held = _holds(budget.op, actual, budget.limit)
        if held is None:
            symbols = ", ".join(sorted(_symbol_env(report)))
            message = f"{target.label} {budget.metric}: expected {written}, got {text_of(actual)}, which depends on {symbols}: cannot decide"
            return Verdict("budget", False, "check-budget", message, budget.pos, budget.text, json_value(actual), formulas)
        if not held:
            message = f"{target.label} {budget.metric}: expected {written}, got {text_of(actual)}"
            return Verdict("budget", False, "check-budget", message, budget.pos, budget.text, json_value(actual), formulas)
    return Verdict("budget", True, "check-budget", f"{found[-1].label} {budget.metric} = {text_of(actual)}, {written}", budget.pos, budget.text, json_value(actual), formulas)


def check_report(report: Report, budgets: tuple[Budget, ...] = ()) -> tuple[Verdict, ...]:
    """Every expectation of the report and every budget, in source order."""
    env = _symbol_env(report)
    seen: Counter = Counter()
    verdicts = []
    for exp in report.expectations:
        occurrence = seen[(exp.path, exp.key, exp.pos)]
        seen[(exp.path, exp.key, exp.pos)] += 1
        verdicts.append(check_expectation(report, exp, env, occurrence))
    verdicts += [check_budget(report, b) for b in budgets]
    return tuple(sorted(verdicts, key=lambda v: _where(v.pos)))



def _unknown_verdicts(report: Report) -> tuple[Verdict, ...]:
    from convcalc.interop._imported import partial_message

    message = partial_message(report.graph) if report.graph is not None else None
    return (Verdict("import", False, "import-unknown-op", message, Position(report.file or report.name)),) if message else ()


# -- one file -----------------------------------------------------------------------------------


def check_file(target: str, baseline: Optional[Baseline] = None, tolerance: Fraction = Fraction(0), skip_non_specs: bool = False,
               against: Optional[str] = None) -> FileResult:
    """Load, analyse and check one spec file (or built-in model name, or ``-``; or an ONNX file).
    Never raises a :class:`ConvcalcError`: a spec or file fault becomes the result's ``error``.
    With ``skip_non_specs``, a YAML file that is plainly not a spec
    (:func:`convcalc.spec.files.not_a_spec`) is skipped. ``against``: a model to compare with."""
    shown = target
    try:
        from convcalc.interop.onnx_import import is_onnx_path, load_onnx

        if is_onnx_path(target):
            report = analyze(load_onnx(target))
            verdicts = check_report(report) + _unknown_verdicts(report)
            where = Position(target)
            if baseline is not None:
                verdicts += compare_baseline(report, baseline, tolerance, where)
            if against is not None:
                verdicts += compare_against(report, load_reference(against, report.input_shape), against, where)
            return FileResult(shown, verdicts)
        text, shown = read_source(target)
        if _is_answers_file(text):
            return FileResult(shown, _grade_answers(text, shown))
        reason = not_a_spec(text) if skip_non_specs else None
        if reason:
            return FileResult(shown, skipped=reason)
        spec = load_spec(text, shown)
        warnings = layout_warnings(spec)
        budgets = parse_budgets(spec)
        report = analyze(spec)
        verdicts = check_report(report, budgets)
        if baseline is not None:
            verdicts += compare_baseline(report, baseline, tolerance, spec.pos(()))
        if against is not None:
            verdicts += compare_against(report, load_reference(against, spec.input), against, spec.pos(()))
    except ConvcalcError as exc:
        message = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        return FileResult(shown, error=Verdict("error", False, exc.code, message, exc.pos), error_exit=exc.exit_code)
    return FileResult(shown, verdicts, warnings=warnings)


def layout_warnings(spec: Spec) -> tuple[str, ...]:
    """The ``input-layout`` warning ``summary`` prints for a spec whose ``input:`` looks channels
    last (``[224, 224, 3]``), as a line: ``check`` says it too, without failing on it."""
    from convcalc.spec.layout import looks_other_layout, read_as, swap_layout

    dims = tuple(spec.input)
    if not looks_other_layout(dims, "chw"):
        return ()
    written = ", ".join(map(str, dims))
    swapped = ", ".join(map(str, swap_layout(dims, "chw")))
    return (f"{spec.pos(('input',))}: warning[input-layout]: input [{written}] is {read_as(dims, 'chw')} (write [{swapped}])",)


def _is_answers_file(text: str) -> bool:
    from convcalc.teach.exercises import is_answers_file

    return is_answers_file(text)


def _grade_answers(text: str, shown: str) -> tuple[Verdict, ...]:
    """A filled-in ``convcalc exercises`` answers file, graded by :func:`convcalc.teach.exercises.grade`:
    one expectation per question."""
    from convcalc.teach.exercises import grade

    return tuple(
        Verdict("expect", g.ok, g.code, g.message, g.pos, g.expected, g.actual, (g.derivation,) if g.derivation else ())
        for g in grade(text, shown)
    )


def check_paths(targets: list[str], baseline: Optional[Baseline] = None, tolerance: Fraction = Fraction(0), skip_non_specs: bool = False,
                against: Optional[str] = None) -> list[FileResult]:
    """:func:`check_file` for each target; a directory stands for its ``*.yaml`` and ``*.yml``
    files (:func:`convcalc.spec.files.spec_files`), which are checked with ``skip_non_specs``. A directory without
    one is an ``io-no-specs`` error (exit 2): a guard that checks nothing must not pass."""
    results = []
    for target in targets:
        if target != STDIN and Path(target).is_dir():
            found = spec_files(Path(target))
            if not found:
                error = Verdict("error", False, "io-no-specs", "no *.yaml or *.yml file in this directory (hidden ones are not read)", Position(target))
                results.append(FileResult(target, error=error, error_exit=EXIT_USAGE))
            results += [check_file(str(path), baseline, tolerance, skip_non_specs=True, against=against) for path in found]
        else:
            results.append(check_file(target, baseline, tolerance, skip_non_specs, against))
    return results
