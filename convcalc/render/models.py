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
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for column, justify in (("name", "left"), ("input", "left"), ("params", "right"), ("MACs", "right"), ("description", "left")):
        table.add_column(column, justify=justify, no_wrap=column != "description", overflow="ellipsis" if column == "description" else "fold")
    for e in entries:
        table.add_row(e["name"], "x".join(map(str, e["input_shape"])), format_count(e["params"]), format_count(e["macs"]), e["description"])
    console.print(table)
