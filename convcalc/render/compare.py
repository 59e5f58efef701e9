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


def _legend(comparison: Comparison, layout: str = "chw") -> list[str]:
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


def _column_groups(comparison: Comparison, layout: str) -> list[list]:
    """The metric names, then per entry its values (and its ratio to the first) as columns."""
    from convcalc.render.fit import Column, with_compact

    names = [_HEADERS[metric] for metric in METRICS] + ["output shape"]
    groups = [[Column("metric", "", tuple(names))]]
    for i, (letter, entry) in enumerate(zip(_letters(comparison), comparison.entries)):
        values = [entry.value(metric) for metric in METRICS]
        shape = format_shape(entry.report.output_shape, layout)
        exact = Column(letter, letter, (*(format_count(v) for v in values), shape), right=True)
        group = [with_compact(exact, [*values, None])]
        if i:
            ratios = tuple(ratio_cell(comparison.ratio(i, metric)) for metric in METRICS)
            group.append(Column(f"{letter}/A", f"{letter}/A", (*ratios, ""), right=True))
        groups.append(group)
    return groups


def _tables(comparison: Comparison, width: Optional[int], layout: str = "chw") -> list:
    """The table fitted to ``width``: counts in K/M/G if need be, and, when the entries still do
    not fit side by side, several tables of as many entries as fit, each with the metric names."""
    from convcalc.render.fit import fit, table_width

    groups = _column_groups(comparison, layout)
    whole = fit([column for group in groups for column in group], width)
    if width is None or whole.total <= width:
        return [whole]
    label, entries = groups[0], groups[1:]
    compact_width = lambda columns: table_width([c.natural(True) for c in columns])  # noqa: E731
    chunks: list[list] = []
    for group in entries:
        if chunks and compact_width(label + chunks[-1] + group) <= width:
            chunks[-1] += group
        else:
            chunks.append(list(group))
    return [fit(label + chunk, width, compact_only=True) for chunk in chunks]


def draw_comparison(console, comparison: Comparison, layout: str = "chw") -> None:
    from convcalc.render.fit import print_table, print_wrapped, width_of

    for line in _legend(comparison, layout):
        print_wrapped(console, line, hanging="   ")
    tables = _tables(comparison, width_of(console), layout)
    for fitted in tables:
        console.print()
        print_table(console, fitted)
    console.print()
    for line in _savings(comparison):
        rest = line.lstrip(" ")
        print_wrapped(console, rest, indent=line[: len(line) - len(rest)], hanging="    ")
    note = tables[0].note()
    if len(tables) > 1:
        note += f"; the entries in {len(tables)} tables"
    if note:
        console.print(f"[dim]{note}[/dim]", highlight=False)


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


def _markdown(comparison: Comparison, layout: str = "chw") -> str:
    """The table as the terminal shows it, with the legend above and the savings below."""
    header = _header(comparison)
    lines = [*(f"- {line}" for line in _legend(comparison, layout)), "", *markdown_table(header, _metric_rows(comparison), [False] + [True] * (len(header) - 1))]
    if comparison.savings:
        lines += ["", *(f"{line}  " for line in _savings(comparison))]
    return "\n".join(lines) + "\n"
