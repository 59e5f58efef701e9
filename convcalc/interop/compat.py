"""What fvcore, ptflops and torchinfo would report for a network, rebuilt from convcalc's rows.

Papers and tools quote one number for a network's cost, and the numbers disagree: each tool counts
its own set of things. A preset reproduces one tool's total exactly from a :class:`Report`, with a
breakdown by rule, so that a number read in a paper or printed by a tool can be reconciled with
convcalc's MACs. Every rule is data (:class:`Rule`): the kinds it applies to, what it counts per
row, and a verdict: ``convention`` (the tool means to count this way) or ``bug`` (the tool's own
definition says otherwise). convcalc's own columns imitate none of the bugs.

The tools, as read from their sources (counts per image, batch 1):

fvcore ``FlopCountAnalysis(model, x).total()`` (``fvcore/nn/flop_count.py``, ``jit_handles.py``)
    Traces the model and counts the ATen ops it has a handle for; "one fused multiply-add counts
    as one flop". conv / linear: MACs, bias ignored (a transposed conv per input position, as
    convcalc). batch norm, inference: 2 per element, 1 without affine (5 / 4, the training rule,
    when it keeps no running statistics). layer / group norm: 5 per element, 4 without affine
    ("a rough estimate"). ``adaptive_avg_pool2d``: 1 per input element. ``upsample_nearest2d``: 1,
    ``upsample_bilinear2d``: 4 per output element. Every other op counts 0: activations,
    max / average pooling, 1-d and 3-d adaptive pooling, merges, softmax.
ptflops ``get_model_complexity_info(model, shape)``, 0.7.x, default pytorch backend
    (``ptflops/pytorch_ops.py``, ``pytorch_engine.py``). A forward hook per ``nn.Module`` type
    (looked up by exact type, so a subclass gets none): conv and transposed conv MACs (the latter
    per input position) + 1 per output element for the bias; linear ``(in + 1) * out`` per
    position; batch / group norm 2 per input element (1 without affine); layer norm 1 (the hook
    reads ``module.affine``, which ``nn.LayerNorm`` does not have); ReLU, ReLU6, LeakyReLU, ELU,
    GELU 1 per output element; every pooling module 1 per input element; ``nn.Upsample`` 1 per
    output element. On top of the hooks it patches ``torch.nn.functional``: ``F.relu``, ``F.elu``,
    ``F.gelu``, ``F.relu6``, ``F.silu``, ``F.softmax``, every ``F.*pool*`` and ``F.interpolate``
    add 1 per input (output, for interpolate) element whenever they run, also when the module
    whose hook already counted them calls them: ReLU, ELU, GELU, pooling and upsampling modules
    are counted twice. ``torch.add`` / ``Tensor.add`` / ``mul`` are patched too, but ``a + b``
    and ``a * b`` are not (merges count 0).
torchinfo ``summary(model, (1, C, H, W)).total_mult_adds`` (``torchinfo/layer_info.py``)
    For every leaf module with parameters: a class named ``*Conv*`` counts each of its parameters
    (weight and bias) once per output position; any other module counts its parameters once per
    image. So a conv's weights give its MACs and its bias 1 add per output element, a linear
    layer on a flat vector gives ``in * out + out``, but a linear layer applied at every position
    of a channels-last tensor (ConvNeXt's MLP) is counted once per image, not once per position,
    a transposed conv once per output position instead of per input position, and a norm layer's
    scale and shift count as its work. Modules without parameters count 0.

The hook-based tools see how the PyTorch code calls a layer, which a spec does not say. A row is
called as a ``module`` (the ``nn.Module`` its kind names; the default), as a ``function`` (the
model's ``forward`` calls ``torch.nn.functional`` directly: no module, no hook), or through a
module ``subclass`` (a hook looked up by exact type misses it; torchinfo still sees a leaf module).
``TORCHVISION_CALLS`` records where the built-in models' torchvision definitions differ from the
default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable, Literal, Mapping, Optional

from convcalc.arith.dims import Dim, prod, to_json_dim
from convcalc.kinds import KINDS
from convcalc.report import Report, Row

__all__ = [
    "CALLS",
    "PRESETS",
    "TOOLS",
    "TORCHVISION_CALLS",
    "CompatTotal",
    "Preset",
    "Rule",
    "calls_for",
    "compat_lines",
    "compat_total",
    "layer_arg",
]

Call = Literal["module", "function", "subclass"]
Verdict = Literal["convention", "bug"]
CALLS: tuple[Call, ...] = ("module", "function", "subclass")

# How torchvision's forward() runs a layer where it is not the module its kind names, keyed by the
# built-in spec's `name` and a glob over row paths.
TORCHVISION_CALLS: dict[str, dict[str, Call]] = {
    # MobileNetV2.forward: nn.functional.adaptive_avg_pool2d(x, (1, 1)); there is no avgpool module.
    "MobileNet v2": {"avgpool": "function"},
    # LayerNorm2d(nn.LayerNorm) in the stem, the downsampling layers and the head; the blocks use
    # nn.LayerNorm itself.
    "ConvNeXt-T": {"features.0.1": "subclass", "features.[246].0": "subclass", "classifier.0": "subclass"},
    # BasicConv2d.forward ends with F.relu(x, inplace=True); there is no ReLU module.
    "GoogLeNet": {"*.relu": "function"},
}

_CONV = frozenset({"conv1d", "conv2d", "conv3d"})
_CONV_T = frozenset({"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
_BATCH_NORM = frozenset({"batch_norm1d", "batch_norm2d", "batch_norm3d"})
_POOL = frozenset(
    f"{kind}{r}d" for kind in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool") for r in (1, 2, 3)
) | {"global_avg_pool", "global_max_pool"}  # global pools: nn.AdaptiveAvgPool / AdaptiveMaxPool(1)
_EVERYWHERE: frozenset[Call] = frozenset(CALLS)
_MODULES: frozenset[Call] = frozenset({"module", "subclass"})


@dataclass(frozen=True)
class Rule:
    """One thing a tool counts: ``count(row)`` for every row of ``kinds`` called in one of ``calls``
    and accepted by ``where``."""

    key: str
    kinds: frozenset[str]
    count: Callable[[Row], Dim]
    verdict: Verdict
    why: str
    calls: frozenset[Call] = _EVERYWHERE
    where: Callable[[Row], bool] = field(default=lambda row: True)

    def applies(self, row: Row, call: Call) -> bool:
        return row.kind in self.kinds and call in self.calls and self.where(row)


@dataclass(frozen=True)
class Preset:
    tool: str
    counts: str  # what the tool's number is, in its own words
    rules: tuple[Rule, ...]
    ignored: frozenset[str]  # kinds the tool counts as 0
    notes: Callable[[Report, Mapping[int, Call]], list[str]] = field(default=lambda report, calls: [])

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind this preset has a rule for, or knows the tool ignores."""
        return frozenset().union(*(r.kinds for r in self.rules)) | self.ignored


