"""PyTorch as the oracle: run an exported module and read back what convcalc claims about it.

``probe(export, report)`` builds the module from its source, runs it once on a zero input (on the
``meta`` device by default: shapes only, no memory, no arithmetic) with a forward hook on the
module of every report row, and counts with ``torch.utils.flop_counter.FlopCounterMode``.
``mismatches(report, probe)`` lists every number that differs. torch is imported here, lazily:
convcalc never needs it to compute a number.

What FlopCounterMode counts, and why ``flops / 2`` is convcalc's MACs: it counts matrix
multiplications and convolutions only, 2 FLOPs per multiply-accumulate, bias excluded. A
convolution counts ``2 * prod(out_spatial) * C_out * (C_in / groups) * prod(kernel)``; a
transposed convolution counts over the INPUT positions, ``2 * prod(in_spatial) * C_in * (C_out /
groups) * prod(kernel)`` -- both exactly twice convcalc's MACs (``conventions.py``); a linear
layer counts ``2 * positions * in * out``. Pooling, normalisation, activations and merges count 0
there, as in convcalc's MACs. Attention runs on PyTorch's plain (math) path, with
MultiheadAttention's fast path off: the fused CPU kernels hide its matmuls (and, on the fast path,
its projections) from the counter, which then counts exactly convcalc's attention MACs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from convcalc.interop.torch_export import TorchExport
from convcalc.report import Report

__all__ = ["LayerProbe", "Probe", "build", "load_class", "mismatches", "probe", "training_macs"]


@dataclass(frozen=True)
class LayerProbe:
    """What PyTorch says about the module of one report row (shapes without the batch)."""

    path: str
    module: str
    output_shapes: tuple[tuple[int, ...], ...]  # one per call; a row's module runs once
    params: int


@dataclass(frozen=True)
class Probe:
    output_shape: tuple[int, ...]
    params: int
    macs: int  # FlopCounterMode's total / 2
    layers: tuple[LayerProbe, ...]


def load_class(source: str, class_name: str) -> type:
    """Execute the exported source as a fresh module (its ``__main__`` block does not run)."""
    namespace: dict[str, Any] = {"__name__": f"convcalc_export_{class_name}"}
    exec(compile(source, f"<convcalc export {class_name}>", "exec"), namespace)  # noqa: S102 - code convcalc wrote
    return namespace[class_name]


def build(source: str, class_name: str, device: str = "meta"):
    """The module, built on ``device`` and in eval mode (dropout off, batch norm frozen)."""
    import torch

    with torch.device(device):
        model = load_class(source, class_name)()
    return model.eval()


def probe(export: TorchExport, report: Report, device: str = "meta", batch: int = 1) -> Probe:
    """Run the exported module once on zeros of the report's input shape."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = build(export.source, export.class_name, device)
    seen: dict[str, list] = {}
    handles = []
    for row, name in zip(report.rows, export.modules):
        if name is None:
            continue
        calls: list = []
        seen[row.path] = calls
        handles.append(model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, calls=calls: calls.append(tuple((out[0] if isinstance(out, tuple) else out).shape[1:]))
        ))
    x = torch.zeros((batch, *report.input_shape), device=device)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused kernel hides the projections from the counter
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            out = model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for handle in handles:
            handle.remove()
    layers = tuple(
        LayerProbe(row.path, name, tuple(seen[row.path]), sum(p.numel() for p in model.get_submodule(name).parameters()))
        for row, name in zip(report.rows, export.modules)
        if name is not None
    )
    return Probe(
        output_shape=tuple(out.shape[1:]),
        params=sum(p.numel() for p in model.parameters()),
        macs=counter.get_total_flops() // (2 * batch),
        layers=layers,
    )


def mismatches(report: Report, result: Probe) -> list[str]:
    """Every number where convcalc and PyTorch differ, one readable line each ([] when none)."""
    found = []
    totals = report.totals
    for what, ours, theirs in (
        ("output shape", tuple(report.output_shape), result.output_shape),
        ("parameters", totals.params, result.params),
        ("MACs", totals.macs, result.macs),
    ):
        if ours != theirs:
            found.append(f"{what}: convcalc {ours}, PyTorch {theirs}")
    rows = {row.path: row for row in report.rows}
    for layer in result.layers:
        row = rows[layer.path]
        if layer.output_shapes[:1] != (tuple(row.output_shape),):  # a shared module runs once per use
            found.append(f"{layer.path} ({layer.module}): convcalc shape {tuple(row.output_shape)}, PyTorch {_calls(layer.output_shapes)}")
        if layer.params != row.params:
            found.append(f"{layer.path} ({layer.module}): convcalc {row.params} parameters, PyTorch {layer.params}")
    return found


def _calls(shapes: tuple) -> Optional[Any]:
    if not shapes:
        return "never ran"
    return shapes[0] if len(shapes) == 1 else f"{len(shapes)} calls: {list(shapes)}"


def training_macs(export: TorchExport, report: Report, device: str = "meta") -> int:
    """FlopCounterMode's MACs (its FLOPs / 2) of one training step: the forward pass on zeros, a
    loss (the sum of the output) and its backward pass, the weights needing gradients, the input
    not. Attention on the plain path, as in ``probe``."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model = build(export.source, export.class_name, device)
    x = torch.zeros((1, *report.input_shape), device=device)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x).sum().backward()
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() // 2
