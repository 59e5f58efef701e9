"""What the peer tools count for a layer, as data each kind declares (``LayerKind.compat``).

A kind says, per tool (``fvcore``, ``ptflops``, ``torchinfo``), the counts that tool makes for one
of its rows: a tuple of :class:`Count`, empty when the tool counts nothing for it. A kind that
declares nothing for a tool makes that tool's total partial (``convcalc.interop.compat`` says so);
the registry test allows no such kind. The tools themselves, and why they count as they do, are
described in :mod:`convcalc.interop.compat`.

The counts read a row (``convcalc.report.Row``): its shapes, params and MACs, and its layer's
arguments (``row.layer``). A row is called as a ``module`` (the ``nn.Module`` its kind names; the
default), as a ``function`` (``torch.nn.functional``: no module, no hook), or through a module
``subclass`` (a hook looked up by exact type misses it; torchinfo still sees a leaf module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from convcalc.arith.dims import Dim, prod

__all__ = ["CALLS", "Call", "Count", "Verdict", "layer_arg"]

Call = Literal["module", "function", "subclass"]
Verdict = Literal["convention", "bug"]
CALLS: tuple[Call, ...] = ("module", "function", "subclass")
EVERYWHERE: frozenset[Call] = frozenset(CALLS)
MODULES: frozenset[Call] = frozenset({"module", "subclass"})
MODULE: frozenset[Call] = frozenset({"module"})
NOT_MODULE: frozenset[Call] = frozenset({"function", "subclass"})


@dataclass(frozen=True)
class Count:
    """One thing a tool counts: ``count(row)`` for a row called in one of ``calls`` and accepted by
    ``where``. ``key`` names the line of the tool's breakdown (kinds share lines)."""

    key: str
    count: Callable[[Any], Dim]
    verdict: Verdict
    why: str
    calls: frozenset[Call] = EVERYWHERE
    where: Callable[[Any], bool] = field(default=lambda row: True)

    def applies(self, row: Any, call: Call) -> bool:
        return call in self.calls and self.where(row)


# -- what a row holds ------------------------------------------------------------------------------


def layer_arg(row: Any, name: str) -> Any:
    """A layer argument of a row, its kind's default when the spec left it out."""
    return getattr(row.layer, name)


def elements_in(row: Any) -> Dim:
    return prod(row.input_shapes[0])


def elements_out(row: Any) -> Dim:
    return prod(row.output_shape)


def positions_out(row: Any) -> Dim:
    """Output positions of a conv (spatial sizes), or of a linear layer (every axis but its features)."""
    if row.kind == "linear":
        return prod(row.output_shape) // out_features(row)
    return prod(row.output_shape[1:])


def out_features(row: Any) -> Dim:
    return row.output_shape[-1] if layer_arg(row, "axis") == "last" else row.output_shape[0]


def bias_params(row: Any) -> Dim:
    if not layer_arg(row, "bias"):
        return 0
    return out_features(row) if row.kind == "linear" else row.output_shape[0]


def bias_adds(row: Any) -> Dim:
    """One add per output element of a layer with bias."""
    return elements_out(row) if layer_arg(row, "bias") else 0


def weight_params(row: Any) -> Dim:
    return row.params - bias_params(row)


def spatial_rank(row: Any) -> int:
    return len(row.input_shapes[0]) - 1


def affine(row: Any) -> bool:
    return bool(layer_arg(row, "elementwise_affine" if row.kind == "layer_norm" else "affine"))


def per_position(row: Any) -> bool:
    """A linear layer applied at more than one position (``axis`` on a tensor with spatial axes)."""
    return len(row.output_shape) > 1 and positions_out(row) != 1


def macs(row: Any) -> Dim:
    return row.macs


def params(row: Any) -> Dim:
    return row.params


# -- fvcore: traces ATen ops; one fused multiply-add is one flop --------------------------------------


def _fvcore_batch_norm(row: Any) -> Dim:
    """Inference: ``x * scale + shift`` folded, 2 per element (1 without affine). Without running
    statistics PyTorch normalises with the batch's, and fvcore uses its training rule (5 / 4)."""
    if not layer_arg(row, "track_running_stats"):
        return _fvcore_norm(row)
    return elements_in(row) * (2 if affine(row) else 1)


def _fvcore_norm(row: Any) -> Dim:
    return elements_in(row) * (5 if affine(row) else 4)


def _fvcore_upsample(row: Any) -> Dim:
    return elements_out(row) * {"nearest": 1, "bilinear": 4}[layer_arg(row, "mode")]


def _fvcore_upsample_handled(row: Any) -> bool:
    """Only ``upsample_nearest2d`` and ``upsample_bilinear2d`` have handles."""
    return spatial_rank(row) == 2 and layer_arg(row, "mode") in ("nearest", "bilinear")


