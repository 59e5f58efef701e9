"""``convcalc summary --sweep``: one row of totals per input size, as a table, JSON, CSV or Markdown."""

from __future__ import annotations

import json
from typing import Any

from convcalc.render.formats import Format
from convcalc.render.report import format_count, format_shape
from convcalc.report import SCHEMA_VERSION, Report

__all__ = ["COLUMNS", "FORMATS", "draw_sweep", "render_sweep", "sweep_rows"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
COLUMNS = ("input_shape", "output_shape", "params", "macs", "flops", "activations", "activation_bytes")


def sweep_rows(reports: list[Report]) -> list[dict[str, Any]]:
    return [
        {
            "input_shape": list(r.input_shape), "output_shape": list(r.output_shape), "params": r.totals.params,
            "macs": r.totals.macs, "flops": r.totals.flops, "activations": r.totals.activations, "activation_bytes": r.activation_bytes,
        }
        for r in reports
    ]


def render_sweep(reports: list[Report], name: str, format_: Format, layout: str) -> str:
    """JSON (``{schema_version, sweep, rows}``), CSV or Markdown."""
    rows = sweep_rows(reports)
    if format_ == Format.json:
        return json.dumps({"schema_version": SCHEMA_VERSION, "sweep": name, "rows": rows}, indent=2) + "\n"
    if format_ == Format.csv:
        lines = [",".join(COLUMNS)] + [",".join("x".join(map(str, v)) if isinstance(v, list) else str(v) for v in row.values()) for row in rows]
    else:
        assert format_ == Format.markdown, format_
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(format_shape(tuple(v), layout) if isinstance(v, list) else format_count(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def draw_sweep(console, reports: list[Report], name: str, layout: str) -> None:
    """One row per size, fitted to the console (counts in K/M/G when the exact ones do not fit)."""
    from convcalc.render.fit import Column, fit, print_table, width_of, with_compact

    shapes = [(format_shape(r.input_shape, layout), format_shape(r.output_shape, layout)) for r in reports]
    columns = [Column("input", "input", tuple(s[0] for s in shapes)), Column("output", "output", tuple(s[1] for s in shapes), drop=1)]
    for key, header, values in (
        ("params", "params", [r.totals.params for r in reports]), ("macs", "MACs", [r.totals.macs for r in reports]),
        ("flops", "FLOPs", [r.totals.flops for r in reports]), ("bytes", "activation memory (bytes)", [r.activation_bytes for r in reports]),
    ):
        columns.append(with_compact(Column(key, header, tuple(format_count(v) for v in values), right=True, drop=2 if key == "flops" else 0), values))
    fitted = fit(columns, width_of(console))
    print_table(console, fitted, title=f"{reports[0].name}: sweep over {name}")
    note = fitted.note()
    if note:
        console.print(f"[dim]{note}[/dim]", highlight=False)
