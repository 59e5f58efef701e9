"""The output formats, one type for every command.

Each command supports the formats that mean something for its output and refuses the others
with a usage error that names what it supports. ``human`` is ``check``'s older name for
``table``; ``auto`` lets ``check`` pick ``github`` under GitHub Actions. A new format is one
member here and one renderer per command that supports it.
"""

from __future__ import annotations

import csv
import io
import os
from enum import Enum
from typing import Iterable, Sequence

from convcalc.errors import UsageError

__all__ = ["ALIASES", "Format", "choose_format", "csv_text", "markdown_table"]


class Format(str, Enum):
    """What ``--format`` may name."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    github = "github"  # GitHub workflow commands (``::error file=...::``), read by the Actions runner
    html = "html"  # one self-contained page (summary: the report with the network drawn)
    dot = "dot"  # Graphviz DOT (graph)
    mermaid = "mermaid"  # a Mermaid flowchart (graph)
    svg = "svg"  # laid out by Graphviz's dot (graph)
    png = "png"  # laid out by Graphviz's dot (graph)
    human = "human"  # = table (check's name for it)
    auto = "auto"  # github when GITHUB_ACTIONS=true, else table


ALIASES = {Format.human: Format.table}


def choose_format(text: str, supported: tuple[Format, ...], command: str) -> Format:
    """The format ``--format TEXT`` names, resolved (``human`` is ``table``, ``auto`` picks
    ``github`` under GitHub Actions); a format ``command`` does not support is a usage error."""
    names = ", ".join(f.value for f in supported)
    try:
        chosen = Format(text.strip().lower())
    except ValueError:
        chosen = None
    if chosen is None or chosen not in supported:
        raise UsageError("usage-format", f"--format {text}: {command} supports {names}")
    if chosen == Format.auto:
        under_actions = os.environ.get("GITHUB_ACTIONS") == "true" and Format.github in supported
        return Format.github if under_actions else Format.table
    return ALIASES.get(chosen, chosen)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV with ``\\n`` line ends, quoted where a cell needs it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool] = ()) -> list[str]:
    """A GitHub Markdown table, ``|`` in cells escaped; ``right[i]`` aligns column i right."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    rule = "|" + "".join("---:|" if i < len(right) and right[i] else "---|" for i in range(len(header)))
    return [line(header), rule, *(line(row) for row in rows)]
