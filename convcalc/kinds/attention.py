"""Attention and the other layers of transformers: matmul, multi-head attention, scaled dot-product
attention, and ``parameter``, a learned tensor (ViT's class token and position embedding).

Tokens are per sample ``(L, E)``: sequence length by embedding, the batch left out as everywhere.

Counting (the conventions, also in the README):
- ``matmul`` of ``(..., n, k)`` and ``(..., k, m)``: ``prod(...) * n * k * m`` MACs, FLOPs twice that.
- ``multihead_attention`` with ``h`` heads on queries ``(L, E)`` and keys / values ``(S, kdim)``,
  ``(S, vdim)``: MACs are the four projections (``L*E*E``, ``S*kdim*E``, ``S*vdim*E``, ``L*E*E``)
  and the two matmuls of attention, ``q·kᵀ`` and ``attn·v`` (``L*S*E`` each), as PyTorch's
  FlopCounterMode counts them when the fused kernels are off. FLOPs: 2*MACs, the projections' bias
  adds, 1 per score for the 1/sqrt(E/h) scale, and the softmax's ``3S - 1`` per row of ``S`` scores.
- ``scaled_dot_product_attention`` likewise without the projections.
- ``parameter``: its elements are parameters; it costs nothing.
"""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import StrictFloat, StrictInt

from convcalc.arith.dims import is_int, prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import Bool, LayerError, LayerKind, PosInt, Result, Tensor, Torch, format_shape

__all__ = ["Matmul", "MultiheadAttention", "Parameter", "ScaledDotProductAttention"]


