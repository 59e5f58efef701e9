"""``convcalc layer`` and ``convcalc explain``: the textbook derivation of one layer, or of every
layer of a spec (the derivations: :mod:`convcalc.teach.explain`).

    convcalc layer conv2d --input 3x32x32 -k 5 -n 6 [--explain]
    convcalc layer pool --input 16x5x5 -k 2 -s 2 -p 1 --ceil-mode
    convcalc layer conv --input 224x224x3 --layout hwc -k 7 -s 2 -p same -n 64
    convcalc layer linear --input 3x224x224 -n 128 --no-bias
    convcalc explain lenet5 [--layer CONV1]

Shapes are channels first, as everywhere in convcalc (:mod:`convcalc.spec.layout`); ``--layout hwc``
reads ``--input`` and prints shapes in the textbooks' order, channels last.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Optional

import typer

from convcalc.arith.dims import is_count
from convcalc.cli._common import InputOpt, Layout, LayoutOpt, OutputOpt, SpecArg, emit_rich, format_option, load, parse_shape, write_output
from convcalc.errors import UsageError
from convcalc.render.explain import FORMATS, print_explained, print_layer, render_json
from convcalc.render.formats import Format, choose_format
from convcalc.teach.explain import LAYER_OPTIONS, layer_args, layer_report, resolve_kind, select_rows

__all__ = ["explain_command", "layer_command"]

_INT_LIST_OPTIONS = ("kernel", "stride", "dilation", "output_padding", "output_size")


def _layer_shape(text: str, layout: Layout) -> tuple:
    """``3x32x32`` (chw: ``CxL``, ``CxHxW``, ``CxDxHxW``) or ``32x32x3`` (hwc) -> channels first.
    One size alone is a feature vector. Spatial sizes may be symbol names (``3xHxW``)."""
    axes = "LxC, HxWxC or DxHxWxC" if layout == Layout.hwc else "CxL, CxHxW or CxDxHxW"
    return parse_shape(text, layout, "32x32x3" if layout == Layout.hwc else "3x32x32", f"{layout.value}: {axes}")


def _int(text: str, flag: str) -> int:
    if not is_count(text):
        raise UsageError("usage-option", f"{flag} {text!r}: expected a non-negative integer")
    return int(text)


def _ints(text: str, flag: str) -> int | list[int]:
    """``5`` -> 5; ``3,5`` (or ``3x5``) -> one value per spatial axis, in the order D, H, W."""
    values = [_int(part, flag) for part in re.split(r"[,x]", text)]
    return values[0] if len(values) == 1 else values


def _padding(text: str) -> Any:
    """``1``, ``same``, ``valid``, per axis ``1,2``, or ``before:after`` pairs per axis ``2:3,2:3``."""
    flag = LAYER_OPTIONS["padding"].flag
    word = text.strip().lower()
    if word in ("same", "valid"):
        return word
    values: list[Any] = []
    for part in text.split(","):
        if ":" in part:
            before, after = part.split(":", 1)
            values.append([_int(before, flag), _int(after, flag)])
        else:
            values.append(_int(part, flag))
    return values[0] if len(values) == 1 and not isinstance(values[0], list) else values


def _given_options(values: dict[str, Any]) -> dict[str, Any]:
    """The options that were given, parsed; flags only when set."""
    given: dict[str, Any] = {}
    for option, value in values.items():
        if value is None or value is False:
            continue
        if option in _INT_LIST_OPTIONS:
            given[option] = _ints(value, LAYER_OPTIONS[option].flag)
        elif option == "padding":
            given[option] = _padding(value)
        elif option in ("no_bias", "ceil_mode"):
            given[option] = option == "ceil_mode"  # --no-bias sets bias false, --ceil-mode sets ceil_mode true
        else:
            given[option] = value  # typer has already made it an int
    return given


ValuesOpt = Optional[str]
FormatOpt = Annotated[str, format_option(FORMATS)]


def layer_command(
    kind: Annotated[str, typer.Argument(help="conv2d, conv, pool, avgpool, deconv, adaptive_pool, linear, ... (short names follow the input's rank).", metavar="KIND", show_default=False)],
    input_: Annotated[str, typer.Option("--input", "-i", help="Input shape, channels first: 3x32x32 (1-d CxL, 3-d CxDxHxW, a feature vector: 400); 32x32x3 with --layout hwc.", show_default=False)],
    kernel: Annotated[ValuesOpt, typer.Option("--kernel", "-k", help="Kernel size: 5, or per axis 3,5.")] = None,
    stride: Annotated[ValuesOpt, typer.Option("--stride", "-s", help="Stride: 2, or per axis.")] = None,
    padding: Annotated[ValuesOpt, typer.Option("--padding", "-p", help="Padding: 1, same (TensorFlow's), valid, per axis 1,2, or before:after pairs 2:3,2:3.")] = None,
    dilation: Annotated[ValuesOpt, typer.Option("--dilation", "-d", help="Dilation: 2, or per axis.")] = None,
    groups: Annotated[Optional[int], typer.Option("--groups", "-g", min=1, help="Groups (= input channels for a depthwise conv).")] = None,
    filters: Annotated[Optional[int], typer.Option("--filters", "-n", min=1, help="Number of filters (out_channels), or out_features of a linear layer.")] = None,
    no_bias: Annotated[bool, typer.Option("--no-bias", help="No bias term.")] = False,
    output_padding: Annotated[ValuesOpt, typer.Option("--output-padding", help="Transposed conv: extra size on one side.")] = None,
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode", help="Pooling: round the output size up.")] = False,
    output_size: Annotated[ValuesOpt, typer.Option("--output-size", help="Adaptive pooling: the output size, or per axis.")] = None,
    layout: Annotated[Layout, typer.Option("--layout", help="How --input is written and shapes are printed: C x H x W (chw, as PyTorch) or H x W x C (hwc, as textbooks).")] = Layout.chw,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="Print every formula: symbols, then numbers, then the result.")] = False,
    format_: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:
    """One layer without a spec: output shape, params, MACs, FLOPs and receptive field."""
    chosen = choose_format(format_, FORMATS, "layer")
    shape = _layer_shape(input_, layout)
    resolved = resolve_kind(kind, len(shape) - 1)
    given = _given_options({
        "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "filters": filters,
        "no_bias": no_bias, "output_padding": output_padding, "ceil_mode": ceil_mode, "output_size": output_size,
    })
    report = layer_report(resolved, shape, layer_args(resolved, given))
    if chosen == Format.json:
        write_output(render_json(report, list(report.rows), layout.value, "layer"), output)
        return
    emit_rich(lambda out: print_layer(out, report, layout.value, explain), output)


def explain_command(
    spec: SpecArg,
    layer: Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Only the layers whose path or name matches (CONV1, layer3.1.conv2, a block's path, or a glob); repeatable.")] = None,
    input_: InputOpt = None,
    layout: LayoutOpt = Layout.chw,
    format_: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:
    """The derivation of every layer of a spec: each formula in symbols, with numbers, and the result."""
    from convcalc.engine import analyze

    chosen = choose_format(format_, FORMATS, "explain")
    shape = _layer_shape(input_, layout) if input_ is not None else None
    report = analyze(load(spec, check_layout=input_ is None), input_shape=shape)
    rows = select_rows(report, list(layer or []))
    if chosen == Format.json:
        write_output(render_json(report, rows, layout.value, "explain"), output, (spec,))
        return
    emit_rich(lambda out: print_explained(out, report, rows, layout.value), output, inputs=(spec,))
