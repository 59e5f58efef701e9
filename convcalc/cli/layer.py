"""``convcalc layer`` and ``convcalc explain``: the textbook derivation of one layer, or of every
layer of a spec, each formula in symbols, then with the numbers, then the result.

    convcalc layer conv2d --input 32x32x3 -k 5 -n 6 [--explain]
    convcalc layer pool --input 5x5x16 -k 2 -s 2 -p 1 --ceil-mode
    convcalc layer conv --input 224x224x3 -k 7 -s 2 -p same -n 64
    convcalc layer linear --input 224x224x3 -n 128 --no-bias
    convcalc explain lenet5 [--layer CONV1]

A single layer is analysed as a one-layer spec built in memory, so every number comes from the
same engine as ``convcalc summary``. The receptive-field lines apply the textbook rule stated in
:mod:`convcalc.conventions` where it holds exactly, and otherwise say what each output reads and
give the engine's exact ``RFAxis`` values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Annotated, Any, Optional

import typer

from convcalc.cli._options import Layout, is_count
from convcalc.cli._options import parse_shape as parse_options_shape
from convcalc.spec._yaml import Source
from convcalc.arith.dims import dsum, to_json_dim
from convcalc.engine import analyze
from convcalc.errors import SpecError, UsageError
from convcalc.kinds import ALIASES, KINDS, RFAxis
from convcalc.kinds._base import as_tuple
from convcalc.kinds._window import axis_names
from convcalc.render import format_count, format_shape, rf_axis_json
from convcalc.report import Report, Row
from convcalc.spec import did_you_mean, parse_spec

__all__ = [
    "FRIENDLY_KINDS",
    "LAYER_NAME",
    "Layout",
    "OutputFormat",
    "explain_command",
    "explain_row",
    "layer_command",
    "layer_report",
    "parse_shape",
    "resolve_kind",
    "rf_formulas",
    "select_rows",
]

from convcalc.report import SCHEMA_VERSION
LAYER_NAME = "layer"  # the name of the one item of a `convcalc layer` spec
SOURCE_NAME = "<layer>"

# Short names a student types, mapped by the input's spatial rank ({r} is 1, 2 or 3).
FRIENDLY_KINDS: dict[str, str] = {
    "conv": "conv{r}d",
    "convolution": "conv{r}d",
    "deconv": "conv_transpose{r}d",
    "conv_transpose": "conv_transpose{r}d",
    "convtranspose": "conv_transpose{r}d",
    "transposed_conv": "conv_transpose{r}d",
    "pool": "max_pool{r}d",
    "maxpool": "max_pool{r}d",
    "max_pool": "max_pool{r}d",
    "avgpool": "avg_pool{r}d",
    "avg_pool": "avg_pool{r}d",
    "adaptive_pool": "adaptive_avg_pool{r}d",
    "adaptive_avg_pool": "adaptive_avg_pool{r}d",
    "adaptiveavgpool": "adaptive_avg_pool{r}d",
    "adaptive_max_pool": "adaptive_max_pool{r}d",
    "adaptivemaxpool": "adaptive_max_pool{r}d",
    "dense": "linear",
    "fc": "linear",
}

_MERGES = ("add", "concat", "multiply")
_INT_LIST_OPTIONS = ("kernel", "stride", "dilation", "output_padding", "output_size")
_RANK_SUFFIX = re.compile(r"^(?P<base>[a-z_]+?)_?(?P<rank>[123])d$")
_LAYOUT_AXES = {1: "features", 2: "L x C", 3: "H x W x C", 4: "D x H x W x C"}


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


@dataclass(frozen=True)
class _Option:
    flag: str
    fields: tuple[str, ...]  # the layer argument it sets (the first one the kind has)


# command-line option -> layer argument, named as PyTorch names it
_OPTIONS: dict[str, _Option] = {
    "kernel": _Option("-k/--kernel", ("kernel_size",)),
    "stride": _Option("-s/--stride", ("stride",)),
    "padding": _Option("-p/--padding", ("padding",)),
    "dilation": _Option("-d/--dilation", ("dilation",)),
    "groups": _Option("-g/--groups", ("groups",)),
    "filters": _Option("-n/--filters", ("out_channels", "out_features")),
    "no_bias": _Option("--no-bias", ("bias",)),
    "output_padding": _Option("--output-padding", ("output_padding",)),
    "ceil_mode": _Option("--ceil-mode", ("ceil_mode",)),
    "output_size": _Option("--output-size", ("output_size",)),
}


# -- the input shape and the kind -------------------------------------------------------------


def parse_shape(text: str, layout: Layout) -> tuple:
    """``32x32x3`` (hwc: ``LxC``, ``HxWxC``, ``DxHxWxC``) or ``3x32x32`` (chw) -> channels first.
    One size alone is a feature vector. Spatial sizes may be symbol names (``HxWx3``)."""
    return parse_options_shape(text, layout, "32x32x3", f"{layout.value}: {_axes_text(layout)}")


def _axes_text(layout: Layout) -> str:
    if layout == Layout.hwc:
        return "LxC, HxWxC or DxHxWxC"
    return "CxL, CxHxW or CxDxHxW"


def resolve_kind(name: str, rank: int) -> str:
    """A registry kind, an alias, or a short name (``conv``, ``pool``, ``deconv``) made
    ``conv{rank}d`` etc. by the input's spatial rank; ``maxpool2d`` style names work too."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in KINDS:
        if key in _MERGES:
            raise UsageError("usage-kind", f"{key} merges several tensors; describe it in a spec", hint="see `convcalc explain SPEC`")
        return key
    match = _RANK_SUFFIX.match(key)
    if match and match["base"] in FRIENDLY_KINDS and "{r}" in FRIENDLY_KINDS[match["base"]]:
        return FRIENDLY_KINDS[match["base"]].format(r=match["rank"])
    if key in FRIENDLY_KINDS:
        template = FRIENDLY_KINDS[key]
        if "{r}" not in template:
            return template
        if not 1 <= rank <= 3:
            raise UsageError("usage-input", f"{name} needs spatial axes: --input LxC, HxWxC or DxHxWxC (channels last), got a feature vector")
        return template.format(r=rank)
    choices = [k for k in KINDS if k not in _MERGES] + list(FRIENDLY_KINDS)
    raise UsageError("usage-kind", f"unknown layer kind {name!r}", hint=did_you_mean(key, choices) or "see `convcalc schema` for every kind")


