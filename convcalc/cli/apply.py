"""``convcalc apply``: a small cross-correlation and/or pooling worked out exactly (rules in
:mod:`convcalc.handcalc`).

    convcalc apply --input "3,0,1,2,7,4;1,5,8,9,3,1;..." --kernel vertical_edge
                   [--stride 1] [--padding 1] [--padding-mode zeros] [--dilation 1] [--bias 0]
                   [--pool max --pool-size 2 [--pool-stride 2] [--pool-padding 0]]
                   [--file matrices.yaml] [--format table|json]
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from convcalc.errors import UsageError
from convcalc.teach.handcalc import (
    Array,
    Matrix,
    MatrixFile,
    Number,
    Padding,
    PaddingMode,
    PoolMode,
    cross_correlate,
    explain_element,
    explain_pool_element,
    format_number,
    is_stack,
    load_file,
    pad,
    padding_sides,
    parse_array,
    parse_number,
    parse_padding,
    pool,
    resolve_kernel,
)

__all__ = [
    "Applied",
    "ConvSettings",
    "ConvStep",
    "OutputFormat",
    "PoolSettings",
    "PoolStep",
    "apply_command",
    "compute",
    "render_table",
    "to_json",
]

from convcalc.report import SCHEMA_VERSION as JSON_SCHEMA_VERSION
TITLE = "cross-correlation (what PyTorch's conv2d computes; true convolution flips the kernel)"


class OutputFormat(str, Enum):
    """How to print the result."""

    table = "table"
    json = "json"


@dataclass(frozen=True)
class ConvSettings:
    """Keyword arguments of ``cross_correlate``, defaults filled in."""

    stride: int = 1
    padding: Padding = 0
    padding_mode: PaddingMode = PaddingMode.ZEROS
    dilation: int = 1
    bias: Number = 0


@dataclass(frozen=True)
class PoolSettings:
    """Keyword arguments of ``pool``; the stride defaults to the window."""

    mode: PoolMode
    kernel_size: int = 2
    stride: int | None = None
    padding: int = 0


_CONV_FLAGS = {
    "stride": "--stride",
    "padding": "--padding",
    "padding_mode": "--padding-mode",
    "dilation": "--dilation",
    "bias": "--bias",
}
_POOL_FLAGS = {"kernel_size": "--pool-size", "stride": "--pool-stride", "padding": "--pool-padding"}


@dataclass(frozen=True)
class ConvStep:
    """The cross-correlation: its settings, kernel, padded input (if padded) and output."""

    settings: ConvSettings
    kernel: Array
    padded: Array | None
    output: Matrix
    worked: str


@dataclass(frozen=True)
class PoolStep:
    """The pooling of the input, or of the cross-correlation's output."""

    settings: PoolSettings
    pooled: Array
    worked: str


@dataclass(frozen=True)
class Applied:
    """What the command computed, in order."""

    input: Array
    conv: ConvStep | None
    pool: PoolStep | None


def apply_command(
    input_text: Annotated[
        str | None,
        typer.Option("--input", "-i", help='Input matrix: "3,0,1;1,5,8" (rows split by ;) or "[[3,0],[1,5]]"; '
                     "a list of matrices is channels first."),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", "-k", help="Kernel matrix, written like --input, or a name: sobel_x, gaussian3, "
                     "vertical_edge, ..."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="YAML file with `input` and/or `kernel`, or a CSV file with the input; "
                     "--input and --kernel override it."),
    ] = None,
    stride: Annotated[int | None, typer.Option("--stride", "-s", help="Stride of the kernel (default 1).")] = None,
    padding: Annotated[
        str | None,
        typer.Option("--padding", "-p", help='Padding: "1", "ph,pw" or "top,bottom,left,right" (default 0).'),
    ] = None,
    padding_mode: Annotated[
        PaddingMode | None, typer.Option("--padding-mode", help="How the border is filled (default zeros).")
    ] = None,
    dilation: Annotated[
        int | None, typer.Option("--dilation", "-d", help="Dilation of the kernel (default 1).")
    ] = None,
    bias: Annotated[str | None, typer.Option("--bias", help="Added to every output element (default 0).")] = None,
    pool_mode: Annotated[
        PoolMode | None, typer.Option("--pool", help="Pool the input, or the output of --kernel.")
    ] = None,
    pool_size: Annotated[int | None, typer.Option("--pool-size", help="Pooling window (default 2).")] = None,
    pool_stride: Annotated[
        int | None, typer.Option("--pool-stride", help="Pooling stride (default: the window).")
    ] = None,
    pool_padding: Annotated[int | None, typer.Option("--pool-padding", help="Pooling padding (default 0).")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
) -> None:
    """Work out a small cross-correlation (what deep-learning libraries call convolution) and/or
    pooling by hand, exactly: fractions stay fractions.
    """
    conv_options = {
        "stride": stride,
        "padding": None if padding is None else parse_padding(padding),
        "padding_mode": padding_mode,
        "dilation": dilation,
        "bias": None if bias is None else parse_number(bias),
    }
    pool_options = {"kernel_size": pool_size, "stride": pool_stride, "padding": pool_padding}
    stored = load_file(file) if file is not None else MatrixFile(None, None)
    matrix = parse_array(input_text, "input") if input_text is not None else stored.input
    weights = resolve_kernel(kernel) if kernel is not None else stored.kernel
    if matrix is None:
        raise UsageError("apply-missing-option", "give the input matrix with --input or in --file")
    if weights is None and pool_mode is None:
        raise UsageError("apply-missing-option", "give --kernel, --pool or both (the kernel runs first)")
    _check_unused("--kernel", weights, conv_options, _CONV_FLAGS)
    _check_unused("--pool", pool_mode, pool_options, _POOL_FLAGS)
    applied = compute(
        matrix,
        None if weights is None else (weights, ConvSettings(**_given(conv_options))),
        None if pool_mode is None else PoolSettings(pool_mode, **_given(pool_options)),
    )
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(to_json(applied), indent=2))
    else:
        Console().print(render_table(applied), soft_wrap=True)


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _check_unused(needs: str, present: object, options: dict[str, Any], flags: dict[str, str]) -> None:
    """Refuse options that would be silently ignored because what they tune is absent."""
    unused = [flags[name] for name in _given(options)]
    if present is None and unused:
        raise UsageError("apply-bad-option", f"{', '.join(unused)}: only used with {needs}")


