"""Normalisation layers: batch, layer, group and local response norm, and layer scale."""

from __future__ import annotations

from typing import Annotated, Any, Callable, ClassVar, Optional, Union

from pydantic import Field, StrictFloat, StrictInt

from convcalc.conventions import NORM_AFFINE_FLOPS, NORM_FLOPS
from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import Bool, LayerError, LayerKind, PosInt, Result, Tensor, Torch, Variants, format_shape, need_positive, register_helper, same_field
from convcalc.kinds._run import batch_running

__all__ = ["GroupNorm", "LayerNorm", "LayerScale", "LocalResponseNorm", "VARIANTS"]

Number = Union[StrictInt, Annotated[StrictFloat, Field(allow_inf_nan=False)]]  # never NaN or infinite

class _BatchNorm(LayerKind):
    input_width: ClassVar[dict] = {"num_features": 0}
    compat: ClassVar[dict] = {"fvcore": (peers.FV_BATCH_NORM,), "ptflops": (peers.PT_NORM,), "torchinfo": (peers.TI_NORM,)}
    short: ClassVar[str] = "bn"
    eps: Number = 1e-5
    momentum: Optional[Number] = 0.1
    affine: Bool = True
    track_running_stats: Bool = True

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        if self.rank == 1:
            if len(x.shape) not in (1, 2):
                raise LayerError("shape-rank", f"batch_norm1d needs a (C,) or (C, L) input, got {format_shape(x.shape)}")
        else:
            self.check_rank(x)
        c = x.channels
        params = 2 * c if self.affine else 0
        buffers = 2 * c if self.track_running_stats else 0
        return Result(
            shape=x.shape, params=params, buffers=buffers, flops=2 * prod(x.shape),
            formulas=(f"params = 2*C = 2*{c} = {params} (scale and shift); buffers = 2*C = {buffers} (running mean and variance)",),
        )

    def refield(self, x: Tensor, result: Result) -> tuple:
        return x.rf, x.is_global  # per channel, from statistics that are parameters here

    def refielder(self, x: Tensor, result: Result) -> Callable[[Any, Any], tuple]:
        return same_field

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.BatchNorm{self.rank}d({', '.join([io.c_in, *io.kw('eps', 'momentum', 'affine', 'track_running_stats')])})")





class _InstanceNorm(LayerKind):
    """``nn.InstanceNorm{1,2,3}d``: each channel of each sample normalised over its positions;
    PyTorch's defaults: no affine, no running statistics."""

    compat: ClassVar[dict] = {"fvcore": (peers.FV_NORM,), "ptflops": (peers.PT_NORM,), "torchinfo": (peers.TI_NORM,)}
    short: ClassVar[str] = "norm"
    input_width: ClassVar[dict] = {"num_features": 0}
    eps: Number = 1e-5
    momentum: Optional[Number] = 0.1
    affine: Bool = False
    track_running_stats: Bool = False

    def infer(self, x: Tensor) -> Result:
        self.check_rank(x)
        c = x.channels
        params = 2 * c if self.affine else 0
        buffers = 2 * c if self.track_running_stats else 0
        return Result(shape=x.shape, params=params, buffers=buffers, flops=_norm_flops(prod(x.shape), self.affine),
                      formulas=(f"params = {'2*C = 2*' + str(c) + ' = ' + str(params) if self.affine else '0 (affine: false, as PyTorch)'}",))

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.InstanceNorm{self.rank}d({', '.join([io.c_in, *io.kw('eps', 'momentum', 'affine', 'track_running_stats')])})")





def _norm_flops(elements, affine: bool):
    return elements * (NORM_FLOPS + (NORM_AFFINE_FLOPS if affine else 0))


class LayerNorm(LayerKind):
    """Layer norm. Without ``normalized_shape`` it normalises each position's channel vector
    (ConvNeXt's LayerNorm2d); with it, the trailing axes PyTorch-style."""
    compat: ClassVar[dict] = {"fvcore": (peers.FV_NORM,), "ptflops": (peers.PT_LAYER_NORM,), "torchinfo": (peers.TI_NORM,)}
    short: ClassVar[str] = "norm"

    kind: ClassVar[str] = "layer_norm"
    summary: ClassVar[str] = "layer norm over the channels, or over normalized_shape (nn.LayerNorm)"
    normalized_shape: Optional[Union[PosInt, list[PosInt]]] = None
    eps: Number = 1e-5
    elementwise_affine: Bool = True
    bias: Bool = True

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        if self.normalized_shape is None:
            normalized = (x.channels,)
        else:
            normalized = tuple(self.normalized_shape) if isinstance(self.normalized_shape, list) else (self.normalized_shape,)
            if tuple(x.shape[-len(normalized) :]) != normalized:
                raise LayerError("shape-mismatch", f"normalized_shape {list(normalized)} does not match the trailing axes of {format_shape(x.shape)}", "normalized_shape")
        n = prod(normalized)
        params = (n + (n if self.bias else 0)) if self.elementwise_affine else 0
        return Result(shape=x.shape, params=params, flops=_norm_flops(prod(x.shape), self.elementwise_affine))

    def torch(self, io) -> Torch:
        """Without ``normalized_shape``, over the channel vector at every position (channels-last)."""
        extra = io.kw("eps", "elementwise_affine", "bias")
        if io.has("normalized_shape"):
            return Torch(module=f"nn.LayerNorm({', '.join([io.arg('normalized_shape'), *extra])})")
        norm = f"nn.LayerNorm({', '.join([io.c_in, *extra])})"
        if io.rank == 0:
            return Torch(module=norm)
        return Torch(module=f"ChannelsLast({norm})", helpers=("ChannelsLast",))