@dataclass(frozen=True)
class CompatTotal:
    """The total a tool would report, and what it is made of (rule key -> count, in rule order)."""

    tool: str
    total: Dim
    breakdown: dict[str, Dim]
    bugs: tuple[str, ...]  # the breakdown keys that are the tool's bugs
    notes: tuple[str, ...]
    partial: bool  # some row's kind has no rule: counted as 0 here, perhaps not by the tool

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "total": to_json_dim(self.total),
            "breakdown": {key: to_json_dim(n) for key, n in self.breakdown.items()},
            "bugs": list(self.bugs), "notes": list(self.notes), "partial": self.partial,
        }


# -- what a row holds ------------------------------------------------------------------------------


def layer_arg(row: Row, name: str) -> Any:
    """A layer argument, or the kind's default when the spec left it out."""
    if name in row.args:
        return row.args[name]
    return KINDS[row.kind].model_fields[name].default


def _elements_in(row: Row) -> Dim:
    return prod(row.input_shapes[0])


def _elements_out(row: Row) -> Dim:
    return prod(row.output_shape)


def _positions_out(row: Row) -> Dim:
    """Output positions of a conv (spatial sizes), or of a linear layer (every axis but its features)."""
    if row.kind == "linear":
        return prod(row.output_shape) // _out_features(row)
    return prod(row.output_shape[1:])