def _broadcast(a: tuple, b: tuple, what: str) -> tuple:
    """Leading dims broadcast (size 1 against any)."""
    width = max(len(a), len(b))
    a, b = (1,) * (width - len(a)) + tuple(a), (1,) * (width - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise LayerError("shape-matmul", f"{what}: leading dims {format_shape(a)} and {format_shape(b)} do not broadcast", "inputs")
        out.append(y if x == 1 else x)
    return tuple(out)


class Matmul(LayerKind):
    """``torch.matmul(a, b)`` of the two tensors named in ``inputs`` (per sample)."""

    kind: ClassVar[str] = "matmul"
    aliases: ClassVar[tuple[str, ...]] = ("bmm",)
    summary: ClassVar[str] = "matrix product of two tensors (torch.matmul)"
    compat: ClassVar[dict] = {"fvcore": (peers.FV_MATMUL,), "ptflops": (), "torchinfo": ()}
    inputs: Optional[list[str]] = None

    def infer_many(self, xs: list[Tensor]) -> Result:
        if len(xs) != 2:
            raise LayerError("spec-inputs", f"matmul multiplies two tensors, got {len(xs)}", "inputs")
        a, b = xs[0].shape, xs[1].shape
        if len(a) < 2 or len(b) < 2:
            raise LayerError("shape-matmul", f"matmul needs matrices per sample, got {format_shape(a)} and {format_shape(b)}", "inputs")
        if is_int(a[-1]) and is_int(b[-2]) and a[-1] != b[-2]:
            raise LayerError("shape-matmul", f"matmul: {format_shape(a)} @ {format_shape(b)}: {a[-1]} columns against {b[-2]} rows", "inputs")
        lead = _broadcast(a[:-2], b[:-2], "matmul")
        n, k, m = a[-2], a[-1], b[-1]
        macs = prod(lead) * n * k * m
        return Result(shape=(*lead, n, m), macs=macs, flops=2 * macs, rf=(), is_global=True,
                      formulas=lambda: (f"MACs = {'*'.join(map(str, lead)) + '*' if lead else ''}n*k*m = {macs}",))

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> object:
        """dA = dC·Bᵀ and dB = Aᵀ·dC: the forward's MACs for each input that needs a gradient."""
        return result.macs * sum(bool(n) for n in needs)

    def torch(self, io) -> Torch:
        return Torch(function="torch.matmul({0}, {1})")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


def _softmax_flops(rows, scores_per_row) -> object:
    return rows * (3 * scores_per_row - 1)


class MultiheadAttention(LayerKind):
    """``nn.MultiheadAttention``: self-attention on one ``(L, E)`` input, or on the query, key and
    value named in ``inputs``. ``batch_first`` only says how the exported module takes its input."""

    kind: ClassVar[str] = "multihead_attention"
    aliases: ClassVar[tuple[str, ...]] = ("mha",)
    related: ClassVar[tuple[str, ...]] = ("attention", "self_attention", "multi_head_attention", "transformer_attention")
    summary: ClassVar[str] = "multi-head attention: projections, q·kᵀ, softmax, attn·v (nn.MultiheadAttention)"
    # torchinfo sums only leaf modules, and nn.MultiheadAttention is none: out_proj is a child module
    # (which forward never calls, so it counts 0 too). Its bug, named in torchinfo's notes.
    compat: ClassVar[dict] = {"fvcore": (peers.FV_ATTENTION,), "ptflops": (peers.PT_ATTENTION,), "torchinfo": ()}
    embed_dim: PosInt
    num_heads: PosInt
    bias: Bool = True
    kdim: Optional[PosInt] = None
    vdim: Optional[PosInt] = None
    dropout: StrictFloat | StrictInt = 0.0
    batch_first: Bool = True
    inputs: Optional[list[str]] = None

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])

    def infer_many(self, xs: list[Tensor]) -> Result:
        e, h = self.embed_dim, self.num_heads
        if e % h:
            raise LayerError("arg-heads", f"embed_dim {e} is not divisible by num_heads {h}", "num_heads")
        if len(xs) not in (1, 3):
            raise LayerError("spec-inputs", f"multihead_attention reads one tensor (self-attention) or three (query, key, value), got {len(xs)}", "inputs")
        q, k, v = (xs * 3)[:3] if len(xs) == 1 else xs
        kdim, vdim = self.kdim or e, self.vdim or e
        for name, t, width in (("query", q, e), ("key", k, kdim), ("value", v, vdim)):
            if len(t.shape) != 2:
                raise LayerError("shape-rank", f"multihead_attention's {name} is a (L, E) sequence of tokens, got {format_shape(t.shape)}", "inputs")
            if is_int(t.shape[1]) and t.shape[1] != width:
                raise LayerError("shape-mismatch", f"multihead_attention's {name} has {t.shape[1]} features, it needs {width}", "embed_dim" if name == "query" else name[0] + "dim")
        if k.shape[0] != v.shape[0]:
            raise LayerError("shape-mismatch", f"key and value have {k.shape[0]} and {v.shape[0]} tokens", "inputs")
        length, source = q.shape[0], k.shape[0]
        weights = e * e + e * kdim + e * vdim + e * e
        params = weights + (4 * e if self.bias else 0)
        projections = length * e * e + source * kdim * e + source * vdim * e + length * e * e
        attention = 2 * length * source * e
        macs = projections + attention
        bias_adds = (2 * length * e + 2 * source * e) if self.bias else 0
        scores = h * length * source
        flops = 2 * macs + bias_adds + scores + _softmax_flops(h * length, source)

        def formulas() -> tuple[str, ...]:
            return (
                f"params = E*E + E*kdim + E*vdim + E*E{' + 4*E' if self.bias else ''} = {params}",
                f"MACs = L*E*E + S*kdim*E + S*vdim*E + L*E*E (projections) + 2*L*S*E (q·kᵀ, attn·v) = {projections} + {attention} = {macs}",
                f"FLOPs = 2*MACs + bias adds + h*L*S (scale) + h*L*(3*S - 1) (softmax) = {flops}",
            )

        return Result(shape=(length, e), params=params, macs=macs, flops=flops, rf=(), is_global=True, formulas=formulas,
                      extra={"projection_macs": projections, "attention_macs": attention, "out_projection_macs": length * e * e})

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> object:
        """Every projection's weight gradient; the out projection's input gradient (its input comes
        from weights); the q, k, v projections' input gradients when the input needs one; and both
        attention matmuls' two gradients (twice their forward MACs)."""
        projections, attention, out = result.extra["projection_macs"], result.extra["attention_macs"], result.extra["out_projection_macs"]
        return projections + out + 2 * attention + ((projections - out) if any(needs) else 0)

    def torch(self, io) -> Torch:
        kw = io.kw("bias", "kdim", "vdim", "dropout")
        module = f"nn.MultiheadAttention({', '.join([io.arg('embed_dim'), io.arg('num_heads'), *kw, 'batch_first=True'])})"
        args = "{0}, {0}, {0}" if len(io.in_shapes) == 1 else "{0}, {1}, {2}"
        return Torch(module=module, function=f"{{attr}}({args}, need_weights=False)[0]")

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class ScaledDotProductAttention(LayerKind):
    """``F.scaled_dot_product_attention(q, k, v)`` of the tensors named in ``inputs``:
    ``(..., L, d)``, ``(..., S, d)``, ``(..., S, dv)`` -> ``(..., L, dv)``."""

    kind: ClassVar[str] = "scaled_dot_product_attention"
    aliases: ClassVar[tuple[str, ...]] = ("sdpa",)
    summary: ClassVar[str] = "softmax(q·kᵀ/sqrt(d))·v of three tensors (F.scaled_dot_product_attention)"
    compat: ClassVar[dict] = {"fvcore": (peers.FV_MATMUL,), "ptflops": (), "torchinfo": ()}
    inputs: Optional[list[str]] = None

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])

    def infer_many(self, xs: list[Tensor]) -> Result:
        if len(xs) != 3:
            raise LayerError("spec-inputs", f"scaled_dot_product_attention reads query, key and value, got {len(xs)}", "inputs")
        q, k, v = (x.shape for x in xs)
        if min(len(q), len(k), len(v)) < 2 or q[-1] != k[-1] or k[-2] != v[-2]:
            raise LayerError("shape-mismatch", f"attention of {format_shape(q)}, {format_shape(k)}, {format_shape(v)}: q and k need one width, k and v one length", "inputs")
        lead = _broadcast(_broadcast(q[:-2], k[:-2], "attention"), v[:-2], "attention")
        rows, length, source = prod(lead) * q[-2], q[-2], k[-2]
        macs = prod(lead) * length * source * (q[-1] + v[-1])
        flops = 2 * macs + rows * source + _softmax_flops(rows, source)
        return Result(shape=(*lead, length, v[-1]), macs=macs, flops=flops, rf=(), is_global=True)

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> object:
        """q·kᵀ and attn·v each backward: d_scores (needed when any input needs a gradient) and the
        other operand's gradient, per input that needs one."""
        if not any(needs):
            return 0
        q, k, v = shapes
        lead = prod(result.shape[:-2])
        length, source = q[-2], k[-2]
        d_qk, d_v = lead * length * source * q[-1], lead * length * source * v[-1]
        d_scores = d_v if needs[0] or needs[1] else 0  # dP = dO·Vᵀ, for the gradients of q and k
        return d_scores + d_qk * (bool(needs[0]) + bool(needs[1])) + d_v * bool(needs[2])

    def torch(self, io) -> Torch:
        return Torch(function="F.scaled_dot_product_attention({0}, {1}, {2})", helpers=("F",))

    def torch_channels(self, io) -> str:
        return io.literal(io.out_shapes[0][0])


