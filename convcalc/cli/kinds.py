"""``convcalc kinds``: the layer kinds a spec can use, their aliases and arguments."""

from __future__ import annotations

from typing import Annotated

from convcalc.cli._common import OutputOpt, emit_rich, format_option, write_output
from convcalc.render.formats import Format, choose_format
from convcalc.render.kinds import FORMATS, draw_kinds, kind_entries, render_kinds

__all__ = ["kinds_command"]


def kinds_command(
    format_: Annotated[str, format_option(FORMATS)] = "table",
    output: OutputOpt = None,
) -> None:
    """List the layer kinds a spec can use, with their aliases and arguments."""
    chosen = choose_format(format_, FORMATS, "kinds")
    entries = kind_entries()
    if chosen == Format.table:
        emit_rich(lambda console: draw_kinds(console, entries), output)
    else:
        write_output(render_kinds(entries, chosen), output)