def _out_features(row: Row) -> Dim:
    return row.output_shape[-1] if layer_arg(row, "axis") == "last" else row.output_shape[0]


def _bias_params(row: Row) -> Dim:
    if not layer_arg(row, "bias"):
        return 0
    return _out_features(row) if row.kind == "linear" else row.output_shape[0]


def _bias_adds(row: Row) -> Dim:
    """One add per output element of a layer with bias."""
    return _elements_out(row) if layer_arg(row, "bias") else 0


def _weight_params(row: Row) -> Dim:
    return row.params - _bias_params(row)


def _spatial_rank(row: Row) -> int:
    return len(row.input_shapes[0]) - 1


def _affine(row: Row) -> bool:
    return bool(layer_arg(row, "elementwise_affine" if row.kind == "layer_norm" else "affine"))


def _per_position(row: Row) -> bool:
    """A linear layer applied at more than one position (``axis`` on a tensor with spatial axes)."""
    return len(row.output_shape) > 1 and _positions_out(row) != 1


def _macs(row: Row) -> Dim:
    return row.macs


# -- fvcore ------------------------------------------------------------------------------------------


def _fvcore_batch_norm(row: Row) -> Dim:
    """Inference: ``x * scale + shift`` folded, 2 per element (1 without affine). Without running
    statistics PyTorch normalises with the batch's, and fvcore uses its training rule (5 / 4)."""
    if not layer_arg(row, "track_running_stats"):
        return _fvcore_norm(row)
    return _elements_in(row) * (2 if _affine(row) else 1)


def _fvcore_norm(row: Row) -> Dim:
    return _elements_in(row) * (5 if _affine(row) else 4)


def _fvcore_upsample(row: Row) -> Dim:
    return _elements_out(row) * {"nearest": 1, "bilinear": 4}[layer_arg(row, "mode")]


def _fvcore_upsample_handled(row: Row) -> bool:
    """Only ``upsample_nearest2d`` and ``upsample_bilinear2d`` have handles."""
    return _spatial_rank(row) == 2 and layer_arg(row, "mode") in ("nearest", "bilinear")


FVCORE = Preset(
    tool="fvcore",
    counts='"flops": one fused multiply-add counted as one flop',
    rules=(
        Rule("conv / linear MACs", _CONV | _CONV_T | {"linear"}, _macs, "convention",
             "MACs, bias ignored; a transposed conv per input position, as convcalc counts it"),
        Rule("batch norm: 2 per element", _BATCH_NORM, _fvcore_batch_norm, "convention",
             "inference: scale and shift, folded into the conv at deployment (fvcore says to drop it then)"),
        Rule("layer / group norm: 5 per element", frozenset({"layer_norm", "group_norm"}), _fvcore_norm, "convention",
             "mean, variance, normalise, scale and shift: 'a rough estimate' (4 without affine)"),
        Rule("adaptive_avg_pool2d: 1 per input element", frozenset({"adaptive_avg_pool2d", "global_avg_pool"}),
             _elements_in, "convention", "the adds of the average; the only pooling op fvcore counts (1-d and 3-d: 0)",
             where=lambda row: _spatial_rank(row) == 2),
        Rule("upsample: 1 (nearest) or 4 (bilinear) per output element", frozenset({"upsample"}), _fvcore_upsample,
             "convention", "interpolation weights; nearest 1-d / 3-d, linear, bicubic and trilinear have no handle (0)",
             where=_fvcore_upsample_handled),
    ),
    # no handle: activations, max / average pooling, merges, softmax, layer scale, local response norm
    ignored=frozenset(KINDS) - _CONV - _CONV_T - _BATCH_NORM
    - {"linear", "layer_norm", "group_norm", "adaptive_avg_pool2d", "global_avg_pool", "upsample"},
)