def compute(
    matrix: Array,
    conv: tuple[Array, ConvSettings] | None,
    pooling: PoolSettings | None,
) -> Applied:
    """Run the cross-correlation (given a kernel and its settings), then the pooling (if asked for).

    The worked elements are out[0,0] and pooled[0,0] (channel 0 first for a stack).
    """
    conv_step = None
    if conv is not None:
        weights, settings = conv
        options = dataclasses.asdict(settings)
        padded = pad(matrix, settings.padding, settings.padding_mode) if any(padding_sides(settings.padding)) else None
        output = cross_correlate(matrix, weights, **options)
        conv_step = ConvStep(settings, weights, padded, output, explain_element(matrix, weights, **options))
    pool_step = None
    if pooling is not None:
        source = matrix if conv_step is None else conv_step.output
        options = dataclasses.asdict(pooling)
        pool_step = PoolStep(pooling, pool(source, **options), explain_pool_element(source, **options))
    return Applied(matrix, conv_step, pool_step)


def _json_value(value: Any) -> Any:
    """Nested lists; ints stay ints, a Fraction becomes the string "p/q"."""
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return value


def to_json(applied: Applied) -> dict[str, Any]:
    """The JSON document: every matrix (null when not computed) with a schema version."""
    conv, pooled = applied.conv, applied.pool
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "input": _json_value(applied.input),
        "padded": None if conv is None else _json_value(conv.padded),
        "kernel": None if conv is None else _json_value(conv.kernel),
        "output": None if conv is None else _json_value(conv.output),
        "pooled": None if pooled is None else _json_value(pooled.pooled),
    }


def _grid(title: str, matrix: Matrix) -> Table:
    """A matrix as a light grid with row and column indices."""
    table = Table(title=f"{title} ({len(matrix)}x{len(matrix[0])})", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("", style="dim", justify="right")
    for c in range(len(matrix[0])):
        table.add_column(str(c), justify="right", header_style="dim", overflow="fold")
    for r, row in enumerate(matrix):
        table.add_row(str(r), *(format_number(v) for v in row))
    return table


def _grids(title: str, array: Array) -> list[Table]:
    if is_stack(array):
        return [_grid(f"{title}, channel {c}", matrix) for c, matrix in enumerate(array)]
    return [_grid(title, array)]


def _describe_conv(settings: ConvSettings) -> str:
    padding = ",".join(map(str, settings.padding)) if isinstance(settings.padding, tuple) else settings.padding
    return (
        f"stride {settings.stride}, padding {padding} ({settings.padding_mode.value}), "
        f"dilation {settings.dilation}, bias {format_number(settings.bias)}"
    )


def _describe_pool(settings: PoolSettings) -> str:
    size = settings.kernel_size
    stride = size if settings.stride is None else settings.stride
    return f"{settings.mode.value} pooling {size}x{size}, stride {stride}, padding {settings.padding}"


def render_table(applied: Applied) -> Group:
    """Input, padded input, kernel and output grids and one worked element; then the pooling."""
    conv, pooled = applied.conv, applied.pool
    parts: list[Any] = []
    if conv is not None:
        parts += [Text(TITLE, style="bold"), Text(_describe_conv(conv.settings))]
    parts += _grids("input", applied.input)
    if conv is not None:
        if conv.padded is not None:
            parts += _grids(f"padded input, {conv.settings.padding_mode.value}", conv.padded)
        parts += [*_grids("kernel", conv.kernel), *_grids("output", conv.output), Text(conv.worked)]
    if pooled is not None:
        parts += [Text(_describe_pool(pooled.settings), style="bold"), *_grids("pooled", pooled.pooled)]
        parts.append(Text(pooled.worked))
    return Group(*parts)
