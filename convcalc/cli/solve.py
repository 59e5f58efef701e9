"""``convcalc solve``: the inverse questions of convolution arithmetic (rules in :mod:`convcalc.solve`).

    convcalc solve padding  --in 224 --out 112 -k 7 [-s 2] [-d 1]
    convcalc solve geometry --in 227 --out 55 [-k 11] [-s 4] [-p 0] [-d 1]
                            [--max-kernel 15] [--max-stride 8] [--max-padding P]
    convcalc solve input    --out 28 -k 5 [-s 1] [-p 0] [-d 1]
    convcalc solve adaptive --in 13 --out 6
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any

import typer

from convcalc.cli._common import console_class, format_option
from convcalc.errors import UsageError
from convcalc.render.formats import Format, choose_format
from convcalc.render.solve import render_table
from convcalc.teach.solve import (
    MAX_KERNEL,
    MAX_STRIDE,
    padding_limit,
    solve_adaptive,
    solve_geometry,
    solve_input,
    solve_padding,
)

__all__ = ["FORMATS", "Question", "solve_command"]


class Question(str, Enum):
    """What to solve for."""

    padding = "padding"
    geometry = "geometry"
    input = "input"
    adaptive = "adaptive"


FORMATS = (Format.table, Format.json)


_FLAGS = {
    "in_size": "--in",
    "out_size": "--out",
    "kernel": "--kernel/-k",
    "stride": "--stride/-s",
    "padding": "--padding/-p",
    "dilation": "--dilation/-d",
    "max_kernel": "--max-kernel",
    "max_stride": "--max-stride",
    "max_padding": "--max-padding",
}

# question -> (solver, options it needs, options it also accepts)
_SOLVERS: dict[Question, tuple[Callable[..., Sequence[Any]], tuple[str, ...], tuple[str, ...]]] = {
    Question.padding: (solve_padding, ("in_size", "out_size", "kernel"), ("stride", "dilation")),
    Question.geometry: (
        solve_geometry,
        ("in_size", "out_size"),
        ("kernel", "stride", "padding", "dilation", "max_kernel", "max_stride", "max_padding"),
    ),
    Question.input: (solve_input, ("out_size", "kernel"), ("stride", "padding", "dilation")),
    Question.adaptive: (solve_adaptive, ("in_size", "out_size"), ()),
}


def solve_command(
    question: Annotated[Question, typer.Argument(help="What to solve for.", show_default=False)],
    in_size: Annotated[int | None, typer.Option("--in", help="Input size along one axis.")] = None,
    out_size: Annotated[int | None, typer.Option("--out", help="Output size along one axis.")] = None,
    kernel: Annotated[
        int | None, typer.Option("--kernel", "-k", help="Kernel size (geometry: free unless given).")
    ] = None,
    stride: Annotated[
        int | None, typer.Option("--stride", "-s", help="Stride (default 1; geometry: free unless given).")
    ] = None,
    padding: Annotated[
        int | None, typer.Option("--padding", "-p", help="Symmetric padding (default 0; geometry: free unless given).")
    ] = None,
    dilation: Annotated[int | None, typer.Option("--dilation", "-d", help="Dilation (default 1).")] = None,
    max_kernel: Annotated[
        int | None, typer.Option("--max-kernel", help=f"geometry: largest kernel tried (default {MAX_KERNEL}).")
    ] = None,
    max_stride: Annotated[
        int | None, typer.Option("--max-stride", help=f"geometry: largest stride tried (default {MAX_STRIDE}).")
    ] = None,
    max_padding: Annotated[
        int | None, typer.Option("--max-padding", help="geometry: largest padding tried (default d*(k-1)).")
    ] = None,
    format_: Annotated[str, format_option(FORMATS)] = "table",
) -> None:
    """Solve convolution arithmetic backwards: padding, geometry, input size or adaptive window.

    Every solution satisfies out = floor((in + T - d*(k-1) - 1) / s) + 1, T the total padding,
    and shows that line with its numbers.
    """
    options = {
        name: value
        for name, value in {
            "in_size": in_size,
            "out_size": out_size,
            "kernel": kernel,
            "stride": stride,
            "padding": padding,
            "dilation": dilation,
            "max_kernel": max_kernel,
            "max_stride": max_stride,
            "max_padding": max_padding,
        }.items()
        if value is not None
    }
    chosen = choose_format(format_, FORMATS, "solve")
    _check_options(question, options)
    solver = _SOLVERS[question][0]
    solutions = solver(**options)
    if chosen == Format.json:
        typer.echo(json.dumps([dataclasses.asdict(solution) for solution in solutions], indent=2))
    elif solutions:
        console_class()().print(render_table(question.value, solutions))  # rich's defaults; a reader gone as any command's
    else:
        typer.echo(f"no integer solution within bounds ({_describe_bounds(question, options)})")


def _describe_bounds(question: Question, options: dict[str, int]) -> str:
    """The search space of a question, as the solver bounds it."""
    dilation = options.get("dilation", 1)
    if question is Question.padding:
        limit = padding_limit(options["kernel"], dilation)
        return f"0 <= p <= d*(k-1) = {limit}, total padding T <= {2 * limit}"
    if question is Question.geometry:
        padding_bound = options.get("max_padding", "d*(k-1)")
        return ", ".join(
            f"{symbol} = {options[name]}" if name in options else f"{symbol} in {low}..{high}"
            for symbol, name, low, high in (
                ("k", "kernel", 1, options.get("max_kernel", MAX_KERNEL)),
                ("s", "stride", 1, options.get("max_stride", MAX_STRIDE)),
                ("p", "padding", 0, padding_bound),
            )
        )
    if question is Question.input:
        return "in >= 1"
    return "a fixed window needs out <= in"


def _check_options(question: Question, options: dict[str, int]) -> None:
    """Reject a question asked without the options it needs or with ones it does not use."""
    _, needed, accepted = _SOLVERS[question]
    missing = [_FLAGS[name] for name in needed if name not in options]
    if missing:
        raise UsageError("solve-missing-option", f"solve {question.value} needs {', '.join(missing)}")
    unused = [_FLAGS[name] for name in options if name not in needed + accepted]
    if unused:
        raise UsageError("solve-bad-argument", f"solve {question.value} does not use {', '.join(unused)}")

