"""``convcalc kinds``: every layer kind the registry holds, with its aliases, what it is and its
arguments (defaults in parentheses). The README's table of kinds is this renderer's Markdown
(tests/test_registry.py holds them equal), so it never drifts from the registry."""

from __future__ import annotations

import json
import re
from typing import Any

from convcalc.kinds import KINDS
from convcalc.render.formats import Format, csv_text, markdown_table

__all__ = ["FORMATS", "draw_kinds", "kind_entries", "render_kinds"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)


def _argument(name: str, field: Any) -> str:
    if field.is_required():
        return name
    default = field.default
    shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    return f"{name} ({shown})"


def kind_entries() -> list[dict[str, Any]]:
    """One entry per family of kinds: the 1d / 2d / 3d variants of a kind share one."""
    families: dict[str, dict[str, Any]] = {}
    for name, cls in KINDS.items():
        family = re.sub(r"[123]d$", "", name)
        entry = families.get(family)
        if entry is None:
            entry = families[family] = {"kinds": [], "aliases": [], "summary": cls.summary, "arguments": [], "_by": {}}
        entry["kinds"].append(name)
        entry["aliases"] += list(cls.aliases)
        for n, f in cls.model_fields.items():  # in the first variant's order; one only some variants have comes last
            if n != "inputs":
                entry["_by"].setdefault(n, (f, []))[1].append(name)
    for entry in families.values():
        ranks = [k[-2] for k in entry["kinds"] if re.search(r"[123]d$", k)]
        if len(ranks) > 1:  # "1-d convolution (nn.Conv1d)" -> "convolution (nn.Conv{1,2,3}d)"
            entry["summary"] = re.sub(r"1d\)$", "{" + ",".join(ranks) + "}d)", re.sub(r"^1-d ", "", entry["summary"]))
        cls = KINDS[entry["kinds"][0]]
        for n, (f, having) in entry.pop("_by").items():
            text = _argument(n, f)
            if len(having) < len(entry["kinds"]):  # avg_pool1d has no divisor_override, as nn.AvgPool1d
                only = " and ".join(k[-2:] for k in having)
                text = f"{text[:-1]}, {only} only)" if text.endswith(")") else f"{text} ({only} only)"
            entry["arguments"].append(text)
        if "inputs" in cls.model_fields:
            entry["arguments"].insert(0, "inputs (tensor ids)")
    return list(families.values())


def render_kinds(entries: list[dict[str, Any]], format_: Format) -> str:
    if format_ == Format.json:
        return json.dumps(entries, indent=2) + "\n"
    if format_ == Format.csv:
        return csv_text(("kinds", "aliases", "summary", "arguments"), ([" ".join(e["kinds"]), " ".join(e["aliases"]), e["summary"], "; ".join(e["arguments"])] for e in entries))
    assert format_ == Format.markdown, format_
    rows = [
        [" ".join(f"`{k}`" for k in e["kinds"]) + (f" (also {', '.join(f'`{a}`' for a in e['aliases'])})" if e["aliases"] else ""),
         e["summary"], ", ".join(f"`{a.split(' ')[0]}`{a[len(a.split(' ')[0]):]}" for a in e["arguments"])]
        for e in entries
    ]
    return "\n".join(markdown_table(("kind", "what it is", "arguments (defaults)"), rows)) + "\n"


def draw_kinds(console, entries: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("kind", no_wrap=True)
    table.add_column("what it is")
    table.add_column("arguments (defaults)")
    for e in entries:
        table.add_row(" ".join(e["kinds"] + [f"({a})" for a in e["aliases"]]), e["summary"], ", ".join(e["arguments"]))
    console.print(table)
