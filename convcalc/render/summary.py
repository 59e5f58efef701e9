"""``convcalc summary`` in every format but the table (the table is :func:`render_table`):
JSON, CSV, Markdown, and GitHub workflow annotations for the report's diagnostics."""

from __future__ import annotations

import json
from typing import Any, Optional

from convcalc.render.formats import Format
from convcalc.render.github import annotation
from convcalc.render.report import render_csv, render_extra, render_markdown, report_to_dict
from convcalc.arith.dims import to_json_dim
from convcalc.report import Report

__all__ = ["FORMATS", "render_annotations", "render_summary"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown, Format.github)


def render_annotations(report: Report) -> str:
    """One ``::warning file=...,line=...,col=...::`` line per diagnostic (``error`` and ``notice``
    for those severities), to print after the table under GitHub Actions."""
    lines = [
        annotation(d.severity, f"{d.message}", report.file or report.name, d.pos, f"convcalc {d.code}")
        for d in report.diagnostics
    ]
    return "".join(f"{line}\n" for line in lines)


def render_summary(report: Report, format_: Format, extra: dict[str, Any], depth: Optional[int], layout: str) -> str:
    """JSON (the report, and ``extra``: validity conditions, exact sizes, a compat total), CSV
    (the rows) or Markdown (the table and ``extra``)."""
    if format_ == Format.json:
        data = report_to_dict(report)
        if extra.get("training"):
            for layer, row in zip(data["layers"], report.rows):
                layer["backward_macs"] = to_json_dim(row.backward_macs)
            data["totals"]["backward_macs"] = to_json_dim(report.backward_macs)
            data["totals"]["training_macs"] = to_json_dim(report.training_macs)
        data.update({k: v for k, v in extra.items() if k != "training"})
        return json.dumps(data, indent=2) + "\n"
    if format_ == Format.csv:
        return render_csv(report, layout)
    assert format_ == Format.markdown, format_
    return render_markdown(report, depth, layout) + render_extra(extra, markdown=True)
