"""The textbook derivation of one layer, or of every layer of a spec: each formula in symbols,
then with the numbers, then the result (``convcalc layer`` and ``convcalc explain``).

A single layer is analysed as a one-layer spec built in memory, so every number comes from the
same engine as ``convcalc summary``. The receptive-field lines apply the textbook rule stated in
:mod:`convcalc.conventions` where it holds exactly, and otherwise say what each output reads and
give the engine's exact ``RFAxis`` values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Any

from convcalc.engine import analyze
from convcalc.errors import SpecError, UsageError
from convcalc.kinds import ALIASES, KINDS, RFAxis
from convcalc.kinds._base import as_tuple
from convcalc.kinds._window import axis_names
from convcalc.report import Report, Row
from convcalc.spec import did_you_mean, parse_spec
from convcalc.spec._source import Source

__all__ = [
    "FRIENDLY_KINDS",
    "LAYER_NAME",
    "LAYER_OPTIONS",
    "LayerOption",
    "explain_row",
    "layer_args",
    "layer_report",
    "resolve_kind",
    "rf_formulas",
    "rf_summary",
    "rf_text",
    "select_rows",
]

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
_RANK_SUFFIX = re.compile(r"^(?P<base>[a-z_]+?)_?(?P<rank>[123])d$")


@dataclass(frozen=True)
class LayerOption:
    """A textbook quantity as ``convcalc layer`` takes it, and the layer argument it sets."""

    flag: str
    fields: tuple[str, ...]  # the arguments it may set: it sets the first one the kind has


# the textbooks' quantities -> layer arguments, named as PyTorch names them
LAYER_OPTIONS: dict[str, LayerOption] = {
    "kernel": LayerOption("-k/--kernel", ("kernel_size",)),
    "stride": LayerOption("-s/--stride", ("stride",)),
    "padding": LayerOption("-p/--padding", ("padding",)),
    "dilation": LayerOption("-d/--dilation", ("dilation",)),
    "groups": LayerOption("-g/--groups", ("groups",)),
    "filters": LayerOption("-n/--filters", ("out_channels", "out_features")),
    "no_bias": LayerOption("--no-bias", ("bias",)),
    "output_padding": LayerOption("--output-padding", ("output_padding",)),
    "ceil_mode": LayerOption("--ceil-mode", ("ceil_mode",)),
    "output_size": LayerOption("--output-size", ("output_size",)),
}


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
            raise UsageError("usage-input", f"{name} needs spatial axes: --input CxL, CxHxW or CxDxHxW (channels first; --layout hwc: LxC, HxWxC, DxHxWxC), got a feature vector")
        return template.format(r=rank)
    choices = [k for k in KINDS if k not in _MERGES] + list(FRIENDLY_KINDS)
    raise UsageError("usage-kind", f"unknown layer kind {name!r}", hint=did_you_mean(key, choices) or "see `convcalc schema` for every kind")


def layer_args(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The layer's arguments from the options that were given; an option the kind does not
    take, or a required argument missing, is a usage error that names the option."""
    fields = KINDS[kind].model_fields
    args: dict[str, Any] = {}
    for option, value in given.items():
        spec = LAYER_OPTIONS[option]
        field = next((f for f in spec.fields if f in fields), None)
        if field is None:
            takes = [o.flag for o in LAYER_OPTIONS.values() if any(f in fields for f in o.fields)]
            raise UsageError("usage-option", f"{spec.flag} does not apply to {kind}", hint=f"{kind} takes {', '.join(takes)}" if takes else f"{kind} takes no options")
        args[field] = value
    for name, info in fields.items():
        if info.is_required() and name not in args:
            flag = next((o.flag for o in LAYER_OPTIONS.values() if name in o.fields), name)
            raise UsageError("usage-missing", f"{kind} needs {flag} ({name})")
    return args


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
    the exact result (kinds/_rf.py composes the fields)."""
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
        return f"not known: {axis.unknown}" + ("" if axis.jump is None else f" (jump {_text(axis.jump)})")
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
    else:  # merges, crops, padding, upsampling: the result, derived in kinds/_rf.py
        per_axis = [[_summary(a)] for a in row.rf]
    names = axis_names(rank)
    if all(lines == per_axis[0] for lines in per_axis):
        return [f"RF {', '.join(names)}: {line}" for line in per_axis[0]]
    return [f"RF {name}: {line}" for name, lines in zip(names, per_axis) for line in lines]


def explain_row(report: Report, row: Row) -> list[str]:
    """Every derivation of one row: the layer's own formulas, then the receptive field."""
    return [*row.formulas, *rf_formulas(report, row)]


def rf_text(row: Row) -> list[str]:
    """One line per spatial axis: ``H: size 5, jump 1, start 2, padding 0``."""
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


def rf_summary(row: Row) -> str:
    """One line: ``size 5, jump 1, start 2, padding 0`` when every axis agrees, else per axis."""
    if row.is_global:
        return "global"
    texts = rf_text(row)
    same = {text.split(": ", 1)[1] for text in texts}
    return same.pop() if len(same) == 1 else "; ".join(texts)


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

