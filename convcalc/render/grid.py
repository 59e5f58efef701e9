"""``convcalc sweep``: one row per point of a design-space grid (analysis/grid.py)."""

from __future__ import annotations

import json

from convcalc.analysis.grid import METRICS, Point
from convcalc.arith.dims import format_dim
from convcalc.render.formats import Format, csv_text, markdown_table
from convcalc.render.report import format_count, format_shape
from convcalc.report import SCHEMA_VERSION

__all__ = ["FORMATS", "draw_grid", "render_grid"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
_HEADERS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "peak_activation_bytes": "peak memory", "receptive_field": "RF"}


def _cells(point: Point, names: list[str], compact: bool) -> list[str]:
    values = [str(point.values[n]) for n in names]
    if point.error:
        return [*values, *("" for _ in METRICS), "", f"error: {point.error}"]
    shown = []
    for m in METRICS:
        v = point.metrics[m]
        shown.append(str(v) if isinstance(v, str) else (format_count(v, True) + ("B" if m == "peak_activation_bytes" else "") if compact else format_dim(v)))
    state = ("pareto" if point.pareto else "") + (f" over budget: {', '.join(point.broken)}" if point.broken else "")
    return [*values, *shown, format_shape(point.output_shape), state.strip()]


def render_grid(points: list[Point], names: list[str], front: tuple[str, ...], format_: Format) -> str:
    if format_ == Format.json:
        return json.dumps({"schema_version": SCHEMA_VERSION, "parameters": names, "pareto_metrics": list(front), "points": [p.to_dict() for p in points]}, indent=2) + "\n"
    header = [*names, *METRICS, "output_shape", "status"]
    if format_ == Format.csv:
        return csv_text(header, (_cells(p, names, False) for p in points))
    assert format_ == Format.markdown, format_
    return "\n".join(markdown_table([*names, *(_HEADERS[m] for m in METRICS), "output", ""], (_cells(p, names, True) for p in points))) + "\n"


def draw_grid(console, points: list[Point], names: list[str], front: tuple[str, ...], title: str) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left",
                  caption=f"pareto: no other point has less or equal {' and '.join(front)} with one smaller", caption_justify="left")
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    for m in METRICS:
        table.add_column(_HEADERS[m], justify="right", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column("")
    for p in points:
        table.add_row(*_cells(p, names, True), style="bold" if p.pareto else ("dim" if p.broken or p.error else None))
    console.print(table)