# -- ptflops -----------------------------------------------------------------------------------------


def _ptflops_norm(row: Row) -> Dim:
    return _elements_in(row) * (2 if _affine(row) else 1)


def _ptflops_lrn(row: Row) -> Dim:
    """``F.local_response_norm``'s own tensor ops, caught by the patches: ``input.mul(input)``, the
    ``avg_pool`` over the channel-padded squares (``size - 1`` more channels), ``.mul(alpha)`` and
    ``.add(k)``."""
    c, spatial = row.input_shapes[0][0], prod(row.input_shapes[0][1:])
    return 3 * c * spatial + (c + layer_arg(row, "size") - 1) * spatial


_PT_ACT_TWICE = frozenset({"relu", "elu", "gelu"})  # module hook, and the module calls the patched F.*
_PT_ACT_HOOK = frozenset({"relu6", "leaky_relu"})  # hook; the module calls F.hardtanh / F.leaky_relu, not patched
_PT_ACT_PATCHED = frozenset({"silu", "softmax"})  # no hook; the module calls the patched F.silu / F.softmax

PTFLOPS = Preset(
    tool="ptflops",
    counts='"MACs" (GMac): MACs plus one per element of most other layers',
    rules=(
        Rule("conv MACs", _CONV | _CONV_T, _macs, "convention",
             "a transposed conv per input position, as convcalc counts it", calls=frozenset({"module"})),
        Rule("conv bias: 1 per output element", _CONV | _CONV_T, _bias_adds, "convention",
             "the bias add", calls=frozenset({"module"})),
        Rule("linear MACs", frozenset({"linear"}), _macs, "convention",
             "in * out per position", calls=frozenset({"module"})),
        Rule("linear bias: 1 per output element", frozenset({"linear"}), _bias_adds, "convention",
             "out per position", calls=frozenset({"module"})),
        Rule("batch / group norm: 2 per element", _BATCH_NORM | {"group_norm"}, _ptflops_norm, "convention",
             "scale and shift (1 without affine)", calls=frozenset({"module"})),
        Rule("layer norm: 1 per element", frozenset({"layer_norm"}), _elements_in, "bug",
             "the hook asks for module.affine, which nn.LayerNorm lacks (it has elementwise_affine), so an affine "
             "layer norm counts as a plain one; a LayerNorm subclass gets no hook at all", calls=frozenset({"module"})),
        Rule("activations: 1 per element", _PT_ACT_TWICE | _PT_ACT_HOOK, _elements_out, "convention",
             "module hook", calls=frozenset({"module"})),
        Rule("activations again: patched F.relu / F.elu / F.gelu", _PT_ACT_TWICE, _elements_in, "bug",
             "the module's forward calls the patched function after its hook counted it: counted twice",
             calls=frozenset({"module"})),
        Rule("activations called as functions: 1 per element", _PT_ACT_TWICE, _elements_in, "convention",
             "the patched F.relu / F.elu / F.gelu", calls=frozenset({"function", "subclass"})),
        Rule("relu6 called as F.relu6: 1 per element", frozenset({"relu6"}), _elements_in, "convention",
             "the patched F.relu6 (nn.ReLU6 itself calls F.hardtanh, which is not patched)", calls=frozenset({"function"})),
        Rule("silu / softmax: 1 per element, by the patched function", _PT_ACT_PATCHED, _elements_in, "convention",
             "no module hook; nn.SiLU / nn.Softmax call the patched F.silu / F.softmax"),
        Rule("pooling: 1 per input element", _POOL, _elements_in, "convention",
             "module hook", calls=frozenset({"module"})),
        Rule("pooling again: patched F.*pool*", _POOL, _elements_in, "bug",
             "the module's forward calls the patched function after its hook counted it: counted twice",
             calls=frozenset({"module"})),
        Rule("pooling called as a function: 1 per input element", _POOL, _elements_in, "convention",
             "the patched F.*pool*", calls=frozenset({"function", "subclass"})),
        Rule("upsample: 1 per output element", frozenset({"upsample"}), _elements_out, "convention",
             "module hook", calls=frozenset({"module"})),
        Rule("upsample again: patched F.interpolate", frozenset({"upsample"}), _elements_out, "bug",
             "nn.Upsample calls the patched F.interpolate after its hook counted it: counted twice (with a "
             "scale_factor that is not a whole number ptflops counts in * scale^d, a float, here the output elements)",
             calls=frozenset({"module"})),
        Rule("upsample called as a function: 1 per output element", frozenset({"upsample"}), _elements_out,
             "convention", "the patched F.interpolate", calls=frozenset({"function", "subclass"})),
        Rule("local response norm: its tensor ops", frozenset({"local_response_norm"}), _ptflops_lrn, "convention",
             "no rule of its own; the Tensor.mul / add and F.avg_pool patches count the ops inside "
             "F.local_response_norm: 3 per element + 1 per element of the channel-padded squares"),
    ),
    # no hook and no patched function; merges and layer scale are written `a + b`, `torch.cat`, `a * b`,
    # which are not patched (an explicit torch.add / Tensor.mul would count 1 per element)
    ignored=frozenset({
        "sigmoid", "tanh", "hardswish", "hardsigmoid", "log_softmax", "add", "concat", "multiply", "layer_scale",
        "flatten", "dropout", "identity", "zero_pad", "center_crop",
    }),
)