FV_MACS = Count("conv / linear MACs", macs, "convention", "MACs, bias ignored; a transposed conv per input position, as convcalc counts it")
FV_BATCH_NORM = Count("batch norm: 2 per element", _fvcore_batch_norm, "convention",
                      "inference: scale and shift, folded into the conv at deployment (fvcore says to drop it then)")
FV_NORM = Count("layer / group norm: 5 per element", _fvcore_norm, "convention",
                "mean, variance, normalise, scale and shift: 'a rough estimate' (4 without affine)")
FV_ADAPTIVE_AVG = Count("adaptive_avg_pool2d: 1 per input element", elements_in, "convention",
                        "the adds of the average; the only pooling op fvcore counts (1-d and 3-d: 0)", where=lambda row: spatial_rank(row) == 2)
FV_UPSAMPLE = Count("upsample: 1 (nearest) or 4 (bilinear) per output element", _fvcore_upsample, "convention",
                    "interpolation weights; nearest 1-d / 3-d, linear, bicubic and trilinear have no handle (0)", where=_fvcore_upsample_handled)


# -- ptflops: a forward hook per nn.Module type, plus patched torch.nn.functional ---------------------


def _ptflops_norm(row: Any) -> Dim:
    return elements_in(row) * (2 if affine(row) else 1)


def _ptflops_lrn(row: Any) -> Dim:
    """``F.local_response_norm``'s own tensor ops, caught by the patches: ``input.mul(input)``, the
    ``avg_pool`` over the channel-padded squares (``size - 1`` more channels), ``.mul(alpha)`` and
    ``.add(k)``."""
    c, spatial = row.input_shapes[0][0], prod(row.input_shapes[0][1:])
    return 3 * c * spatial + (c + layer_arg(row, "size") - 1) * spatial


PT_CONV_MACS = Count("conv MACs", macs, "convention", "a transposed conv per input position, as convcalc counts it", calls=MODULE)
PT_CONV_BIAS = Count("conv bias: 1 per output element", bias_adds, "convention", "the bias add", calls=MODULE)
PT_LINEAR_MACS = Count("linear MACs", macs, "convention", "in * out per position", calls=MODULE)
PT_LINEAR_BIAS = Count("linear bias: 1 per output element", bias_adds, "convention", "out per position", calls=MODULE)
PT_NORM = Count("batch / group norm: 2 per element", _ptflops_norm, "convention", "scale and shift (1 without affine)", calls=MODULE)
PT_LAYER_NORM = Count("layer norm: 1 per element", elements_in, "bug",
                      "the hook asks for module.affine, which nn.LayerNorm lacks (it has elementwise_affine), so an affine "
                      "layer norm counts as a plain one; a LayerNorm subclass gets no hook at all", calls=MODULE)
PT_ACTIVATION = Count("activations: 1 per element", elements_out, "convention", "module hook", calls=MODULE)
PT_ACTIVATION_TWICE = Count("activations again: patched F.relu / F.elu / F.gelu", elements_in, "bug",
                            "the module's forward calls the patched function after its hook counted it: counted twice", calls=MODULE)
PT_ACTIVATION_FUNCTION = Count("activations called as functions: 1 per element", elements_in, "convention",
                               "the patched F.relu / F.elu / F.gelu", calls=NOT_MODULE)
PT_RELU6_FUNCTION = Count("relu6 called as F.relu6: 1 per element", elements_in, "convention",
                          "the patched F.relu6 (nn.ReLU6 itself calls F.hardtanh, which is not patched)", calls=frozenset({"function"}))
PT_PATCHED = Count("silu / softmax: 1 per element, by the patched function", elements_in, "convention",
                   "no module hook; nn.SiLU / nn.Softmax call the patched F.silu / F.softmax")
PT_POOL = Count("pooling: 1 per input element", elements_in, "convention", "module hook", calls=MODULE)
PT_POOL_TWICE = Count("pooling again: patched F.*pool*", elements_in, "bug",
                      "the module's forward calls the patched function after its hook counted it: counted twice", calls=MODULE)
PT_POOL_FUNCTION = Count("pooling called as a function: 1 per input element", elements_in, "convention", "the patched F.*pool*", calls=NOT_MODULE)
PT_UPSAMPLE = Count("upsample: 1 per output element", elements_out, "convention", "module hook", calls=MODULE)
PT_UPSAMPLE_TWICE = Count("upsample again: patched F.interpolate", elements_out, "bug",
                          "nn.Upsample calls the patched F.interpolate after its hook counted it: counted twice (with a "
                          "scale_factor that is not a whole number ptflops counts in * scale^d, a float, here the output elements)",
                          calls=MODULE)
