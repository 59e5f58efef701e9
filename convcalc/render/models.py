"""``convcalc models``: the built-in models with their input, parameters and MACs, as a table,
JSON (a list of objects), CSV or Markdown."""

from __future__ import annotations

import json
from typing import Any

from convcalc.render.formats import Format, csv_text, markdown_table
from convcalc.render.report import format_count
from convcalc.report import Report

__all__ = ["COLUMNS", "FORMATS", "draw_models", "model_entries", "render_models"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
COLUMNS = ("name", "title", "description", "input_shape", "params", "macs")


def model_entries(reports: dict[str, Report]) -> list[dict[str, Any]]:
    """One entry per built-in (name -> its report): the first sentence of its description."""
    entries = []
    for name, report in reports.items():
        text = " ".join((report.description or report.name).split())
        first_sentence = text.split(". ")[0].rstrip(".")
        entries.append({"name": name, "title": report.name, "description": first_sentence, "input_shape": list(report.input_shape), "params": report.totals.params, "macs": report.totals.macs})
    return entries


def render_models(entries: list[dict[str, Any]], format_: Format) -> str:
    if format_ == Format.json:
        return json.dumps(entries, indent=2) + "\n"
    rows = [[e["name"], e["title"], e["description"], "x".join(map(str, e["input_shape"])), str(e["params"]), str(e["macs"])] for e in entries]
    if format_ == Format.csv:
        return csv_text(COLUMNS, rows)
    assert format_ == Format.markdown, format_
    cells = [[f"`{e['name']}`", e["title"], "x".join(map(str, e["input_shape"])), format_count(e["params"]), format_count(e["macs"])] for e in entries]
    return "\n".join(markdown_table(("name", "model", "input", "params", "MACs"), cells, (False, False, False, True, True))) + "\n"


def draw_models(console, entries: list[dict[str, Any]]) -> None:
    """One line per model, fitted to the console: counts in K/M/G, then the description cut
    with … (it is whole in ``--format json`` and in ``convcalc show NAME``), then dropped."""
    from convcalc.render.fit import Column, fit, print_table, width_of, with_compact

    params = [e["params"] for e in entries]
    macs = [e["macs"] for e in entries]
    columns = [
        Column("name", "name", tuple(e["name"] for e in entries)),
        Column("input", "input", tuple("x".join(map(str, e["input_shape"])) for e in entries), drop=2),
        with_compact(Column("params", "params", tuple(format_count(v) for v in params), right=True, drop=1), params),
        with_compact(Column("macs", "MACs", tuple(format_count(v) for v in macs), right=True, drop=1), macs),
        Column("description", "description", tuple(e["description"] for e in entries), clip=True, drop=3),
    ]
    fitted = fit(columns, width_of(console))
    print_table(console, fitted)
    note = fitted.note(exact="--format json or csv; convcalc show NAME for the whole spec")
    if note:
        console.print(f"[dim]{note}[/dim]", highlight=False)
