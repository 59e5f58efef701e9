"""Drift: a spec's report held against a saved report or against the model it describes.

Baseline
    A saved ``convcalc summary SPEC --format json`` report. The per-sample totals (``params``,
    ``buffers``, ``macs``, ``flops``, ``activations``; not the bytes, which depend on the batch and
    dtype the report was made with) and each layer's ``output_shape``, ``params`` and ``macs``,
    matched by ``path``, must agree within a relative tolerance; output shapes and the input shape
    must agree exactly. Each drifted total and each added, removed or changed layer is one
    ``check-baseline`` error.

Against a model
    ``--against MODEL``: an ONNX file or a PyTorch model (``FILE.py:FACTORY``, traced at the spec's
    input). The spec and the model are compared layer by layer, matched by path (a spec written by
    ``convcalc import`` has the model's paths): each layer's output shape, parameters and MACs,
    then the input shape, the output shape and the totals. Each difference is one
    ``check-against`` error, the first :data:`MAX_AGAINST` in the order of the spec's layers, then
    how many more. An ONNX file checked by itself has no expectations; an operation in it that
    convcalc has no kind for fails the check (``import-unknown-op``): a guard must not pass on a
    partial count.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from convcalc.analysis.verdict import (
    LABELS,
    BaselineLayer,
    Verdict,
    json_value,
    text_of,
)
from convcalc.engine import analyze
from convcalc.errors import Position, UsageError
from convcalc.report import Report, Row

__all__ = ["BASELINE_TOTALS", "MAX_AGAINST", "Baseline", "compare_against", "compare_baseline", "load_baseline", "load_reference", "parse_tolerance"]

BASELINE_TOTALS = ("params", "buffers", "macs", "flops", "activations")  # per sample: not the bytes
MAX_AGAINST = 10  # layer differences listed one by one by --against; the rest are counted


# -- baseline -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The parts of a saved ``summary --format json`` report that ``check`` compares."""

    file: str
    input_shape: Optional[tuple]
    totals: dict[str, Any] = field(default_factory=dict)
    layers: tuple[BaselineLayer, ...] = ()


def parse_tolerance(text: str) -> Fraction:
    """``"1%"`` -> ``Fraction(1, 100)``; ``"0"`` means none. Exact, never a float."""
    cleaned = text.strip()
    number = cleaned[:-1].strip() if cleaned.endswith("%") else cleaned
    if not cleaned.endswith("%") and number not in ("0", "0.0"):
        raise UsageError("usage-tolerance", f"--tolerance {text!r}: write a percentage such as 1% or 0.5%")
    try:
        value = Fraction(Decimal(number)) / 100
    except (InvalidOperation, ValueError):
        raise UsageError("usage-tolerance", f"--tolerance {text!r}: {number!r} is not a number") from None
    if value < 0:
        raise UsageError("usage-tolerance", f"--tolerance {text!r}: a tolerance cannot be negative")
    return value


def _malformed(file: str, what: str) -> UsageError:
    return UsageError("usage-baseline", f"{file}: not a `convcalc summary --format json` report: {what}")


