"""``convcalc sizes``: the input sizes a network accepts exactly, and why the others fail."""

from __future__ import annotations

from typing import Annotated

import typer

from convcalc.arith.dims import is_count
from convcalc.cli._common import OutputOpt, SpecArg, format_option, load, progress, text_width, tracked, write_output
from convcalc.errors import UsageError
from convcalc.render.formats import choose_format
from convcalc.render.sizes import FORMATS, render_sizes

__all__ = ["MAX_SIZES", "sizes_command"]

MAX_SIZES = 100_000  # sizes one run tries


def _range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("..")
    if not sep or not is_count(low) or not is_count(high) or not 1 <= int(low) <= int(high) or int(high) - int(low) > MAX_SIZES:
        raise UsageError("usage-range", f"--range {text!r}: write LOW..HIGH with 1 <= LOW <= HIGH, at most {MAX_SIZES:,} sizes")
    return int(low), int(high)


def sizes_command(
    spec: SpecArg,
    range_: Annotated[str, typer.Option("--range", "-r", help="Sizes to try, LOW..HIGH (every spatial axis takes the size).")] = "1..1024",
    any_: Annotated[bool, typer.Option("--any", help="Accept every valid size, not only the exact ones.")] = False,
    format_: Annotated[str, format_option(FORMATS)] = "table",
    output: OutputOpt = None,
) -> None:
    """The input sizes a network accepts exactly (every strided layer and crop divides evenly), and why the others fail."""
    from convcalc.analysis.sizes import Sizer, exact_rule, scan_sizes

    chosen = choose_format(format_, FORMATS, "sizes")
    low, high = _range(range_)
    spec_obj = load(spec)
    sizer = Sizer(spec_obj)
    results = scan_sizes(spec_obj, tracked(range(low, high + 1), "trying size"), sizer)
    with progress(f"finding the rule of {spec_obj.name}'s exact sizes"):
        rule = exact_rule(spec_obj, sizer)
    write_output(render_sizes(spec_obj.name, low, high, any_, rule, results, chosen, text_width() if output is None else None), output, (spec,))
