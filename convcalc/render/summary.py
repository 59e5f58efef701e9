"""``convcalc summary`` in every format but the table (the table is :func:`render_table`):
JSON, CSV, Markdown, and GitHub workflow annotations for the report's diagnostics."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from convcalc.render.formats import Format
from convcalc.render.github import annotation
from convcalc.render.report import json_chunks, render_csv, render_extra, render_markdown
from convcalc.report import Report

__all__ = ["FORMATS", "render_annotations", "render_summary", "summary_chunks"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown, Format.github, Format.html)


def summary_chunks(report: Report, extra: dict[str, Any]) -> Iterable[str]:
    """The JSON summary in pieces, to be written as they come (100,000 layers make ~90 MB)."""
    yield from json_chunks(report, extra)
    yield "\n"


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
    (the rows), Markdown (the table and ``extra``) or the HTML report (:mod:`convcalc.render.html`)."""
    if format_ == Format.json:
        return "".join(summary_chunks(report, extra))
    if format_ == Format.csv:
        return render_csv(report, layout)
    if format_ == Format.html:
        from convcalc.render.html import render_html

        return render_html(report)
    assert format_ == Format.markdown, format_
    return render_markdown(report, depth, layout) + render_extra(extra, markdown=True)
