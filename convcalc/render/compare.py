"""``convcalc compare`` as text: a legend (A, B, ...), one row per metric with each entry's ratio
to the first as a decimal (:func:`convcalc.analysis.compare.decimal_text`: 3 significant digits),
and the textbook savings; JSON keeps each ratio as an exact fraction and a float; CSV and
Markdown have one row per entry. Shapes follow ``layout`` (chw or hwc), except in JSON: channels
first, as every JSON report."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Optional

from convcalc.analysis.compare import METRICS, Comparison, comparison_to_dict, decimal_text
from convcalc.arith.dims import format_dim
from convcalc.render.formats import Format, csv_text, markdown_table
from convcalc.render.report import format_count, format_shape, ordered

__all__ = ["FORMATS", "draw_comparison", "ratio_cell", "render_comparison"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
_HEADERS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activation_bytes": "activation memory (bytes)"}


def ratio_cell(ratio: Optional[Fraction]) -> str:
    """A ratio in the table: ``0.311``; ``-`` when there is none (a 0 or a symbol below it)."""
    return "-" if ratio is None else decimal_text(ratio)


def _letters(comparison: Comparison) -> list[str]:
    return [chr(ord("A") + i) for i in range(len(comparison.entries))]


def _legend(comparison: Comparison, layout: str) -> list[str]:
    lines = []
    for letter, entry in zip(_letters(comparison), comparison.entries):
        report = entry.report
        name = "" if report.name in entry.label else f"{report.name}; "
        lines.append(f"{letter}: {entry.label}  ({name}{format_shape(report.input_shape, layout)} -> {format_shape(report.output_shape, layout)})")
    return lines


def _header(comparison: Comparison) -> list[str]:
    """A column per entry, each but the first followed by its ratio to the first."""
    header = [""]
    for i, letter in enumerate(_letters(comparison)):
        header += [letter] + ([f"{letter}/A"] if i else [])
    return header


def _metric_rows(comparison: Comparison) -> list[list[str]]:
    """One row per metric: each entry's value, and its ratio to the first."""
    rows = []
    for metric in METRICS:
        cells = [_HEADERS[metric]]
        for i, entry in enumerate(comparison.entries):
            cells += [format_count(entry.value(metric))] + ([ratio_cell(comparison.ratio(i, metric))] if i else [])
        rows.append(cells)
    return rows


def _table(comparison: Comparison, layout: str):
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for i, column in enumerate(_header(comparison)):
        table.add_column(column, justify="right" if i else "left", no_wrap=bool(i))
    for cells in _metric_rows(comparison):
        table.add_row(*cells)
    shapes = ["output shape"]
    for i, entry in enumerate(comparison.entries):
        shapes += [format_shape(entry.report.output_shape, layout)] + ([""] if i else [])
    table.add_row(*shapes)
    return table


def _savings(comparison: Comparison) -> list[str]:
    letter_of: dict[str, str] = {}
    for letter, entry in zip(_letters(comparison), comparison.entries):
        letter_of.setdefault(entry.label, letter)  # a spec named twice keeps its first letter
    lines = []
    for saving in comparison.savings:
        first, *rest = saving.lines()
        lines.append(f"{letter_of[saving.labels[0]]} vs {letter_of[saving.labels[1]]} ({saving.title}): {first}")
        lines += [f"  {line}" for line in rest]
    return lines


def draw_comparison(console, comparison: Comparison, layout: str = "chw") -> None:
    for line in _legend(comparison, layout):
        console.print(line, soft_wrap=True, markup=False)
    console.print(_table(comparison, layout))
    for line in _savings(comparison):
        console.print(line, soft_wrap=True, markup=False)


def _rows(comparison: Comparison, layout: str) -> tuple[list[str], list[list[str]]]:
    """CSV: one row per entry, each metric and its ratio to the first (exact, and as a decimal)."""
    header = ["entry", "label", "name", "input_shape", "output_shape"]
    for metric in METRICS:
        header += [metric, f"{metric}_ratio", f"{metric}_ratio_decimal"]
    rows = []
    for i, (letter, entry) in enumerate(zip(_letters(comparison), comparison.entries)):
        report = entry.report
        row = [letter, entry.label, report.name, "x".join(map(format_dim, ordered(report.input_shape, layout))), "x".join(map(format_dim, ordered(report.output_shape, layout)))]
        for metric in METRICS:
            ratio = comparison.ratio(i, metric)
            row += [format_dim(entry.value(metric)), "" if ratio is None else str(ratio), "" if ratio is None else decimal_text(ratio)]
        rows.append(row)
    return header, rows


def render_comparison(comparison: Comparison, format_: Format, layout: str = "chw") -> str:
    """JSON (:func:`convcalc.analysis.compare.comparison_to_dict`), CSV or Markdown."""
    if format_ == Format.json:
        return json.dumps(comparison_to_dict(comparison), indent=2) + "\n"
    if format_ == Format.csv:
        return csv_text(*_rows(comparison, layout))
    assert format_ == Format.markdown, format_
    return _markdown(comparison, layout)


def _markdown(comparison: Comparison, layout: str) -> str:
    """The table as the terminal shows it, with the legend above and the savings below."""
    header = _header(comparison)
    lines = [*(f"- {line}" for line in _legend(comparison, layout)), "", *markdown_table(header, _metric_rows(comparison), [False] + [True] * (len(header) - 1))]
    if comparison.savings:
        lines += ["", *(f"{line}  " for line in _savings(comparison))]
    return "\n".join(lines) + "\n"
