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

What each tool counts for a layer is declared by the layer's kind (``LayerKind.compat``, with the
counts of :mod:`convcalc.kinds._compat`); this module adds the tools' own words and notes, and sums.
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
from typing import Any, Callable, Mapping, Optional

from convcalc.arith.dims import Dim, to_json_dim
from convcalc.kinds import KINDS
from convcalc.kinds._compat import (
    CALLS,
    EVERYWHERE,
    Call,
    Count,
    layer_arg,
    per_position,
    positions_out,
    weight_params,
)
from convcalc.report import Report

__all__ = [
    "CALLS",
    "PRESETS",
    "TOOLS",
    "TORCHVISION_CALLS",
    "CompatTotal",
    "Preset",
    "calls_for",
    "compat_lines",
    "compat_total",
    "layer_arg",
]

# How torchvision's forward() runs a layer where it is not the module its kind names, keyed by the
# built-in spec's `name` and a glob over row paths.
TORCHVISION_CALLS: dict[str, dict[str, Call]] = {
    # LayerNorm2d(nn.LayerNorm) in the stem, the downsampling layers and the head; the blocks use
    # nn.LayerNorm itself.
    "ConvNeXt-T": {"features.0.1": "subclass", "features.[246].0": "subclass", "classifier.0": "subclass"},
    # BasicConv2d.forward ends with F.relu(x, inplace=True); there is no ReLU module.
    "GoogLeNet": {"*.relu": "function"},
}


@dataclass(frozen=True)
class Preset:
    tool: str
    counts: str  # what the tool's number is, in its own words
    notes: Callable[[Report, Mapping[int, Call]], list[str]] = field(default=lambda report, calls: [])

    def counts_for(self, kind: str) -> Optional[tuple[Count, ...]]:
        """What the tool counts for a row of ``kind``; None when the kind does not say."""
        cls = KINDS.get(kind)
        return None if cls is None else cls.compat.get(self.tool)

    @property
    def rules(self) -> tuple[Count, ...]:
        """Every count some kind declares for this tool, in the order of the registry."""
        found: dict[str, Count] = {}
        for cls in KINDS.values():
            for rule in cls.compat.get(self.tool, ()):
                found.setdefault(rule.key, rule)
        return tuple(found.values())


@dataclass(frozen=True)
class CompatTotal:
    """The total a tool would report, and what it is made of (rule key -> count, in rule order)."""

    tool: str
    total: Dim
    breakdown: dict[str, Dim]
    bugs: tuple[str, ...]  # the breakdown keys that are the tool's bugs
    notes: tuple[str, ...]
    partial: bool  # some row's kind says nothing for this tool: counted as 0 here, perhaps not by the tool

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool, "total": to_json_dim(self.total),
            "breakdown": {key: to_json_dim(n) for key, n in self.breakdown.items()},
            "bugs": list(self.bugs), "notes": list(self.notes), "partial": self.partial,
        }


def _torchinfo_notes(report: Report, calls: Mapping[int, Call]) -> list[str]:
    notes = []
    mlp = [r for r in report.rows if r.kind == "linear" and per_position(r) and calls.get(r.index, "module") != "function"]
    if mlp:
        counted = sum(r.params for r in mlp)
        macs = sum(r.macs for r in mlp)
        notes.append(
            f"{len(mlp)} linear layer(s) act at every position of a channels-last tensor: torchinfo counts their "
            f"{counted:,} parameters once per image, not their {macs:,} MACs (its bug; convcalc counts per position)"
        )
    attention = [r for r in report.rows if r.kind == "multihead_attention"]
    if attention:
        notes.append(
            f"{len(attention)} multihead_attention layer(s): torchinfo counts 0 for them, not their {sum(r.macs for r in attention):,} MACs: "
            "it sums only leaf modules, and nn.MultiheadAttention holds its out_proj as a child module (its bug)"
        )
    deconv = [r for r in report.rows if r.kind.startswith("conv_transpose")]
    if deconv:
        counted = sum(weight_params(r) * positions_out(r) for r in deconv)
        macs = sum(r.macs for r in deconv)
        notes.append(
            f"transposed conv: torchinfo counts each weight once per output position, {counted:,} instead of the "
            f"{macs:,} MACs done per input position (its bug)"
        )
    return notes


PRESETS: dict[str, Preset] = {
    p.tool: p for p in (
        Preset("fvcore", '"flops": one fused multiply-add counted as one flop'),
        Preset("ptflops", '"MACs" (GMac): MACs plus one per element of most other layers'),
        Preset("torchinfo", '"Total mult-adds": parameters times positions', _torchinfo_notes),
    )
}
TOOLS: tuple[str, ...] = tuple(PRESETS)


def calls_for(report: Report, overrides: Optional[Mapping[str, Call]] = None) -> dict[int, Call]:
    """How each row is called, by index: ``overrides`` (path glob -> call), else the built-in
    table for the report's name, else ``module``."""
    table = overrides if overrides is not None else TORCHVISION_CALLS.get(report.name, {})
    calls: dict[int, Call] = {}
    for row in report.rows:
        default: Call = "function" if row.functional else "module"
        calls[row.index] = next((call for pattern, call in table.items() if fnmatchcase(row.path, pattern)), default)
    return calls


def compat_total(report: Report, tool: str, calls: Optional[Mapping[str, Call]] = None) -> CompatTotal:
    """The total ``tool`` would report for this network, per image, and its breakdown by rule."""
    preset = PRESETS[tool]
    how = calls_for(report, calls)
    breakdown: dict[str, Dim] = {rule.key: 0 for rule in preset.rules}
    bugs: dict[str, None] = {}
    unmodelled: dict[str, int] = {}
    for row in report.rows:
        rules = preset.counts_for(row.kind)
        if rules is None:
            unmodelled[row.kind] = unmodelled.get(row.kind, 0) + 1
            continue
        for rule in rules:
            if rule.applies(row, how[row.index]):
                breakdown[rule.key] = breakdown.get(rule.key, 0) + rule.count(row)
                if rule.verdict == "bug":
                    bugs[rule.key] = None
    breakdown = {key: n for key, n in breakdown.items() if n != 0}  # a rule that matched only zeros (convs without bias) says nothing
    notes = list(preset.notes(report, how))
    # only where the call changes this tool's count: fvcore traces ops, and nothing counts a torch.cat
    functional = sorted({row.path for row in report.rows if how[row.index] != "module"
                         and any(rule.calls != EVERYWHERE for rule in preset.counts_for(row.kind) or ())})
    if functional:
        notes.append(f"called in PyTorch as a function or a module subclass, not the module its kind names: {', '.join(functional)}")
    if unmodelled:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in sorted(unmodelled.items()))
        notes.append(f"no {tool} rule for {kinds}: counted as 0 here, so the total is partial")
    return CompatTotal(
        tool=tool, total=sum(breakdown.values()), breakdown=breakdown, bugs=tuple(k for k in breakdown if k in bugs), notes=tuple(notes),
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