class Parameter(LayerKind):
    """A learned tensor of ``shape`` per sample (broadcast over the batch): ViT's class token
    ``[1, 192]`` and position embedding ``[197, 192]``. It reads no input; its elements are
    parameters."""

    kind: ClassVar[str] = "parameter"
    related: ClassVar[tuple[str, ...]] = ("embedding", "class_token", "position_embedding", "weight")
    summary: ClassVar[str] = "a learned tensor of a given shape (nn.Parameter: class tokens, position embeddings)"
    compat: ClassVar[dict] = peers.NOTHING  # not a module: no hook sees it
    n_inputs: ClassVar[int] = 0
    shape: list[PosInt]
    init: StrictFloat | StrictInt = 0.0

    def infer_refs(self, x: Optional[Tensor], refs: list[Tensor]) -> Result:
        shape = tuple(self.shape)
        return Result(shape=shape, params=prod(shape), rf=(), is_global=False, formulas=(f"params = {'*'.join(map(str, shape))} = {prod(shape)}",))

    def infer(self, x: Tensor) -> Result:
        return self.infer_refs(x, [])

    def torch(self, io) -> Torch:
        shape = ", ".join(str(s) for s in (1, *self.shape))
        return Torch(state=f"nn.Parameter(torch.full(({shape}), {float(self.init)!r}))",
                     function=f"{{attr}}.expand({{ref0}}.shape[0], {', '.join('-1' for _ in self.shape)})")

    def torch_channels(self, io) -> str:
        return io.literal(self.shape[0])
