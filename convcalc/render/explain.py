"""``convcalc layer`` and ``convcalc explain`` as text: the derivations of :mod:`convcalc.teach.explain`
printed for people, or one JSON object with the selected rows and their formulas."""

from __future__ import annotations

import json
from typing import Any

from convcalc.arith.dims import dsum, to_json_dim
from convcalc.kinds._window import axis_names
from convcalc.render.fit import print_wrapped
from convcalc.render.formats import Format
from convcalc.render.report import format_count, format_shape, ordered, rf_axis_json
from convcalc.report import SCHEMA_VERSION, Report, Row
from convcalc.teach.explain import explain_row, rf_summary, rf_text

__all__ = ["FORMATS", "print_explained", "print_layer", "render_json"]

FORMATS = (Format.table, Format.json)
_LAYOUT_AXES = {1: "features", 2: "L x C", 3: "H x W x C", 4: "D x H x W x C"}


def _row_dict(report: Report, row: Row, layout: str) -> dict[str, Any]:
    return {
        "path": row.path,
        "name": row.name or row.path.rsplit(".", 1)[-1],
        "kind": row.kind,
        "input_shape": [to_json_dim(d) for d in ordered(row.input_shapes[0], layout)] if row.input_shapes else None,
        "output_shape": [to_json_dim(d) for d in ordered(row.output_shape, layout)],
        "arguments": row.args,
        "params": to_json_dim(row.params),
        "buffers": to_json_dim(row.buffers),
        "macs": to_json_dim(row.macs),
        "flops": to_json_dim(row.flops),
        "activations": to_json_dim(row.activations),
        "receptive_field": [{"axis": name, **rf_axis_json(a)} for name, a in zip(axis_names(len(row.rf)), row.rf)],
        "receptive_field_global": row.is_global,
        "formulas": explain_row(report, row),
    }


def render_json(report: Report, rows: list[Row], layout: str, command: str) -> str:
    """One JSON object: the selected rows, each with its derivations; shapes in ``layout`` order.
    ``totals`` sums the selected rows (for ``layer``: the layer, and the flatten before a linear one)."""
    totals = {key: to_json_dim(dsum(getattr(row, key) for row in rows)) for key in ("params", "buffers", "macs", "flops", "activations")}
    data = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "name": report.name,
        "layout": layout,
        "input_shape": [to_json_dim(d) for d in ordered(report.input_shape, layout)],
        "output_shape": [to_json_dim(d) for d in ordered(report.output_shape, layout)],
        "layers": [_row_dict(report, row, layout) for row in rows],
        "totals": totals,
    }
    return json.dumps(data, indent=2, default=str) + "\n"


def print_layer(console, report: Report, layout: str, explain: bool) -> None:
    """The one layer of a ``convcalc layer`` report (and the flatten before a linear one)."""
    from rich.table import Table

    row = report.rows[-1]
    axes = _LAYOUT_AXES[len(report.input_shape)] if layout == "hwc" else "channels first"
    console.print(f"{row.kind}  {format_shape(report.input_shape, layout)} -> {format_shape(row.output_shape, layout)}  ({axes})", markup=False)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    if row.args:
        table.add_row("arguments", ", ".join(f"{key}={value}" for key, value in row.args.items()))
    for earlier in report.rows[:-1]:
        table.add_row("first", f"{earlier.kind}: {format_shape(earlier.input_shapes[0], layout)} -> {format_shape(earlier.output_shape, layout)}")
    table.add_row("output shape", format_shape(row.output_shape, layout))
    table.add_row("params", format_count(row.params) + (f" (+ {format_count(row.buffers)} buffers)" if row.buffers else ""))
    table.add_row("MACs", format_count(row.macs))
    table.add_row("FLOPs", format_count(row.flops))
    table.add_row("activations", format_count(row.activations))
    table.add_row("receptive field", "\n".join(rf_text(row)))
    if row.notes:
        table.add_row("notes", "\n".join(row.notes))
    console.print(table)
    if explain:
        for each in report.rows:
            for line in explain_row(report, each):
                print_wrapped(console, line)


def print_explained(console, report: Report, rows: list[Row], layout: str) -> None:
    """Each selected row: its shapes, every derivation, then the results in one line."""
    print_wrapped(console, f"{report.name}  input {format_shape(report.input_shape, layout)}")
    for row in rows:
        shapes = " + ".join(format_shape(s, layout) for s in row.input_shapes)
        console.print()
        print_wrapped(console, f"{row.path} ({row.kind})  {shapes} -> {format_shape(row.output_shape, layout)}", style="bold")
        for line in explain_row(report, row):
            print_wrapped(console, line, indent="  ")
        rf = rf_summary(row)
        print_wrapped(
            console,
            f"= params {format_count(row.params)}, MACs {format_count(row.macs)}, FLOPs {format_count(row.flops)}, "
            f"activations {format_count(row.activations)}" + (f", RF {rf}" if rf else ""),
            indent="  ",
        )
