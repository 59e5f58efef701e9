"""``convcalc summary``: the layer-by-layer table of a spec or built-in model, or one row per input
size with ``--sweep``."""

from __future__ import annotations

import gc
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from convcalc.cli._common import (
    load,
    split_set,
    BatchOpt,
    DTypeOpt,
    InputOpt,
    Layout,
    LayoutOpt,
    OutputOpt,
    SpecArg,
    WideOpt,
    analyze_target,
    emit_rich,
    format_option,
    parse_sweep,
    parse_values,
    progress,
    write_output,
)
from convcalc.conventions import DType
from convcalc.render import SUMMARY_COLUMNS, parse_columns, render_extra, render_table
from convcalc.render import summary as rendered
from convcalc.render.formats import Format, choose_format

__all__ = ["Compat", "summary_command"]


class Compat(str, Enum):
    fvcore = "fvcore"
    ptflops = "ptflops"
    torchinfo = "torchinfo"


def _extra(spec, report, exact: bool, compat: Optional[Compat], training: bool = False) -> dict[str, Any]:
    """What the table's caption does not hold: validity conditions, exact sizes, a tool's total,
    a training step's MACs."""
    extra: dict[str, Any] = {}
    if training:
        extra["training"] = {"macs": report.totals.macs, "backward_macs": report.backward_macs, "training_macs": report.training_macs}
    if report.graph is not None and report.graph.source in ("onnx", "torch"):
        from convcalc.interop._imported import unknown_ops

        found = unknown_ops(report.graph)
        if found:  # the totals leave these out: said in the output itself, and by exit code 3
            extra["partial"] = {"unknown_ops": found}
    if report.symbols:
        from convcalc.report._substitute import requirements

        extra["valid_if"] = requirements(report)
    if exact:
        from convcalc.analysis.sizes import exact_rule

        rule = exact_rule(spec)
        extra["exact_sizes"] = str(rule) if rule else "no valid size"
    if compat is not None:
        from convcalc.interop.compat import compat_total

        extra["compat"] = compat_total(report, compat.value).to_dict()
    return extra


def summary_command(
    spec: SpecArg,
    input_: InputOpt = None,
    batch: BatchOpt = None,
    format_: Annotated[str, format_option(rendered.FORMATS, "Output format (github: the table, then the notes as GitHub workflow annotations).")] = "table",
    layout: LayoutOpt = Layout.chw,
    depth: Annotated[Optional[int], typer.Option("--depth", "-d", min=1, help="Collapse everything below this depth into one row per block.")] = None,
    dtype: DTypeOpt = DType.float32,
    set_: Annotated[Optional[str], typer.Option("--set", help="Give the symbols sizes (H=224,W=224) or the spec's params other values (width_mult=2.0).")] = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="One row per size: H=224,256,320 (other symbols take the same size).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Also print the input sizes every strided layer and crop divides exactly.")] = False,
    compat: Annotated[Optional[Compat], typer.Option("--compat", help="Also print the total that tool reports, rule by rule (its conventions and its bugs).")] = None,
    training: Annotated[bool, typer.Option("--training", help="Also count a training step's backward MACs (JSON: backward_macs per layer, training_macs in totals).")] = False,
    columns: Annotated[Optional[str], typer.Option("--columns", help="Table: only these columns (the layer is always shown): " + ",".join(key for key, _, _ in SUMMARY_COLUMNS) + ".")] = None,
    wide: WideOpt = False,
    output: OutputOpt = None,
) -> None:
    """Layer-by-layer shapes, parameters, MACs, FLOPs, activations and receptive fields."""
    if sweep is not None:
        from convcalc.analysis.sizes import sweep as sweep_reports
        from convcalc.render import sweep as swept

        chosen = choose_format(format_, swept.FORMATS, "summary --sweep")
        name, sizes = parse_sweep(sweep)
        _, report = analyze_target(spec, input_, batch, layout, dtype, symbolic=True)
        reports = sweep_reports(report, name, sizes, parse_values(set_, "--set"))
        if chosen == Format.table:
            emit_rich(lambda console: swept.draw_sweep(console, reports, name, layout.value), output, wide=wide, inputs=(spec,))
        else:
            write_output(swept.render_sweep(reports, name, chosen, layout.value), output, (spec,))
        return
    chosen = choose_format(format_, rendered.FORMATS, "summary")
    keys = parse_columns(columns, (key for key, _, _ in SUMMARY_COLUMNS))
    spec_obj = load(spec, check_layout=False)  # analyze_target judges the input it analyses
    params, sizes = split_set(set_, spec_obj) if set_ else ({}, {})
    spec_obj, report = analyze_target(spec_obj, input_, batch, layout, dtype, params=params)
    if sizes:
        report = report.subs(sizes)
    extra = _extra(spec_obj, report, exact, compat, training)
    gc.freeze()  # the report lives as long as the process: the collector need not walk its rows again while they are written
    if chosen in (Format.table, Format.github):
        after = render_extra(extra) + (rendered.render_annotations(report) if chosen == Format.github else "")
        emit_rich(lambda console: render_table(report, console, depth, layout.value, keys), output, after, wide, (spec,))
    elif chosen == Format.html:
        with progress(f"drawing {report.name}"):
            page = rendered.render_summary(report, chosen, extra, depth, layout.value)
        write_output(page, output, (spec,))
    elif chosen == Format.json:
        write_output(rendered.summary_chunks(report, extra), output, (spec,))
    else:
        write_output(rendered.render_summary(report, chosen, extra, depth, layout.value), output, (spec,))