# -- torchinfo ---------------------------------------------------------------------------------------


def _torchinfo_conv_weights(row: Row) -> Dim:
    return _weight_params(row) * _positions_out(row)


def _torchinfo_conv_bias(row: Row) -> Dim:
    return _bias_params(row) * _positions_out(row)


def _torchinfo_notes(report: Report, calls: Mapping[int, Call]) -> list[str]:
    notes = []
    mlp = [r for r in report.rows if r.kind == "linear" and _per_position(r) and calls.get(r.index, "module") != "function"]
    if mlp:
        counted = sum(r.params for r in mlp)
        macs = sum(r.macs for r in mlp)
        notes.append(
            f"{len(mlp)} linear layer(s) act at every position of a channels-last tensor: torchinfo counts their "
            f"{counted:,} parameters once per image, not their {macs:,} MACs (its bug; convcalc counts per position)"
        )
    deconv = [r for r in report.rows if r.kind in _CONV_T]
    if deconv:
        counted = sum(_torchinfo_conv_weights(r) for r in deconv)
        macs = sum(r.macs for r in deconv)
        notes.append(
            f"transposed conv: torchinfo counts each weight once per output position, {counted:,} instead of the "
            f"{macs:,} MACs done per input position (its bug)"
        )
    return notes


TORCHINFO = Preset(
    tool="torchinfo",
    counts='"Total mult-adds": parameters times positions',
    rules=(
        Rule("conv weights x output positions", _CONV, _torchinfo_conv_weights, "convention",
             "equals the conv's MACs", calls=_MODULES),
        Rule("transposed conv weights x output positions", _CONV_T, _torchinfo_conv_weights, "bug",
             "a transposed conv applies each weight once per input position; per output position is about "
             "stride^d times too many", calls=_MODULES),
        Rule("conv bias x output positions", _CONV | _CONV_T, _torchinfo_conv_bias, "convention",
             "1 add per output element", calls=_MODULES),
        Rule("linear weights + bias", frozenset({"linear"}), lambda row: row.params, "convention",
             "on a flat vector: in * out MACs + out bias adds", calls=_MODULES, where=lambda row: not _per_position(row)),
        Rule("linear weights + bias, once per image", frozenset({"linear"}), lambda row: row.params, "bug",
             "a linear layer on a channels-last tensor runs at every position; torchinfo multiplies its parameters "
             "by the batch, not by the positions", calls=_MODULES, where=_per_position),
        Rule("norm scale + shift parameters", _BATCH_NORM | {"layer_norm", "group_norm"}, lambda row: row.params,
             "bug", "the parameter count stands in for the work (2 per element); a norm's cost does not depend on "
             "its parameters", calls=_MODULES),
    ),
    # no parameters; layer scale's parameter sits on torchvision's block, not on a leaf module
    ignored=frozenset(KINDS) - _CONV - _CONV_T - _BATCH_NORM - {"linear", "layer_norm", "group_norm"},
    notes=_torchinfo_notes,
)

