"""``convcalc rf``: the receptive field of every layer (size, jump, start, effective padding) as a
table (:func:`convcalc.render.report.render_rf_table`), JSON, CSV or Markdown."""

from __future__ import annotations

import json

from convcalc.render.formats import Format, csv_text, markdown_table
from convcalc.arith.dims import format_dim
from convcalc.render.report import format_rf, format_shape, ordered, receptive_field_rows
from convcalc.report import SCHEMA_VERSION, Report

__all__ = ["COLUMNS", "FORMATS", "render_rf"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
COLUMNS = ("path", "kind", "output_shape", "rf_size", "rf_jump", "rf_start", "rf_padding")
_QUANTITIES = ("size", "jump", "start", "padding")


def _cells(report: Report, layout: str, csv_shapes: bool) -> list[list[str]]:
    """Per row: path, kind, output shape (``6x28x28`` in CSV), then size, jump, start and padding
    (one value when every axis agrees, else ``AxB``; ``global`` after flatten, linear or global
    pooling)."""
    return [
        [r.path, r.kind, "x".join(format_dim(d) for d in ordered(r.output_shape, layout)) if csv_shapes else format_shape(r.output_shape, layout),
         *(format_rf(r.rf, r.is_global, what) for what in _QUANTITIES)]
        for r in report.rows
    ]


def render_rf(report: Report, format_: Format, layout: str) -> str:
    """JSON (``{schema_version, name, layers: [{path, kind, output_shape, global,
    receptive_field}]}``), CSV (one row per layer) or Markdown."""
    if format_ == Format.json:
        return json.dumps({"schema_version": SCHEMA_VERSION, "name": report.name, "layers": receptive_field_rows(report)}, indent=2) + "\n"
    if format_ == Format.csv:
        return csv_text(COLUMNS, _cells(report, layout, True))
    assert format_ == Format.markdown, format_
    header = ("layer", "kind", "output shape", "size", "jump", "start", "eff. padding")
    table = markdown_table(header, _cells(report, layout, False), (False, False, False, True, True, True, True))
    return "\n".join([f"## {report.name}: receptive field", "", *table]) + "\n"