PT_UPSAMPLE_FUNCTION = Count("upsample called as a function: 1 per output element", elements_out, "convention",
                             "the patched F.interpolate", calls=NOT_MODULE)
PT_LRN = Count("local response norm: its tensor ops", _ptflops_lrn, "convention",
               "no rule of its own; the Tensor.mul / add and F.avg_pool patches count the ops inside "
               "F.local_response_norm: 3 per element + 1 per element of the channel-padded squares")


# -- torchinfo: a leaf module's parameters times its output positions (convs) or once ------------------


def _torchinfo_conv_weights(row: Any) -> Dim:
    return weight_params(row) * positions_out(row)


def _torchinfo_conv_bias(row: Any) -> Dim:
    return bias_params(row) * positions_out(row)


TI_CONV_WEIGHTS = Count("conv weights x output positions", _torchinfo_conv_weights, "convention", "equals the conv's MACs", calls=MODULES)
TI_CONV_T_WEIGHTS = Count("transposed conv weights x output positions", _torchinfo_conv_weights, "bug",
                          "a transposed conv applies each weight once per input position; per output position is about "
                          "stride^d times too many", calls=MODULES)
TI_CONV_BIAS = Count("conv bias x output positions", _torchinfo_conv_bias, "convention", "1 add per output element", calls=MODULES)
TI_LINEAR = Count("linear weights + bias", params, "convention", "on a flat vector: in * out MACs + out bias adds", calls=MODULES,
                  where=lambda row: not per_position(row))
TI_LINEAR_PER_POSITION = Count("linear weights + bias, once per image", params, "bug",
                               "a linear layer on a channels-last tensor runs at every position; torchinfo multiplies its parameters "
                               "by the batch, not by the positions", calls=MODULES, where=per_position)
TI_NORM = Count("norm scale + shift parameters", params, "bug",
                "the parameter count stands in for the work (2 per element); a norm's cost does not depend on its parameters", calls=MODULES)


NOTHING: dict[str, tuple[Count, ...]] = {"fvcore": (), "ptflops": (), "torchinfo": ()}  # no tool counts it


# -- attention and matrix products ------------------------------------------------------------------


def _attention_projection_macs(row: Any) -> Dim:
    """The four projections of multi-head attention (query, key, value, out)."""
    layer = row.layer
    e = layer.embed_dim
    q, k = row.input_shapes[0], row.input_shapes[-1 if len(row.input_shapes) == 1 else 1]
    kdim, vdim = layer.kdim or e, layer.vdim or e
    return q[0] * e * e + k[0] * kdim * e + k[0] * vdim * e + q[0] * e * e


def _ptflops_attention(row: Any) -> Dim:
    """ptflops' ``multihead_attention_counter_hook``: the query scaling, the projections as it
    writes them (``klen * kdim * kdim``: right only when kdim is the embedding), the in-projection
    bias, per head q·kᵀ, one per score for the softmax and attn·v, and the out projection with bias."""
    layer = row.layer
    e, h = layer.embed_dim, layer.num_heads
    q, k = row.input_shapes[0], row.input_shapes[-1 if len(row.input_shapes) == 1 else 1]
    qlen, klen = q[0], k[0]
    kdim, vdim = layer.kdim or e, layer.vdim or e
    flops = qlen * e + qlen * e * e + klen * kdim * kdim + klen * vdim * vdim
    if layer.bias:
        flops += (qlen + 2 * klen) * e
    flops += h * (qlen * klen * (e // h) + qlen * klen + qlen * klen * (vdim // h))
    return flops + qlen * vdim * (vdim + 1)


FV_MATMUL = Count("matmul: n*k*m per product", macs, "convention", "the matmul / bmm handles: one per multiply-accumulate")
FV_ATTENTION = Count("attention: its projections' MACs", _attention_projection_macs, "bug",
                     "the projections run as aten::linear; q·kᵀ and attn·v run inside aten::scaled_dot_product_attention, "
                     "which has no handle: counted 0")
PT_ATTENTION = Count("multi-head attention: ptflops' hook", _ptflops_attention, "convention",
                     "its own formula (projections, scaling, q·kᵀ, softmax 1 per score, attn·v, out projection with bias)", calls=MODULE)
TI_PARAMS_ONCE = Count("parameters once per image", params, "bug",
                       "a module that is not a convolution counts its parameters once per image, not its work", calls=MODULES)
PT_ACTIVATION_TWICE_PRELU = Count("activations again: patched F.prelu", elements_in, "bug",
                                  "nn.PReLU's forward calls the patched F.prelu after its hook counted it: counted twice", calls=MODULE)
