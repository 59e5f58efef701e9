"""Every layer kind convcalc knows, one class each, in one explicit registry.

A kind answers every metric in one place: ``infer(tensor) -> Result``. Adding a kind means one
class, one line in ``KINDS`` below, one golden test and one PyTorch parity case.
"""

from __future__ import annotations

from convcalc.kinds._base import LayerError, LayerKind, Result, RFAxis, Tensor
from convcalc.kinds.activation import ACTIVATIONS, LogSoftmax, PReLU, Softmax
from convcalc.kinds.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from convcalc.kinds.attention import Matmul, MultiheadAttention, Parameter, ScaledDotProductAttention
from convcalc.kinds.linear import Linear
from convcalc.kinds.merge import Add, Concat, Multiply
from convcalc.kinds.norm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LayerScale,
    LocalResponseNorm,
)
from convcalc.kinds.pool import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    GlobalAvgPool,
    GlobalMaxPool,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from convcalc.kinds.reduce import Amax, Mean, Sum
from convcalc.kinds.shape import CenterCrop, Dropout, Identity, Upsample, ZeroPad
from convcalc.kinds.tensor import (
    ChannelShuffle,
    Chunk,
    Expand,
    Flatten,
    Gather,
    Narrow,
    Permute,
    PixelShuffle,
    PixelUnshuffle,
    Reshape,
    Roll,
    Select,
    Split,
    Transpose,
    Unflatten,
)

__all__ = ["ALIASES", "KINDS", "LayerError", "LayerKind", "RFAxis", "Result", "Tensor"]

_ALL: tuple[type[LayerKind], ...] = (
    Conv1d, Conv2d, Conv3d,
    ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
    MaxPool1d, MaxPool2d, MaxPool3d,
    AvgPool1d, AvgPool2d, AvgPool3d,
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d,
    AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d,
    GlobalAvgPool, GlobalMaxPool, LPPool1d, LPPool2d,
    Linear, Flatten,
    BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm, LocalResponseNorm, LayerScale,
    InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
    *ACTIVATIONS, PReLU, Softmax, LogSoftmax,
    Dropout, Identity, ZeroPad, CenterCrop, Upsample,
    Add, Concat, Multiply,
    Split, Chunk, ChannelShuffle, PixelShuffle, PixelUnshuffle, Reshape, Permute, Transpose, Unflatten,
    Narrow, Select, Expand, Roll, Gather, Mean, Sum, Amax,
    Matmul, MultiheadAttention, ScaledDotProductAttention, Parameter,
)

KINDS: dict[str, type[LayerKind]] = {cls.kind: cls for cls in _ALL}
ALIASES: dict[str, str] = {alias: cls.kind for cls in _ALL for alias in cls.aliases}
