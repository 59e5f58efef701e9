"""``convcalc solve``'s solutions as a rich table: one row per solution, the derivation last."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.table import Table

__all__ = ["render_table"]


def render_table(question: str, solutions: Sequence[Any]) -> Table:
    """One row per solution (dataclasses of :mod:`convcalc.teach.solve`), one column per field."""
    table = Table(title=f"solve {question}")
    names = [field.name for field in dataclasses.fields(solutions[0])]
    for name in names:
        table.add_column(name, justify="left" if name in ("kind", "derivation") else "right")
    for solution in solutions:
        table.add_row(*(_cell(getattr(solution, name)) for name in names))
    return table


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