def _count_value(value: Any, where: str, file: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _malformed(file, f"{where} is not an integer")
    return value


def _shape_value(value: Any, where: str, file: str) -> tuple:
    if not isinstance(value, list) or any(isinstance(d, bool) or not isinstance(d, (int, str)) for d in value):
        raise _malformed(file, f"{where} is not a list of sizes")
    return tuple(value)


def load_baseline(path: str) -> Baseline:
    """Read a saved report; a file that is missing or not such a report is a :class:`UsageError`."""
    file = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("io-missing", f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError("io-error", f"{file}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise _malformed(file, f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise _malformed(file, "the top level is not an object")
    if data.get("schema_version", 1) != 1:
        raise _malformed(file, f"schema_version {data.get('schema_version')!r} is not 1")
    totals, layers = data.get("totals"), data.get("layers")
    if not isinstance(totals, dict) or not isinstance(layers, list):
        raise _malformed(file, "`totals` (an object) and `layers` (a list) are required")
    read_totals = {k: _count_value(totals[k], f"totals.{k}", file) for k in BASELINE_TOTALS if k in totals}
    read_layers = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("path"), str):
            raise _malformed(file, f"layers[{i}] has no `path`")
        read_layers.append(BaselineLayer(
            layer["path"], _shape_value(layer.get("output_shape"), f"layers[{i}].output_shape", file),
            _count_value(layer.get("params"), f"layers[{i}].params", file), _count_value(layer.get("macs"), f"layers[{i}].macs", file),
        ))
    shape = data.get("input_shape")
    return Baseline(file, _shape_value(shape, "input_shape", file) if shape is not None else None, read_totals, tuple(read_layers))


def _drifted(base: Any, now: Any, tolerance: Fraction) -> bool:
    if isinstance(base, int) and isinstance(now, int):
        return abs(now - base) > tolerance * abs(base)
    return base != now


def _change(base: Any, now: Any) -> str:
    if isinstance(base, int) and isinstance(now, int) and base:
        return f" ({float(Fraction(now - base, base) * 100):+.2f}%)"  # display only; the test above is exact
    return ""


def _keyed(paths) -> list[tuple[str, int]]:
    """(path, occurrence) pairs: a path that repeats is matched in order."""
    seen: Counter = Counter()
    keys = []
    for path in paths:
        keys.append((path, seen[path]))
        seen[path] += 1
    return keys


def compare_baseline(report: Report, baseline: Baseline, tolerance: Fraction, where: Position) -> tuple[Verdict, ...]:
    """Drift between a report and a saved one: one ``check-baseline`` error per total or layer that
    moved beyond ``tolerance`` (relative to the baseline), or one passing verdict."""
    allowed = f"baseline {baseline.file}, tolerance {text_of(tolerance * 100)}%"
    found: list[Verdict] = []
    shape = tuple(json_value(report.input_shape))
    if baseline.input_shape is not None and baseline.input_shape != shape:
        found.append(_drift(f"input shape: expected {text_of(baseline.input_shape)} ({allowed}), got {text_of(shape)}", where, baseline.input_shape, shape))
    totals = {"params": report.totals.params, "buffers": report.totals.buffers, "macs": report.totals.macs, "flops": report.totals.flops, "activations": report.totals.activations}
    for key, base in baseline.totals.items():
        now = json_value(totals[key])
        if _drifted(base, now, tolerance):
            found.append(_drift(f"total {LABELS[key]} drifted: expected {text_of(base)} ({allowed}), got {text_of(now)}{_change(base, now)}", where, base, now))
    found += _layer_drift(report, baseline, tolerance, where, allowed)
    if found:
        return tuple(found)
    return (Verdict("baseline", True, "check-baseline", f"no drift from {baseline.file} beyond {text_of(tolerance * 100)}%", where),)


def _layer_drift(report: Report, baseline: Baseline, tolerance: Fraction, where: Position, allowed: str) -> list[Verdict]:
    before = dict(zip(_keyed(layer.path for layer in baseline.layers), baseline.layers))
    now = {key: (row, _layer_of(row)) for key, row in zip(_keyed(row.path for row in report.rows), report.rows)}
    found = []
    for key, (row, layer) in now.items():
        old = before.get(key)
        if old is None:
            found.append(_drift(f"layer {row.path} ({row.kind}) added: not in the baseline {baseline.file}", row.pos or where, None, layer))
            continue
        changes = []
        if layer.output_shape != old.output_shape:
            changes.append(f"output_shape expected {text_of(old.output_shape)}, got {text_of(layer.output_shape)}")
        for name in ("params", "macs"):
            base, value = getattr(old, name), getattr(layer, name)
            if _drifted(base, value, tolerance):
                changes.append(f"{name} expected {text_of(base)}, got {text_of(value)}{_change(base, value)}")
        if changes:
            found.append(_drift(f"layer {row.path} changed ({allowed}): " + "; ".join(changes), row.pos or where, old, layer))
    for key, old in before.items():
        if key not in now:
            found.append(_drift(f"layer {old.path} removed: in the baseline {baseline.file}, not in the spec", where, old, None))
    return found


def _layer_of(row: Row) -> BaselineLayer:
    """A row as a saved report holds it (symbolic sizes as strings)."""
    return BaselineLayer(row.path, tuple(json_value(row.output_shape)), json_value(row.params), json_value(row.macs))


def _drift(message: str, pos: Position, expected: Any, actual: Any) -> Verdict:
    """Layers become ``{path, output_shape, params, macs}`` objects in the JSON output."""
    return Verdict("baseline", False, "check-baseline", message, pos, json_value(expected), json_value(actual))


# -- against a model -------------------------------------------------------------------------------


def load_reference(target: str, input_shape: tuple) -> Report:
    """The report of the model a spec is checked against: an ONNX file, or a PyTorch model traced at
    the spec's input (``input_shape``)."""
    from convcalc.interop.onnx_import import is_onnx_path, load_onnx
    from convcalc.interop.torch_import import import_torch, is_factory

    if is_onnx_path(target):
        return analyze(load_onnx(target))
    if is_factory(target):
        return analyze(import_torch(target, input_shape))
    raise UsageError("usage-against", f"--against {target!r}: give an ONNX file (*.onnx) or a PyTorch model (FILE.py:FACTORY)")


def compare_against(report: Report, model: Report, label: str, where: Position) -> tuple[Verdict, ...]:
    """Every difference between a spec's report and a model's: one ``check-against`` error per
    layer (matched by path, in the spec's order) and per model-level number, or one passing verdict."""
    found: list[Verdict] = []
    mine, theirs = tuple(json_value(report.input_shape)), tuple(json_value(model.input_shape))
    if mine != theirs:
        found.append(_against(f"input shape: {text_of(mine)} in the spec, {text_of(theirs)} in {label}", where, theirs, mine))
    layers = _layer_differences(report, model, label, where)
    found += layers[:MAX_AGAINST]
    if len(layers) > MAX_AGAINST:
        found.append(_against(f"and {len(layers) - MAX_AGAINST} more layers differ from {label}", where, None, None))
    for what, ours, other in (("output shape", json_value(report.output_shape), json_value(model.output_shape)),
                              ("total params", json_value(report.totals.params), json_value(model.totals.params)),
                              ("total MACs", json_value(report.totals.macs), json_value(model.totals.macs))):
        if ours != other:
            found.append(_against(f"{what}: {text_of(ours)} in the spec, {text_of(other)} in {label}", where, other, ours))
    if found:
        return tuple(found)
    return (Verdict("against", True, "check-against", f"every layer as in {label}: {len(report.rows)} layers, shapes, params and MACs", where),)


def _layer_differences(report: Report, model: Report, label: str, where: Position) -> list[Verdict]:
    theirs = dict(zip(_keyed(row.path for row in model.rows), model.rows))
    found = []
    seen = set()
    for key, row in zip(_keyed(r.path for r in report.rows), report.rows):
        other = theirs.get(key)
        seen.add(key)
        if other is None:
            found.append(_against(f"layer {row.path} ({row.kind}) is in the spec, not in {label}", row.pos or where, None, _layer_of(row)))
            continue
        changes = []
        for name, ours, them in (("output shape", tuple(json_value(row.output_shape)), tuple(json_value(other.output_shape))),
                                 ("params", json_value(row.params), json_value(other.params)), ("MACs", json_value(row.macs), json_value(other.macs))):
            if ours != them:
                changes.append(f"{name} {text_of(ours)} in the spec, {text_of(them)} in {label}")
        if changes:
            found.append(_against(f"layer {row.path} ({row.kind}): " + "; ".join(changes), row.pos or where, _layer_of(other), _layer_of(row)))
    for key, other in theirs.items():
        if key not in seen:
            found.append(_against(f"layer {other.path} ({other.kind}) of {label} is not in the spec", where, _layer_of(other), None))
    return found


def _against(message: str, pos: Position, expected: Any, actual: Any) -> Verdict:
    return Verdict("against", False, "check-against", message, pos, json_value(expected), json_value(actual))