PRESETS: dict[str, Preset] = {p.tool: p for p in (FVCORE, PTFLOPS, TORCHINFO)}
TOOLS: tuple[str, ...] = tuple(PRESETS)


def calls_for(report: Report, overrides: Optional[Mapping[str, Call]] = None) -> dict[int, Call]:
    """How each row is called, by index: ``overrides`` (path glob -> call), else the built-in
    table for the report's name, else ``module``."""
    table = overrides if overrides is not None else TORCHVISION_CALLS.get(report.name, {})
    calls: dict[int, Call] = {}
    for row in report.rows:
        calls[row.index] = next((call for pattern, call in table.items() if fnmatchcase(row.path, pattern)), "module")
    return calls


def compat_total(report: Report, tool: str, calls: Optional[Mapping[str, Call]] = None) -> CompatTotal:
    """The total ``tool`` would report for this network, per image, and its breakdown by rule."""
    preset = PRESETS[tool]
    how = calls_for(report, calls)
    breakdown: dict[str, Dim] = {}
    bugs: list[str] = []
    unmodelled: dict[str, int] = {}
    for row in report.rows:
        if row.kind not in preset.kinds:
            unmodelled[row.kind] = unmodelled.get(row.kind, 0) + 1
    for rule in preset.rules:
        rows = [row for row in report.rows if rule.applies(row, how[row.index])]
        count = sum(rule.count(row) for row in rows)
        if count != 0:  # a rule that matched only zeros (convs without bias) says nothing
            breakdown[rule.key] = count
            bugs += [rule.key] if rule.verdict == "bug" else []
    notes = list(preset.notes(report, how))
    functional = sorted({row.path for row in report.rows if how[row.index] != "module"})
    if functional and any(rule.calls != _EVERYWHERE for rule in preset.rules):  # fvcore traces ops: calls do not matter
        notes.append(f"called in PyTorch as a function or a module subclass, not the module its kind names: {', '.join(functional)}")
    if unmodelled:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in sorted(unmodelled.items()))
        notes.append(f"no {tool} rule for {kinds}: counted as 0 here, so the total is partial")
    return CompatTotal(
        tool=tool, total=sum(breakdown.values()), breakdown=breakdown, bugs=tuple(bugs), notes=tuple(notes),
        partial=bool(unmodelled),
    )


def compat_lines(data: Mapping[str, Any]) -> list[str]:
    """``CompatTotal.to_dict()`` as text: the total, one line per rule, the notes."""
    tool = data["tool"]
    rows = [(key, _count_text(n)) for key, n in data["breakdown"].items()]
    width = max((len(key) for key, _ in rows), default=0)
    digits = max((len(n) for _, n in rows), default=0)
    lines = [f"{tool} would report {_count_text(data['total'])} ({PRESETS[tool].counts}):"]
    for key, n in rows:
        lines.append(f"  {key:<{width}}  {n:>{digits}}" + (f"  ({tool}'s bug)" if key in data["bugs"] else ""))
    lines += [f"  note: {note}" for note in data["notes"]]
    return lines


def _count_text(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)
