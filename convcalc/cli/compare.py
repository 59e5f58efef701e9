"""``convcalc compare A B [C ...]``: networks or single layers side by side (see :mod:`convcalc.compare`).

Each argument is a spec file, a built-in model's name, or layers written inline as
``KIND:ARG=VALUE,...@INPUT`` with a channels-first input, several layers joined by ``+``::

    convcalc compare inception_direct inception_bottleneck
    convcalc compare conv2d:out_channels=5,kernel_size=3@3x6x6 \\
        conv2d:out_channels=3,kernel_size=3,groups=3+conv2d:out_channels=5,kernel_size=1@3x6x6

A value is an integer, a number, ``true`` / ``false``, a word (``padding=same``) or a bracketed
list (``kernel_size=[3,5]``).
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from convcalc.cli._options import is_count
from convcalc.analysis.compare import METRICS, Comparison, compare, comparison_to_dict, ratio_text
from convcalc.conventions import DType
from convcalc.errors import SpecError, UsageError

__all__ = ["MAX_ENTRIES", "OutputFormat", "compare_command", "inline_spec", "is_inline"]

MAX_ENTRIES = 26  # columns A to Z
_INT = re.compile(r"^-?\d+$")
_KIND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADERS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activation_bytes": "activation memory (bytes)"}


class OutputFormat(str, Enum):
    table = "table"
    json = "json"




def is_inline(target: str) -> bool:
    """``KIND:ARGS@INPUT``, unless a file of that name exists."""
    return "@" in target and not Path(target).exists()


def inline_spec(target: str) -> dict[str, Any]:
    """The spec data of an inline layer chain: ``conv2d:out_channels=5,kernel_size=3@3x6x6``."""
    layers_text, _, input_text = target.rpartition("@")
    layers = [_layer(part.strip(), target) for part in _split(layers_text, "+")]
    named = [{**layer, "name": f"layer{i}"} if isinstance(layer, dict) else {layer: None, "name": f"layer{i}"} for i, layer in enumerate(layers, 1)]
    return {"name": layers_text, "input": _input(input_text, target), "layers": named}


def _layer(text: str, target: str) -> Any:
    kind, colon, args_text = text.partition(":")
    kind = kind.strip()
    if not _KIND.match(kind):
        raise UsageError("usage-layer", f"{target!r}: {text!r} does not start with a layer kind", hint="write KIND:ARG=VALUE,...@CxHxW")
    if not colon:
        return kind
    args: dict[str, Any] = {}
    for pair in _split(args_text, ","):
        name, equals, value = pair.partition("=")
        if not equals or not name.strip().isidentifier() or not value.strip():
            raise UsageError("usage-layer", f"{target!r}: {pair.strip()!r} is not ARG=VALUE", hint="e.g. conv2d:out_channels=5,kernel_size=3@3x6x6")
        args[name.strip()] = _value(value.strip(), target)
    return {kind: args}


def _split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _value(text: str, target: str) -> Any:
    from convcalc.spec._yaml import MAX_INT

    if text.startswith("[") and text.endswith("]"):
        return [_value(part.strip(), target) for part in _split(text[1:-1], ",") if part.strip()]
    if _INT.match(text):
        if abs(int(text)) > MAX_INT:
            raise UsageError("limit-int", f"{target!r}: {text} is larger than {MAX_INT:,} (limit MAX_INT)")
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def _input(text: str, target: str) -> list[int]:
    from convcalc.spec._yaml import MAX_INT

    parts = [p.strip() for p in re.split(r"[x×]", text)]
    if not 1 <= len(parts) <= 4 or not all(is_count(p) and 1 <= int(p) <= MAX_INT for p in parts):
        raise UsageError("usage-input", f"{target!r}: the input {text!r} is not 1 to 4 positive sizes, channels first", hint="e.g. @3x6x6")
    return [int(p) for p in parts]


def _report(target: str, batch: Optional[int], dtype: str):
    from convcalc import load_model
    from convcalc.spec._yaml import Source
    from convcalc.engine import analyze
    from convcalc.spec import parse_spec

    if not is_inline(target):
        return analyze(load_model(target), batch=batch, dtype=dtype)
    try:
        return analyze(parse_spec(inline_spec(target), Source(target)), batch=batch, dtype=dtype)
    except SpecError as exc:  # the spec exists only in memory: no line and column to point at
        raise SpecError(exc.code, f"{target}: {exc.message}", None, exc.hint) from None


def _print_table(comparison: Comparison) -> None:
    from convcalc.cli import console

    out = console()
    letters = [chr(ord("A") + i) for i in range(len(comparison.entries))]
    for line in _legend(comparison, letters):
        out.print(line, soft_wrap=True)
    out.print(_table(comparison, letters))
    for line in _savings(comparison, letters):
        out.print(line, soft_wrap=True)


def _legend(comparison: Comparison, letters: list[str]) -> list[str]:
    from convcalc.render import format_shape

    lines = []
    for letter, entry in zip(letters, comparison.entries):
        report = entry.report
        name = "" if report.name in entry.label else f"{report.name}; "
        lines.append(f"{letter}: {entry.label}  ({name}{format_shape(report.input_shape)} -> {format_shape(report.output_shape)})")
    return lines


def _table(comparison: Comparison, letters: list[str]):
    """One row per metric; a column per entry, each but the first followed by its ratio to the first."""
    from rich import box
    from rich.table import Table

    from convcalc.render import format_count, format_shape

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("")
    for i, letter in enumerate(letters):
        table.add_column(letter, justify="right", no_wrap=True)
        if i:
            table.add_column(f"{letter}/A", justify="right", no_wrap=True)
    for metric in METRICS:
        cells = [_HEADERS[metric]]
        for i, entry in enumerate(comparison.entries):
            cells += [format_count(entry.value(metric))] + ([ratio_text(comparison.ratio(i, metric))] if i else [])
        table.add_row(*cells)
    shapes = ["output shape"]
    for i, entry in enumerate(comparison.entries):
        shapes += [format_shape(entry.report.output_shape)] + ([""] if i else [])
    table.add_row(*shapes)
    return table


def _savings(comparison: Comparison, letters: list[str]) -> list[str]:
    letter_of: dict[str, str] = {}
    for letter, entry in zip(letters, comparison.entries):
        letter_of.setdefault(entry.label, letter)  # a spec named twice keeps its first letter
    lines = []
    for saving in comparison.savings:
        first, *rest = saving.lines()
        lines.append(f"{letter_of[saving.labels[0]]} vs {letter_of[saving.labels[1]]} ({saving.title}): {first}")
        lines += [f"  {line}" for line in rest]
    return lines


def compare_command(
    targets: Annotated[list[str], typer.Argument(help="Spec files, built-in model names, or inline layers KIND:ARG=VALUE,...@CxHxW (chain layers with +).", metavar="A B [C ...]", show_default=False)],
    batch: Annotated[Optional[int], typer.Option("--batch", "-b", min=1, help="Batch size, for activation memory.")] = None,
    dtype: Annotated[DType, typer.Option("--dtype", help="Element type, for activation memory.")] = DType.float32,
    format_: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Compare networks or layers: params, MACs, FLOPs, activation memory, exact ratios to the first."""
    if not 2 <= len(targets) <= MAX_ENTRIES:
        raise UsageError("usage-compare", f"give 2 to {MAX_ENTRIES} specs, models or inline layers to compare, got {len(targets)}")
    comparison = compare([(target, _report(target, batch, dtype.value)) for target in targets])
    if format_ == OutputFormat.json:
        typer.echo(json.dumps(comparison_to_dict(comparison), indent=2))
        return
    _print_table(comparison)
