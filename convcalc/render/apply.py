"""``convcalc apply``'s results as text: rich grids with the worked elements for people, and a JSON
document for programs (the data is :class:`convcalc.teach.apply.Applied`)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from convcalc.report import SCHEMA_VERSION
from convcalc.teach.apply import CONVOLUTION, Applied, ConvSettings, ConvStep, PoolSettings
from convcalc.teach.backward import ConvGradients, PoolGradients
from convcalc.teach.handcalc import Array, Im2col, Matrix, depth, format_number

__all__ = ["CONVENTIONS", "render_table", "to_json"]

CONVENTIONS = {
    "cross-correlation": "cross-correlation (what PyTorch's conv2d computes; true convolution flips the kernel)",
    CONVOLUTION: "true convolution (the kernel flipped in both axes, then slid as PyTorch's conv2d slides it)",
}


def _json_value(value: Any) -> Any:
    """Nested lists; ints stay ints, a Fraction becomes the string "p/q"."""
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return value


def _im2col_json(groups: Sequence[Im2col]) -> list[dict[str, Any]]:
    return [
        {
            "group": g.group, "filters": list(g.filters), "taps": _json_value(g.taps), "positions": _json_value(g.positions),
            "patches": _json_value(g.patches), "kernel": _json_value(g.kernel), "product": _json_value(g.product),
        }
        for g in groups
    ]


def _conv_grads_json(grads: ConvGradients | None) -> dict[str, Any] | None:
    if grads is None:
        return None
    return {
        "grad_output": _json_value(grads.grad_output), "grad_weight": _json_value(grads.grad_weight),
        "grad_bias": _json_value(grads.grad_bias), "grad_input": _json_value(grads.grad_input), "rules": list(grads.rules),
        "steps": {"weight": list(grads.weight_steps), "bias": list(grads.bias_steps), "input": list(grads.input_steps)},
    }


def _pool_grads_json(grads: PoolGradients | None) -> dict[str, Any] | None:
    if grads is None:
        return None
    return {
        "grad_output": _json_value(grads.grad_output), "grad_input": _json_value(grads.grad_input),
        "rules": list(grads.rules), "steps": list(grads.input_steps), "ties": list(grads.ties),
    }


def to_json(applied: Applied) -> dict[str, Any]:
    """The JSON document: every matrix (null when not computed), the convention, the worked
    steps, im2col and the gradients when asked for, with a schema version."""
    conv, pooled, backward = applied.conv, applied.pool, applied.backward
    return {
        "schema_version": SCHEMA_VERSION,
        "convention": applied.convention,
        "input": _json_value(applied.input),
        "padded": None if conv is None else _json_value(conv.padded),
        "kernel": None if conv is None else _json_value(conv.kernel),
        "flipped_kernel": None if conv is None else _json_value(conv.flipped),
        "output": None if conv is None else _json_value(conv.output),
        "pooled": None if pooled is None else _json_value(pooled.pooled),
        "steps": {
            "output": None if conv is None else list(conv.worked),
            "pooled": None if pooled is None else list(pooled.worked),
        },
        "im2col": None if conv is None or conv.im2col is None else _im2col_json(conv.im2col),
        "backward": None if backward is None else {
            "pool": _pool_grads_json(backward.pool), "conv": _conv_grads_json(backward.conv),
        },
    }


def _grid(title: str, matrix: Matrix, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None) -> Table:
    """A matrix as a light grid with row and column indices (or the labels given)."""
    table = Table(title=f"{title} ({len(matrix)}x{len(matrix[0])})", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("", style="dim", justify="right")
    for c in range(len(matrix[0])):
        table.add_column(col_labels[c] if col_labels else str(c), justify="right", header_style="dim", overflow="fold")
    for r, row in enumerate(matrix):
        table.add_row(row_labels[r] if row_labels else str(r), *(format_number(v) for v in row))
    return table


def _grids(title: str, array: Array) -> list[Table]:
    """One grid per matrix: per channel for a stack, per filter and channel for a bank."""
    levels = depth(array)
    if levels == 4:
        return [_grid(f"{title}, filter {o}, channel {c}", m) for o, stack in enumerate(array) for c, m in enumerate(stack)]
    if levels == 3:
        return [_grid(f"{title}, channel {c}", matrix) for c, matrix in enumerate(array)]
    return [_grid(title, array)]


def _per_axis(value: Any) -> str:
    """``2``, ``3,2`` (height, width; ``2,2`` reads as ``2``) or ``1,1,2,2`` (four sides)."""
    if isinstance(value, tuple):
        return format_number(value[0]) if len(value) == 2 and value[0] == value[1] else ",".join(map(format_number, value))
    return format_number(value)


def _describe_conv(settings: ConvSettings) -> str:
    groups = f", groups {settings.groups}" if settings.groups != 1 else ""
    return (
        f"stride {_per_axis(settings.stride)}, padding {_per_axis(settings.padding)} ({settings.padding_mode.value}), "
        f"dilation {_per_axis(settings.dilation)}{groups}, bias {_per_axis(settings.bias)}"
    )


def _describe_pool(settings: PoolSettings) -> str:
    size = settings.kernel_size if isinstance(settings.kernel_size, tuple) else (settings.kernel_size,) * 2
    stride = size if settings.stride is None else settings.stride
    return (
        f"{settings.mode.value} pooling {size[0]}x{size[1]}, stride {_per_axis(stride)}, "
        f"padding {_per_axis(settings.padding)}"
    )


def _lines(lines: Sequence[str], style: str = "") -> list[Text]:
    return [Text(line, style=style) for line in lines]


def _im2col_parts(step: ConvStep) -> list[Any]:
    parts: list[Any] = [Text("im2col: out = kernel matrix x patch matrix (+ bias), one column per output position", style="bold")]
    for g in step.im2col or ():
        where = f", group {g.group} (filters {g.filters[0]}..{g.filters[-1]})" if len(step.im2col or ()) > 1 else ""
        one_channel = all(c == 0 for c, _, _ in g.taps)
        taps = [f"{u},{v}" if one_channel else f"{c},{u},{v}" for c, u, v in g.taps]
        tap = "(u,v)" if one_channel else "(channel,u,v)"
        positions = [f"{i},{j}" for i, j in g.positions]
        filters = [str(o) for o in g.filters]
        parts += [
            _grid(f"patch matrix{where}: row = tap {tap}, column = output (i,j)", g.patches, taps, positions),
            _grid(f"kernel matrix{where}: row = filter, column = tap {tap}", g.kernel, filters, taps),
            _grid(f"kernel matrix x patch matrix{where}", g.product, filters, positions),
        ]
    return parts


def _backward_parts(applied: Applied) -> list[Any]:
    backward = applied.backward
    if backward is None:
        return []
    parts: list[Any] = [Text("backward pass", style="bold")]
    if backward.pool is not None:
        grads = backward.pool
        parts += [*_grids("dL/dY of the pooled output", grads.grad_output), *_lines(grads.rules, "italic")]
        parts += _lines(grads.ties)
        title = "dL/dX of the pooling (= dL/dY of the convolution's output)" if backward.conv else "dL/dX"
        parts += [*_grids(title, grads.grad_input), *_lines(grads.input_steps)]
    if backward.conv is not None:
        grads = backward.conv
        if backward.pool is None:
            parts += _grids("dL/dY (the upstream gradient)", grads.grad_output)
        parts += _lines(grads.rules, "italic")
        parts += [*_grids("dL/dW", grads.grad_weight), *_lines(grads.weight_steps)]
        parts += _lines(grads.bias_steps)
        parts += [*_grids("dL/dX", grads.grad_input), *_lines(grads.input_steps)]
    return parts


def render_table(applied: Applied) -> Group:
    """Input, padded input, kernel and output grids with the worked elements; then the pooling,
    im2col and the backward pass when asked for."""
    conv, pooled = applied.conv, applied.pool
    parts: list[Any] = []
    if conv is not None and applied.convention is not None:
        parts += [Text(CONVENTIONS[applied.convention], style="bold"), Text(_describe_conv(conv.settings))]
    parts += _grids("input", applied.input)
    if conv is not None:
        if conv.padded is not None:
            parts += _grids(f"padded input, {conv.settings.padding_mode.value}", conv.padded)
        parts += _grids("kernel", conv.kernel)
        if conv.flipped is not None:
            parts += _grids("flipped kernel, applied", conv.flipped)
        parts += [*_grids("output", conv.output), *_lines(conv.worked)]
    if pooled is not None:
        parts += [Text(_describe_pool(pooled.settings), style="bold"), *_grids("pooled", pooled.pooled)]
        parts += _lines(pooled.worked)
    if conv is not None and conv.im2col is not None:
        parts += _im2col_parts(conv)
    parts += _backward_parts(applied)
    return Group(*parts)
