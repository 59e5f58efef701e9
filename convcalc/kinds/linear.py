"""Fully connected layers."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import Bool, LayerError, LayerKind, PosInt, Result, Tensor, Torch, format_shape, register_helper

__all__ = ["Linear"]


class Linear(LayerKind):
    """``nn.Linear``. On a 1-d input it maps features to features.

    On a tensor with spatial axes it must say which axis it acts on: ``axis: channels`` applies
    it at every position to the channel vector (a 1x1 convolution; ConvNeXt's channels-last
    MLP), ``axis: last`` is PyTorch's literal rule (the last axis, e.g. W). Without ``axis`` a
    linear layer on an unflattened tensor is an error: a missing ``flatten`` is the usual cause.
    """
    input_width: ClassVar[dict] = {"in_features": "features"}
    compat: ClassVar[dict] = {"fvcore": (peers.FV_MACS,), "ptflops": (peers.PT_LINEAR_MACS, peers.PT_LINEAR_BIAS), "torchinfo": (peers.TI_LINEAR, peers.TI_LINEAR_PER_POSITION)}
    short: ClassVar[str] = "fc"

    kind: ClassVar[str] = "linear"
    summary: ClassVar[str] = "fully connected layer (nn.Linear)"
    out_features: PosInt
    bias: Bool = True
    axis: Optional[Literal["channels", "last"]] = None

    def size_period(self) -> int:
        return 1

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> Any:
        """dL/dW: the forward's MACs again (input x output gradient); dL/dX, when the input needs
        it: the forward's MACs (the output gradient through the transposed weights)."""
        return result.macs * (2 if needs[0] else 1)

    def infer(self, x: Tensor) -> Result:
        if len(x.shape) > 1 and self.axis is None:
            raise LayerError(
                "shape-linear-unflattened",
                f"linear on an unflattened {format_shape(x.shape)} tensor",
                "out_features",
                "add `- flatten` before it, or say `axis: channels` to apply it at every position",
            )
        if self.axis == "last":
            features, shape = x.shape[-1], (*x.shape[:-1], self.out_features)
        else:
            features, shape = x.shape[0], (self.out_features, *x.shape[1:])
        positions = prod(shape) // self.out_features if len(shape) > 1 else 1
        weights = features * self.out_features
        params = weights + (self.out_features if self.bias else 0)
        macs = positions * weights
        flops = 2 * macs + (positions * self.out_features if self.bias else 0)

        def formulas() -> tuple[str, ...]:  # written only when asked for (explain, check)
            where = f"{positions}*" if len(shape) > 1 else ""
            return (
                f"params = in*out{' + out' if self.bias else ''} = {features}*{self.out_features}{f' + {self.out_features}' if self.bias else ''} = {params}",
                f"MACs = {'positions*' if where else ''}in*out = {where}{features}*{self.out_features} = {macs}",
                f"FLOPs = 2*MACs + {'positions*' if where else ''}out = 2*{macs} + {where}{self.out_features} = {flops}"
                if self.bias else f"FLOPs = 2*MACs = 2*{macs} = {flops}",
            )

        if self.axis == "channels":
            return Result(shape=shape, params=params, macs=macs, flops=flops, formulas=formulas)
        if self.axis == "last" and len(x.rf) > 1 and not x.is_global:
            # every output along the last axis reads all of it; the other spatial axes keep their field
            last = x.rf[-1].through(x.shape[-1], x.shape[-1], 1, 0, 1).broadcast(self.out_features)
            return Result(shape=shape, params=params, macs=macs, flops=flops, rf=(*x.rf[:-1], last), formulas=formulas)
        return Result(shape=shape, params=params, macs=macs, flops=flops, rf=(), is_global=True, formulas=formulas)

    def torch(self, io) -> Torch:
        """On the channel vector at every position: channels-last (``ChannelsLast``), as ConvNeXt."""
        extra = io.kw("bias")
        if io.rank == 0:
            return Torch(module=f"nn.Linear({', '.join([io.c_in, io.arg('out_features'), *extra])})")
        if self.axis == "channels":
            return Torch(module=f"ChannelsLast(nn.Linear({', '.join([io.c_in, io.arg('out_features'), *extra])}))", helpers=("ChannelsLast",))
        return Torch(module=f"nn.Linear({', '.join([io.literal(io.in_shapes[0][-1]), io.arg('out_features'), *extra])})")

    def torch_channels(self, io) -> str:
        return io.c_in if io.rank > 0 and self.axis == "last" else io.arg("out_features")


register_helper("ChannelsLast", '''
class ChannelsLast(nn.Module):
    """Apply a module to the channel vector at every position: (N, C, *S) -> (N, *S, C) and back."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x.movedim(1, -1)).movedim(-1, 1)
''')
