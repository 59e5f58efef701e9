"""``convcalc compare A B [C ...]``: networks or single layers side by side (see
:mod:`convcalc.analysis.compare`). Each argument is a spec file, ``-`` (standard input), a built-in
model's name, or layers written inline (:mod:`convcalc.spec.inline`)::

    convcalc compare inception_direct inception_bottleneck
    convcalc compare conv2d:out_channels=5,kernel_size=3@3x6x6 \\
        conv2d:out_channels=3,kernel_size=3,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from convcalc.analysis.compare import compare
from convcalc.cli._common import BatchOpt, DTypeOpt, Layout, OutputOpt, WideOpt, emit_rich, format_option, load, one_stdin, tracked, warn_layout, write_output
from convcalc.conventions import DType
from convcalc.errors import SpecError, UsageError
from convcalc.render.compare import FORMATS, draw_comparison, render_comparison
from convcalc.render.formats import Format, choose_format
from convcalc.spec.inline import inline_input, inline_spec, is_inline

__all__ = ["MAX_ENTRIES", "compare_command"]

MAX_ENTRIES = 26  # columns A to Z


def _report(target: str, batch: Optional[int], dtype: str, layout: Layout):
    from convcalc.engine import analyze
    from convcalc.spec import parse_spec
    from convcalc.spec._source import Source

    if not is_inline(target):
        return analyze(load(target), batch=batch, dtype=dtype)
    data = inline_spec(target, layout.value)
    written = inline_input(target)
    warn_layout(f"{target}: the input {'x'.join(map(str, written))}", tuple(written), layout, fix="drop --layout hwc" if layout == Layout.hwc else "add --layout hwc")
    try:
        return analyze(parse_spec(data, Source(target)), batch=batch, dtype=dtype)
    except SpecError as exc:  # the spec exists only in memory: no line and column to point at
        raise SpecError(exc.code, f"{target}: {exc.message}", None, exc.hint) from None


def compare_command(
    targets: Annotated[list[str], typer.Argument(help="Spec files, - for standard input, built-in model names, or inline layers KIND:ARG=VALUE,...@CxHxW (chain layers with +).", metavar="A B [C ...]", show_default=False)],
    layout: Annotated[Layout, typer.Option("--layout", help="Read the inputs of inline layers (@CxHxW) and print shapes channels first (chw, as PyTorch) or last (hwc, @HxWxC, as textbooks).")] = Layout.chw,
    batch: BatchOpt = None,
    dtype: DTypeOpt = DType.float32,
    format_: Annotated[str, format_option(FORMATS, "Output format (ratios: 3 significant digits in table and markdown; exact fractions in json and csv).")] = "table",
    wide: WideOpt = False,
    output: OutputOpt = None,
) -> None:
    """Compare networks or layers: params, MACs, FLOPs, activation memory, ratios to the first."""
    chosen = choose_format(format_, FORMATS, "compare")
    if not 2 <= len(targets) <= MAX_ENTRIES:
        raise UsageError("usage-compare", f"give 2 to {MAX_ENTRIES} specs, models or inline layers to compare, got {len(targets)}")
    one_stdin(targets)
    comparison = compare([(target, _report(target, batch, dtype.value, layout)) for target in tracked(targets, "analysing")])
    if chosen == Format.table:
        emit_rich(lambda console: draw_comparison(console, comparison, layout.value), output, wide=wide, inputs=targets)
    else:
        write_output(render_comparison(comparison, chosen, layout.value), output, targets)