class GroupNorm(LayerKind):
    input_width: ClassVar[dict] = {"num_channels": 0}
    compat: ClassVar[dict] = {"fvcore": (peers.FV_NORM,), "ptflops": (peers.PT_NORM,), "torchinfo": (peers.TI_NORM,)}
    short: ClassVar[str] = "norm"
    kind: ClassVar[str] = "group_norm"
    summary: ClassVar[str] = "group norm (nn.GroupNorm)"
    num_groups: PosInt
    eps: Number = 1e-5
    affine: Bool = True

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        c = x.channels
        if c % self.num_groups:
            raise LayerError("arg-groups", f"num_groups={self.num_groups} does not divide the {c} channels", "num_groups")
        # F.group_norm refuses a group of one value over the whole batch, in training and in
        # eval alike: batch * C/num_groups * prod(spatial) must be at least 2
        values = (c // self.num_groups) * prod(x.spatial)
        batch = batch_running()
        need_positive(
            batch * values - 1,
            f"group_norm on {format_shape(x.shape)} with num_groups={self.num_groups} has {values} value(s) per group and {batch} sample(s): PyTorch needs more than 1 value per group (batch * C/num_groups * spatial size >= 2)",
            "num_groups", "shape-group-norm",
        )
        return Result(shape=x.shape, params=2 * c if self.affine else 0, flops=_norm_flops(prod(x.shape), self.affine))

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.GroupNorm({', '.join([io.arg('num_groups'), io.c_in, *io.kw('eps', 'affine')])})")


class LocalResponseNorm(LayerKind):
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (peers.PT_LRN,), "torchinfo": ()}
    short: ClassVar[str] = "lrn"
    kind: ClassVar[str] = "local_response_norm"
    summary: ClassVar[str] = "local response normalisation across channels (nn.LocalResponseNorm)"
    size: PosInt
    alpha: Number = 1e-4
    beta: Number = 0.75
    k: Number = 1.0

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        return Result(shape=x.shape, flops=(2 * self.size + 3) * prod(x.shape))

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.LocalResponseNorm({', '.join([io.arg('size'), *io.kw('alpha', 'beta', 'k')])})")


class LayerScale(LayerKind):
    """A learned per-channel scale (ConvNeXt, CaiT): ``C`` parameters, 1 multiply per element."""
    compat: ClassVar[dict] = peers.NOTHING  # its parameter sits on torchvision's block, not on a leaf module

    kind: ClassVar[str] = "layer_scale"
    summary: ClassVar[str] = "learned per-channel scale, C parameters (ConvNeXt's layer scale)"
    init: Number = 1e-6

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        c = x.channels
        return Result(shape=x.shape, params=c, flops=prod(x.shape), formulas=(f"params = C = {c}",))

    def torch(self, io) -> Torch:
        extra = [] if io.rank == 2 else [f"spatial_dims={io.rank}"]
        return Torch(module=f"LayerScale({', '.join([io.c_in, *io.kw('init'), *extra])})", helpers=("LayerScale",))


register_helper("LayerScale", '''
class LayerScale(nn.Module):
    """A learned per-channel scale (ConvNeXt): x * gamma, gamma of shape (C, 1, ..., 1)."""

    def __init__(self, channels, init=1e-6, spatial_dims=2):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,) + (1,) * spatial_dims, float(init)))

    def forward(self, x):
        return x * self.gamma
''')


VARIANTS = Variants(__name__, {
    "batch_norm1d": (_BatchNorm, "BatchNorm1d", {"rank": 1, "summary": "batch norm over (C,) or (C, L) (nn.BatchNorm1d)"}, {}),
    "batch_norm2d": (_BatchNorm, "BatchNorm2d", {"rank": 2, "summary": "batch norm over (C, H, W) (nn.BatchNorm2d)"}, {}),
    "batch_norm3d": (_BatchNorm, "BatchNorm3d", {"rank": 3, "summary": "batch norm over (C, D, H, W) (nn.BatchNorm3d)"}, {}),
    "instance_norm1d": (_InstanceNorm, "InstanceNorm1d", {"rank": 1, "summary": "instance norm over (C, L) (nn.InstanceNorm1d)"}, {}),
    "instance_norm2d": (_InstanceNorm, "InstanceNorm2d", {"rank": 2, "summary": "instance norm over (C, H, W) (nn.InstanceNorm2d)"}, {}),
    "instance_norm3d": (_InstanceNorm, "InstanceNorm3d", {"rank": 3, "summary": "instance norm over (C, D, H, W) (nn.InstanceNorm3d)"}, {}),
})


def __getattr__(name: str) -> type[LayerKind]:  # the variants, by class name, built when first asked for
    return VARIANTS.attribute(name)
