"""How results show in a notebook: registered on import (:mod:`convcalc.report._display`).

A :class:`~convcalc.report.Report` shows its totals and layer table (HTML) or the Markdown table;
a :class:`~convcalc.analysis.compare.Comparison` the compare table; a check's
:class:`~convcalc.analysis.check.FileResult` the lines ``convcalc check`` prints.
"""

from __future__ import annotations

import html

from convcalc.analysis.check import FileResult
from convcalc.analysis.compare import Comparison
from convcalc.render.check import render_human
from convcalc.render.compare import _header, _legend, _markdown, _metric_rows
from convcalc.render.html import html_grid, notebook_html
from convcalc.render.report import render_markdown
from convcalc.report import Report
from convcalc.report._display import register

__all__ = ["comparison_html", "result_html", "result_markdown"]


def comparison_html(comparison: Comparison) -> str:
    header = _header(comparison)
    legend = "".join(f"<li>{html.escape(line)}</li>" for line in _legend(comparison))
    return f"<ul>{legend}</ul>" + html_grid(header, _metric_rows(comparison), [False] + [True] * (len(header) - 1))


def result_html(result: FileResult) -> str:
    return f"<pre>{html.escape(render_human([result]))}</pre>"


def result_markdown(result: FileResult) -> str:
    return "```\n" + render_human([result]) + "```\n"


register(Report, "html", notebook_html)
register(Report, "markdown", render_markdown)
register(Comparison, "html", comparison_html)
register(Comparison, "markdown", _markdown)
register(FileResult, "html", result_html)
register(FileResult, "markdown", result_markdown)
