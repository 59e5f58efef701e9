"""``convcalc models``: the built-in models, with their parameters and MACs."""

from __future__ import annotations

from typing import Annotated

from convcalc.cli._common import OutputOpt, WideOpt, emit_rich, format_option, load, tracked, write_output
from convcalc.render.formats import Format, choose_format
from convcalc.render.models import FORMATS, draw_models, model_entries, render_models

__all__ = ["models_command"]


def models_command(
    format_: Annotated[str, format_option(FORMATS)] = "table",
    wide: WideOpt = False,
    output: OutputOpt = None,
) -> None:
    """List the built-in models with their parameters and MACs."""
    from convcalc.engine import analyze
    from convcalc.spec.zoo import builtin_names

    chosen = choose_format(format_, FORMATS, "models")
    entries = model_entries({name: analyze(load(name)) for name in tracked(builtin_names(), "analysing")})
    if chosen == Format.table:
        emit_rich(lambda console: draw_models(console, entries), output, wide=wide)
    else:
        write_output(render_models(entries, chosen), output)
