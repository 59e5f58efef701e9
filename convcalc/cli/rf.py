"""``convcalc rf``: how the receptive field grows, layer by layer."""

from __future__ import annotations

from typing import Annotated

from convcalc.cli._common import InputOpt, Layout, LayoutOpt, OutputOpt, SpecArg, WideOpt, analyze_target, emit_rich, format_option, write_output
from convcalc.conventions import DType
from convcalc.render import render_rf_table
from convcalc.render.formats import Format, choose_format
from convcalc.render.rf import FORMATS, render_rf

__all__ = ["rf_command"]


def rf_command(
    spec: SpecArg,
    input_: InputOpt = None,
    layout: LayoutOpt = Layout.chw,
    format_: Annotated[str, format_option(FORMATS)] = "table",
    wide: WideOpt = False,
    output: OutputOpt = None,
) -> None:
    """How the receptive field grows: size, jump, start and effective padding of every layer."""
    chosen = choose_format(format_, FORMATS, "rf")
    _, report = analyze_target(spec, input_, None, layout, DType.float32)
    if chosen == Format.table:
        emit_rich(lambda console: render_rf_table(report, console, layout.value), output, wide=wide, inputs=(spec,))
    else:
        write_output(render_rf(report, chosen, layout.value), output, (spec,))
