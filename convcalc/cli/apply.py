"""``convcalc apply``: a small convolution and/or pooling worked out exactly (rules in
:mod:`convcalc.teach.handcalc` and :mod:`convcalc.teach.backward`; rendering in
:mod:`convcalc.render.apply`).

    convcalc apply --input "3,0,1,2,7,4;1,5,8,9,3,1;..." --kernel vertical_edge
                   [--stride 1|3,2] [--padding 1] [--padding-mode zeros] [--dilation 1|1,2]
                   [--groups 1] [--bias 0|1,2] [--flip] [--im2col] [--at i,j|all]
                   [--backward [--grad MATRIX]]
                   [--pool max --pool-size 2|2,3 [--pool-stride 2] [--pool-padding 0]]
                   [--file matrices.yaml] [--format table|json]

Channels first, as every shape in convcalc: a list of matrices is C x H x W (one matrix per
channel), a list of filters C_out x C_in/groups x kh x kw as PyTorch stores ``Conv2d.weight``, an
element ``c,i,j``. An input whose matrices look like rows of H x W x C pixels gets a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from convcalc.cli._common import console, format_option, warn
from convcalc.errors import UsageError
from convcalc.render.apply import render_table, to_json
from convcalc.render.formats import Format, choose_format
from convcalc.teach.apply import ConvSettings, PoolSettings, compute, parse_at
from convcalc.teach.handcalc import (
    MatrixFile,
    PaddingMode,
    PoolMode,
    depth,
    load_file,
    parse_array,
    parse_number,
    parse_padding,
    parse_pair,
    resolve_kernel,
)

__all__ = ["FORMATS", "apply_command"]


FORMATS = (Format.table, Format.json)


_CONV_FLAGS = {
    "stride": "--stride",
    "padding": "--padding",
    "padding_mode": "--padding-mode",
    "dilation": "--dilation",
    "bias": "--bias",
    "groups": "--groups",
    "flip": "--flip",
}
_POOL_FLAGS = {"kernel_size": "--pool-size", "stride": "--pool-stride", "padding": "--pool-padding"}


def _bias(text: str) -> Any:
    """One bias for every filter, or one per filter: ``"1"``, ``"0.5,-1"``."""
    values = [parse_number(part) for part in text.split(",")]
    return values[0] if len(values) == 1 else tuple(values)


def apply_command(
    input_text: Annotated[
        str | None,
        typer.Option("--input", "-i", help='Input matrix: "3,0,1;1,5,8" (rows split by ;) or "[[3,0],[1,5]]"; '
                     "a list of matrices is channels first, C x H x W: one matrix per channel."),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", "-k", help="Kernel matrix, written like --input, or a name: sobel_x, gaussian3, "
                     "vertical_edge, ...; one matrix per input channel, or a list of filters "
                     "(C_out x C_in/groups x kh x kw, four levels of nesting) for several output channels."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="YAML file with `input`, `kernel` and/or `grad`, or a CSV file with the "
                     "input; --input, --kernel and --grad override it."),
    ] = None,
    stride: Annotated[str | None, typer.Option("--stride", "-s", help='Stride: "2" or "height,width" (default 1).')] = None,
    padding: Annotated[
        str | None,
        typer.Option("--padding", "-p", help='Padding: "1", "ph,pw" or "top,bottom,left,right" (default 0).'),
    ] = None,
    padding_mode: Annotated[
        PaddingMode | None, typer.Option("--padding-mode", help="How the border is filled (default zeros).")
    ] = None,
    dilation: Annotated[
        str | None, typer.Option("--dilation", "-d", help='Dilation: "2" or "height,width" (default 1).')
    ] = None,
    groups: Annotated[int | None, typer.Option("--groups", "-g", help="Groups of a list of filters (default 1).")] = None,
    bias: Annotated[
        str | None, typer.Option("--bias", help='Added to every output element: one value, or one per filter "1,2" (default 0).')
    ] = None,
    flip: Annotated[
        bool, typer.Option("--flip", help="True convolution: flip the kernel in both axes first (default: "
                           "cross-correlation, as PyTorch).")
    ] = False,
    im2col: Annotated[
        bool, typer.Option("--im2col", help="Show the convolution as one matrix product: patches, reshaped kernel, product.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help='The element worked out step by step: "i,j" ("c,i,j" with channels) of the final '
                     'result, or "all" (default: the first).'),
    ] = None,
    backward: Annotated[
        bool, typer.Option("--backward", help="Also the backward pass: dL/dW, dL/db and dL/dX, every element worked out.")
    ] = False,
    grad: Annotated[
        str | None,
        typer.Option("--grad", help="The upstream gradient dL/dY, shaped like the final result, written like --input "
                     "(default all ones: L = the sum of the result)."),
    ] = None,
    pool_mode: Annotated[
        PoolMode | None, typer.Option("--pool", help="Pool the input, or the output of --kernel.")
    ] = None,
    pool_size: Annotated[str | None, typer.Option("--pool-size", help='Pooling window: "2" or "height,width" (default 2).')] = None,
    pool_stride: Annotated[
        str | None, typer.Option("--pool-stride", help='Pooling stride: "2" or "height,width" (default: the window).')
    ] = None,
    pool_padding: Annotated[
        str | None, typer.Option("--pool-padding", help='Pooling padding: "1" or "height,width" (default 0).')
    ] = None,
    format_: Annotated[str, format_option(FORMATS, short=False)] = "table",  # -f is --file
) -> None:
    """Work out a small cross-correlation (what deep-learning libraries call convolution; --flip
    for a true convolution) and/or pooling by hand, exactly: fractions stay fractions; --im2col
    and --backward show the matrix product and the gradients.
    """
    chosen = choose_format(format_, FORMATS, "apply")
    conv_options = {
        "stride": None if stride is None else parse_pair(stride, "--stride"),
        "padding": None if padding is None else parse_padding(padding),
        "padding_mode": padding_mode,
        "dilation": None if dilation is None else parse_pair(dilation, "--dilation"),
        "bias": None if bias is None else _bias(bias),
        "groups": groups,
        "flip": flip or None,
    }
    pool_options = {
        "kernel_size": None if pool_size is None else parse_pair(pool_size, "--pool-size"),
        "stride": None if pool_stride is None else parse_pair(pool_stride, "--pool-stride"),
        "padding": None if pool_padding is None else parse_pair(pool_padding, "--pool-padding"),
    }
    stored = load_file(file) if file is not None else MatrixFile(None, None)
    matrix = parse_array(input_text, "input") if input_text is not None else stored.input
    weights = resolve_kernel(kernel) if kernel is not None else stored.kernel
    upstream = parse_array(grad, "grad") if grad is not None else stored.grad
    if matrix is None:
        raise UsageError("apply-missing-option", "give the input matrix with --input or in --file")
    _warn_channels_last(matrix)
    if weights is None and pool_mode is None:
        raise UsageError("apply-missing-option", "give --kernel, --pool or both (the kernel runs first)")
    _check_unused("--kernel", weights, conv_options, _CONV_FLAGS)
    _check_unused("--pool", pool_mode, pool_options, _POOL_FLAGS)
    if grad is not None and not backward:
        raise UsageError("apply-bad-option", "--grad: only used with --backward")
    applied = compute(
        matrix,
        None if weights is None else (weights, ConvSettings(**_given(conv_options))),
        None if pool_mode is None else PoolSettings(pool_mode, **_given(pool_options)),
        at=None if at is None else parse_at(at),
        im2col=im2col,
        backward=backward,
        grad=upstream if backward else None,
    )
    if chosen == Format.json:
        typer.echo(json.dumps(to_json(applied), indent=2))
    else:
        out = console()
        for part in render_table(applied).renderables:  # sentences wrap at words, grids keep their titles whole
            out.print(part, soft_wrap=not isinstance(part, Text))


def _warn_channels_last(matrix: Any) -> None:
    """A stack written as rows of pixels, each a list of its channels (H x W x C, as numpy and
    image libraries hold images), reads as H matrices of W x C: say so."""
    from convcalc.spec.layout import looks_other_layout, read_as

    if depth(matrix) == 3:
        dims = (len(matrix), len(matrix[0]), len(matrix[0][0]))
        if looks_other_layout(dims):
            hint = f"give one matrix per channel: {dims[2]} matrices of {dims[0]}x{dims[1]}"
            warn("input-layout", f"the input ({dims[0]} matrices of {dims[1]}x{dims[2]}) is {read_as(dims)}", hint=hint)


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _check_unused(needs: str, present: object, options: dict[str, Any], flags: dict[str, str]) -> None:
    """Refuse options that would be silently ignored because what they tune is absent."""
    unused = [flags[name] for name in _given(options)]
    if present is None and unused:
        raise UsageError("apply-bad-option", f"{', '.join(unused)}: only used with {needs}")