# -- option values ------------------------------------------------------------------------------


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
    flag = _OPTIONS["padding"].flag
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


def _layer_args(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The layer's arguments from the options that were given; an option the kind does not
    take, or a required argument missing, is a usage error that names the option."""
    fields = KINDS[kind].model_fields
    args: dict[str, Any] = {}
    for option, value in given.items():
        spec = _OPTIONS[option]
        field = next((f for f in spec.fields if f in fields), None)
        if field is None:
            takes = [o.flag for o in _OPTIONS.values() if any(f in fields for f in o.fields)]
            raise UsageError("usage-option", f"{spec.flag} does not apply to {kind}", hint=f"{kind} takes {', '.join(takes)}" if takes else f"{kind} takes no options")
        args[field] = value
    for name, info in fields.items():
        if info.is_required() and name not in args:
            flag = next((o.flag for o in _OPTIONS.values() if name in o.fields), name)
            raise UsageError("usage-missing", f"{kind} needs {flag} ({name})")
    return args


def _given_options(values: dict[str, Any]) -> dict[str, Any]:
    """The options that were given, parsed; flags only when set."""
    given: dict[str, Any] = {}
    for option, value in values.items():
        if value is None or value is False:
            continue
        if option in _INT_LIST_OPTIONS:
            given[option] = _ints(value, _OPTIONS[option].flag)
        elif option == "padding":
            given[option] = _padding(value)
        elif option in ("no_bias", "ceil_mode"):
            given[option] = option == "ceil_mode"  # --no-bias sets bias false, --ceil-mode sets ceil_mode true
        else:
            given[option] = value  # typer has already made it an int
    return given


# -- the one-layer report -----------------------------------------------------------------------


def layer_report(kind: str, input_shape: tuple, args: dict[str, Any]) -> Report:
    """Analyse one layer as a one-item spec. A linear layer on a tensor with spatial axes is
    preceded by a flatten (the textbooks' "dense layer on an image"). Spec errors come back
    without a source position: the spec exists only in memory."""
    items: list[Any] = [{kind: args, "name": LAYER_NAME}]
    if kind == "linear" and len(input_shape) > 1:
        items.insert(0, "flatten")
    data = {"name": kind, "input": list(input_shape), "layers": items}
    try:
        return analyze(parse_spec(data, Source(SOURCE_NAME)))
    except SpecError as exc:
        message = exc.message.removeprefix(f"{LAYER_NAME} ({kind}): ")
        message = message if message.startswith(kind) else f"{kind}: {message}"
        raise SpecError(exc.code, message, None, exc.hint) from None


# -- derivations ----------------------------------------------------------------------------------


def _text(x: Any) -> str:
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    return str(x)


def _factor(x: Any) -> str:
    """A value inside a product: a fraction in parentheses."""
    text = _text(x)
    return f"({text})" if "/" in text or text.startswith("-") else text


def _exact(*xs: Any) -> bool:
    return all(isinstance(x, (int, Fraction)) for x in xs)


def _input_rf(report: Report, row: Row) -> tuple[RFAxis, ...]:
    source = row.inputs[0] if row.inputs else -1
    if source < 0:
        return tuple(RFAxis() for _ in report.input_shape[1:])
    return report.rows[source].rf


def _arg(row: Row, name: str, default: Any = None) -> Any:
    """A validated argument of the row, or the kind's default when it was not written."""
    fields = KINDS[row.kind].model_fields if row.kind in KINDS else {}
    if name in row.args:
        return row.args[name]
    return fields[name].default if name in fields else default


def _window(row: Row, rank: int) -> tuple[tuple, tuple, tuple, tuple]:
    """Kernel, stride, dilation and padding-before per axis (a pool's stride defaults to its kernel)."""
    kernel = as_tuple(_arg(row, "kernel_size"), rank, "kernel_size")
    stride = as_tuple(_arg(row, "stride") or _arg(row, "kernel_size"), rank, "stride")
    dilation = as_tuple(_arg(row, "dilation", 1), rank, "dilation")
    pads = as_tuple(_arg(row, "padding", 0), rank, "padding")
    before = tuple(p[0] if isinstance(p, (list, tuple)) else p for p in pads)
    return kernel, stride, dilation, before


def _step_lines(r_in: RFAxis, r_out: RFAxis, k_eff: tuple[str, Any], jump: tuple[str, str, str], pad: tuple[str, str]) -> list[str]:
    """The receptive-field rule (conventions: receptive field) with the numbers substituted.

    ``k_eff`` is its derivation line and value; ``jump`` is how far apart the kernel's taps are,
    in symbols and in numbers (``j_in``, or ``j_in/s`` after a transposed conv's zero insertion),
    and the line giving ``j_out``; ``pad`` is the padding before, in symbols and in numbers.
    """
    k_line, k = k_eff
    symbol, numbers, jump_line = jump
    pad_symbol, pad_numbers = pad
    return [
        k_line,
        f"r_out = r_in + (k_eff-1)*{symbol} = {_text(r_in.size)} + ({k}-1)*{numbers} = {_text(r_out.size)}",
        jump_line,
        f"start_out = start_in + ((k_eff-1)/2 - {pad_symbol})*{symbol} = {_text(r_in.start)} + (({k}-1)/2 - {pad_numbers})*{numbers} = {_text(r_out.start)}",
        f"P_eff = (r_out-1)/2 - start_out = ({_text(r_out.size)}-1)/2 - {_factor(r_out.start)} = {_text(r_out.padding)}",
    ]


def _axis_lines(row: Row, i: int, r_in: RFAxis, r_out: RFAxis, window: tuple | None) -> list[str]:
    """The textbook rule where it holds exactly (one field size, one offset per output, before
    and after: a convolution or pooling of such an input); elsewhere what each output reads, and
    the exact result (layers/_rf.py composes the fields)."""
    j_in = _factor(r_in.jump)
    transposed = "output_padding" in KINDS[row.kind].model_fields
    if window is not None:
        kernel, stride, dilation, before = (w[i] for w in window)
        if not transposed and r_in.is_simple and r_out.is_simple:
            k_eff = dilation * (kernel - 1) + 1
            k_line = (f"k_eff = d*(k-1) + 1 = {dilation}*({kernel}-1) + 1 = {k_eff}", k_eff)
            jump = ("j_in", j_in, f"j_out = j_in*s = {j_in}*{stride} = {_text(r_out.jump)}")
            return _step_lines(r_in, r_out, k_line, jump, ("p", str(before)))
        if transposed:
            padding = as_tuple(_arg(row, "padding", 0), len(row.rf), "padding")[i]
            reads = f"output o reads every input i with i*s - p + t*d equal to o, t from 0 to k-1 (s {stride}, p {padding}, d {dilation}, k {kernel})"
            jump_line = f"j_out = j_in/s = {j_in}/{stride} = {_text(r_out.jump)}"
        else:
            reads = f"output o reads the inputs o*s - p + t*d, t from 0 to k-1 (s {stride}, p {before}, d {dilation}, k {kernel}): the union of their fields"
            jump_line = f"j_out = j_in*s = {j_in}*{stride} = {_text(r_out.jump)}"
        return [reads, *([jump_line] if _exact(r_in.jump, r_out.jump) else []), _summary(r_out)]
    if "output_size" in KINDS[row.kind].model_fields:
        n, m = row.input_shapes[0][1 + i], row.output_shape[1 + i]
        reads = f"output i reads the inputs floor(i*n/m) to ceil((i+1)*n/m) - 1 (n {n}, m {m})"
        jump_line = f"j_out = j_in*n/m = {j_in}*{n}/{m} = {_text(r_out.jump)}"
        return [reads, *([jump_line] if _exact(r_in.jump, r_out.jump, n, m) else []), _summary(r_out)]
    return [_summary(r_out)]


def _summary(axis: RFAxis) -> str:
    """The exact field in one line: the largest size, the jump, the first output's interval."""
    if not axis.known:
        return f"not known: {axis.unknown} (jump {_text(axis.jump)})"
    first = axis.first
    reads = "reads no input" if first is None else f"reads [{_text(first[0])}, {_text(first[1])}], start {_text(axis.start)}"
    repeat = f"; the fields repeat every {axis.period} outputs" if axis.period and axis.period > 1 else ""
    return f"size {_text(axis.size)} (the largest field), jump {_text(axis.jump)}; the first output {reads}{repeat}"


def rf_formulas(report: Report, row: Row) -> list[str]:
    """Receptive-field lines of one row, prefixed ``RF H:`` (axes with identical lines share one
    prefix, ``RF H, W:``). Flatten, linear and global pooling see the whole input."""
    rf_in = _input_rf(report, row)
    source = row.inputs[0] if row.inputs else -1
    was_global = source >= 0 and report.rows[source].is_global
    if row.is_global:
        return [] if was_global else ["RF: global (every output sees the whole input)"]
    fields = KINDS[row.kind].model_fields if row.kind in KINDS else {}
    rank = len(row.rf)
    if len(rf_in) != rank or not rank:
        return []
    if "kernel_size" in fields or "output_size" in fields:
        window = _window(row, rank) if "kernel_size" in fields else None
        per_axis = [_axis_lines(row, i, rf_in[i], row.rf[i], window) for i in range(rank)]
    elif row.rf == rf_in and len(row.inputs) <= 1:
        return []
    else:  # merges, crops, padding, upsampling: the result, derived in layers/_rf.py
        per_axis = [[_summary(a)] for a in row.rf]
    names = axis_names(rank)
    if all(lines == per_axis[0] for lines in per_axis):
        return [f"RF {', '.join(names)}: {line}" for line in per_axis[0]]
    return [f"RF {name}: {line}" for name, lines in zip(names, per_axis) for line in lines]


def explain_row(report: Report, row: Row) -> list[str]:
    """Every derivation of one row: the layer's own formulas, then the receptive field."""
    return [*row.formulas, *rf_formulas(report, row)]


# -- selecting layers -------------------------------------------------------------------------------


def _matches(row: Row, pattern: str) -> bool:
    """``NAME`` is a row's name, or a run of whole segments of its path: ``CONV1``,
    ``layer3.1.conv2``, a block (``stage4``: every row under it). ``*``, ``?`` and ``[...]`` glob
    over the path from any segment on (``stage4.*.conv``). Case does not matter."""
    key = pattern.lower()
    if row.name and row.name.lower() == key:
        return True
    segments = row.path.lower().split(".")
    if any(ch in key for ch in "*?["):
        return any(fnmatchcase(".".join(segments[i:]), key) for i in range(len(segments)))
    wanted = key.split(".")
    return any(segments[i : i + len(wanted)] == wanted for i in range(len(segments) - len(wanted) + 1))


def select_rows(report: Report, patterns: list[str]) -> list[Row]:
    """The rows any pattern matches, in network order; a pattern matching nothing is a usage error."""
    for pattern in patterns:
        if not any(_matches(row, pattern) for row in report.rows):
            known = [*(r.name for r in report.rows if r.name), *(r.path for r in report.rows), *(g.path for g in report.groups)]
            hint = did_you_mean(pattern, known) or f"layers: {', '.join(list(dict.fromkeys(known))[:12])}"
            raise UsageError("usage-layer", f"no layer {pattern!r} in {report.name}", hint=hint)
    return [row for row in report.rows if not patterns or any(_matches(row, p) for p in patterns)]


# -- output --------------------------------------------------------------------------------------


def _ordered(shape: tuple, layout: Layout) -> list:
    dims = list(shape)
    return dims[1:] + dims[:1] if layout == Layout.hwc and len(dims) > 1 else dims


def _row_dict(report: Report, row: Row, layout: Layout) -> dict[str, Any]:
    return {
        "path": row.path,
        "name": row.name or row.path.rsplit(".", 1)[-1],
        "kind": row.kind,
        "input_shape": [to_json_dim(d) for d in _ordered(row.input_shapes[0], layout)],
        "output_shape": [to_json_dim(d) for d in _ordered(row.output_shape, layout)],
        "arguments": row.args,
        "params": to_json_dim(row.params),
        "buffers": to_json_dim(row.buffers),
        "macs": to_json_dim(row.macs),
        "flops": to_json_dim(row.flops),
        "activations": to_json_dim(row.activations),
        "receptive_field": [{"axis": name, **rf_axis_json(a)} for name, a in zip(axis_names(len(row.rf)), row.rf)],
        "receptive_field_global": row.is_global,
        "formulas": explain_row(report, row),
    }


def _document(report: Report, rows: list[Row], layout: Layout, command: str) -> str:
    """One JSON object: the selected rows, each with its derivations; shapes in ``layout`` order.
    ``totals`` sums the selected rows (for ``layer``: the layer, and the flatten before a linear one)."""
    totals = {key: to_json_dim(dsum(getattr(row, key) for row in rows)) for key in ("params", "buffers", "macs", "flops", "activations")}
    data = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "name": report.name,
        "layout": layout.value,
        "input_shape": [to_json_dim(d) for d in _ordered(report.input_shape, layout)],
        "output_shape": [to_json_dim(d) for d in _ordered(report.output_shape, layout)],
        "layers": [_row_dict(report, row, layout) for row in rows],
        "totals": totals,
    }
    return json.dumps(data, indent=2, default=str)


def _rf_text(row: Row) -> list[str]:
    if row.is_global:
        return ["global (every output sees the whole input)"]
    return [f"{name}: {_rf_line(a)}" for name, a in zip(axis_names(len(row.rf)), row.rf)]


def _rf_line(a: RFAxis) -> str:
    """``size 5, jump 1, start 2, padding 0``, and the first output's interval when the fields
    differ from one output to the next."""
    if not a.known:
        return f"not known ({a.unknown})"
    if a.first is None:
        return f"size {_text(a.size)}, jump {_text(a.jump)}, the first output reads no input"
    text = f"size {_text(a.size)}, jump {_text(a.jump)}, start {_text(a.start)}, padding {_text(a.padding)}"
    return text if a.is_simple else f"{text}, first [{_text(a.first[0])}, {_text(a.first[1])}]"


def _rf_summary(row: Row) -> str:
    """One line: ``size 5, jump 1, start 2, padding 0`` when every axis agrees, else per axis."""
    if row.is_global:
        return "global"
    texts = _rf_text(row)
    same = {text.split(": ", 1)[1] for text in texts}
    return same.pop() if len(same) == 1 else "; ".join(texts)


def _shape_text(shape: tuple, layout: Layout) -> str:
    return format_shape(shape, layout.value)


def _print_layer(console, report: Report, layout: Layout, explain: bool) -> None:
    from rich.table import Table

    row = report.rows[-1]
    axes = _LAYOUT_AXES[len(report.input_shape)] if layout == Layout.hwc else "channels first"
    console.print(f"{row.kind}  {_shape_text(report.input_shape, layout)} -> {_shape_text(row.output_shape, layout)}  ({axes})", markup=False)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("quantity")
    table.add_column("value", overflow="fold")
    if row.args:
        table.add_row("arguments", ", ".join(f"{key}={value}" for key, value in row.args.items()))
    for earlier in report.rows[:-1]:
        table.add_row("first", f"{earlier.kind}: {_shape_text(earlier.input_shapes[0], layout)} -> {_shape_text(earlier.output_shape, layout)}")
    table.add_row("output shape", _shape_text(row.output_shape, layout))
    table.add_row("params", format_count(row.params) + (f" (+ {format_count(row.buffers)} buffers)" if row.buffers else ""))
    table.add_row("MACs", format_count(row.macs))
    table.add_row("FLOPs", format_count(row.flops))
    table.add_row("activations", format_count(row.activations))
    table.add_row("receptive field", "\n".join(_rf_text(row)))
    if row.notes:
        table.add_row("notes", "\n".join(row.notes))
    console.print(table)
    if explain:
        for each in report.rows:
            for line in explain_row(report, each):
                console.print(line, markup=False, soft_wrap=True)


def _print_explained(console, report: Report, rows: list[Row], layout: Layout) -> None:
    console.print(f"{report.name}  input {_shape_text(report.input_shape, layout)}", markup=False)
    for row in rows:
        shapes = " + ".join(_shape_text(s, layout) for s in row.input_shapes)
        console.print(f"\n{row.path} ({row.kind})  {shapes} -> {_shape_text(row.output_shape, layout)}", markup=False, style="bold")
        for line in explain_row(report, row):
            console.print(f"  {line}", markup=False, soft_wrap=True)
        rf = _rf_summary(row)
        console.print(
            f"  = params {format_count(row.params)}, MACs {format_count(row.macs)}, FLOPs {format_count(row.flops)}, "
            f"activations {format_count(row.activations)}" + (f", RF {rf}" if rf else ""),
            markup=False, soft_wrap=True,
        )


def _console():
    from convcalc.cli import console

    return console()


# -- the commands ------------------------------------------------------------------------------------

ValuesOpt = Optional[str]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def layer_command(
    kind: Annotated[str, typer.Argument(help="conv2d, conv, pool, avgpool, deconv, adaptive_pool, linear, ... (short names follow the input's rank).", metavar="KIND", show_default=False)],
    input_: Annotated[str, typer.Option("--input", "-i", help="Input shape, H x W x C by default: 32x32x3 (1-d LxC, 3-d DxHxWxC, a feature vector: 400).", show_default=False)],
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
    layout: Annotated[Layout, typer.Option("--layout", help="How --input is written and shapes are printed: H x W x C (hwc) or C x H x W (chw).")] = Layout.hwc,
    explain: Annotated[bool, typer.Option("--explain", "-e", help="Print every formula: symbols, then numbers, then the result.")] = False,
    format_: FormatOpt = OutputFormat.table,
) -> None:
    """One layer without a spec: output shape, params, MACs, FLOPs and receptive field."""
    shape = parse_shape(input_, layout)
    resolved = resolve_kind(kind, len(shape) - 1)
    given = _given_options({
        "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "filters": filters,
        "no_bias": no_bias, "output_padding": output_padding, "ceil_mode": ceil_mode, "output_size": output_size,
    })
    report = layer_report(resolved, shape, _layer_args(resolved, given))
    if format_ == OutputFormat.json:
        typer.echo(_document(report, list(report.rows), layout, "layer"))
        return
    _print_layer(_console(), report, layout, explain)


def explain_command(
    spec: Annotated[str, typer.Argument(help="A spec file, or the name of a built-in model (see `convcalc models`).", metavar="SPEC_OR_MODEL", show_default=False)],
    layer: Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Only the layers whose path or name matches (CONV1, layer3.1.conv2, a block's path, or a glob); repeatable.")] = None,
    input_: Annotated[Optional[str], typer.Option("--input", "-i", help="Another input shape, written in --layout order.")] = None,
    layout: Annotated[Layout, typer.Option("--layout", help="Shapes channels first (chw, as specs write them) or last (hwc, as textbooks do).")] = Layout.chw,
    format_: FormatOpt = OutputFormat.table,
) -> None:
    """The derivation of every layer of a spec: each formula in symbols, with numbers, and the result."""
    from convcalc import load_model

    shape = parse_shape(input_, layout) if input_ is not None else None
    report = analyze(load_model(spec), input_shape=shape)
    rows = select_rows(report, list(layer or []))
    if format_ == OutputFormat.json:
        typer.echo(_document(report, rows, layout, "explain"))
        return
    _print_explained(_console(), report, rows, layout)
