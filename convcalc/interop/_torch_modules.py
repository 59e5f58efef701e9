"""``torch.nn`` modules as convcalc rows (:data:`MODULES`, :func:`rule_of`): a call of a module convcalc
has a kind for is one row, its arguments read from the module."""

from __future__ import annotations

from typing import Any, Callable, Optional

from convcalc.interop._imported import Live, Unsupported
from convcalc.interop._torch_rules import (
    base_class,
    emit,
    hardtanh,
    one,
    pairs,
    softmax,
)

__all__ = ["MODULES", "rule_of"]


def rule_of(module) -> Optional[Callable]:
    """The rule of a ``torch.nn`` module whose ``forward`` is the library's own (a subclass that
    rewrites it, like torchvision's ``LayerNorm2d``, is read operation by operation)."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn.modules") and cls.__name__ in MODULES:
            return MODULES[cls.__name__] if type(module).forward is cls.forward else None
    return None


def _conv(w, m, lives, scope, weights):
    transposed = type(m).__name__.startswith("ConvTranspose") or any(c.__name__.startswith("ConvTranspose") for c in type(m).__mro__)
    rank = len(m.kernel_size)
    args: dict[str, Any] = {"out_channels": m.out_channels, "kernel_size": one(m.kernel_size)}
    if any(s != 1 for s in m.stride):
        args["stride"] = one(m.stride)
    padding = m.padding if isinstance(m.padding, str) else one(m.padding)
    if padding not in (0, "valid") or (padding == "valid" and not transposed):
        args["padding"] = padding
    if transposed and any(m.output_padding):
        args["output_padding"] = one(m.output_padding)
    if any(d != 1 for d in m.dilation):
        args["dilation"] = one(m.dilation)
    if m.groups != 1:
        args["groups"] = m.groups
    if m.bias is None:
        args["bias"] = False
    if not transposed and m.padding_mode != "zeros":
        args["padding_mode"] = m.padding_mode
    kind = f"conv_transpose{rank}d" if transposed else f"conv{rank}d"
    return emit(w, kind, args, lives[:1], scope, weights)


def _linear(w, m, lives, scope, weights):
    return w.builder.linear(lives[0], m.out_features, m.bias is not None, weights, scope)


def _batch_norm(w, m, lives, scope, weights):
    kind = {"BatchNorm1d": "batch_norm1d", "BatchNorm2d": "batch_norm2d", "BatchNorm3d": "batch_norm3d"}[base_class(m, "BatchNorm")]
    args = {k: v for k, v in (("eps", m.eps), ("momentum", m.momentum), ("affine", m.affine), ("track_running_stats", m.track_running_stats))
            if v != {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}[k]}
    return emit(w, kind, args, lives[:1], scope, weights)


def _layer_norm(w, m, lives, scope, weights):
    args: dict[str, Any] = {}
    if m.eps != 1e-5:
        args["eps"] = m.eps
    if not m.elementwise_affine:
        args["elementwise_affine"] = False
    if getattr(m, "bias", None) is None:
        args["bias"] = False
    return w.builder.layer_norm(lives[0], tuple(m.normalized_shape), args, weights, scope)


def _group_norm(w, m, lives, scope, weights):
    args = {"num_groups": m.num_groups, **({"eps": m.eps} if m.eps != 1e-5 else {}), **({} if m.affine else {"affine": False})}
    return emit(w, "group_norm", args, lives[:1], scope, weights)


def _instance_norm(w, m, lives, scope, weights):
    if m.track_running_stats:  # running statistics: the instance norm kind holds them
        rank = base_class(m, "InstanceNorm")[-2]
        args = {"track_running_stats": True, **({"affine": True} if m.affine else {}), **({"eps": m.eps} if m.eps != 1e-5 else {}),
                **({"momentum": m.momentum} if m.momentum != 0.1 else {})}
        return emit(w, f"instance_norm{rank}d", args, lives[:1], scope, weights)
    channels = w.builder.shape(w.builder.port_of(lives[0], scope))[0]
    args = {"num_groups": channels, **({"eps": m.eps} if m.eps != 1e-5 else {}), **({} if m.affine else {"affine": False})}
    return emit(w, "group_norm", args, lives[:1], scope, weights)


def _lrn(w, m, lives, scope, weights):
    return emit(w, "local_response_norm", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}, lives[:1], scope)


def _pool(w, m, lives, scope, weights):
    base = base_class(m, "MaxPool") if "MaxPool" in [c.__name__[:7] for c in type(m).__mro__] else base_class(m, "AvgPool")
    rank = int(base[-2])
    if getattr(m, "return_indices", False):
        raise Unsupported("max pooling that returns its indices")
    args: dict[str, Any] = {"kernel_size": one(m.kernel_size)}
    stride = m.stride if m.stride is not None else m.kernel_size
    if one(stride) != one(m.kernel_size):
        args["stride"] = one(stride)
    if one(m.padding) != 0:
        args["padding"] = one(m.padding)
    if base.startswith("MaxPool") and one(m.dilation) != 1:
        args["dilation"] = one(m.dilation)
    if m.ceil_mode:
        args["ceil_mode"] = True
    if base.startswith("AvgPool"):
        if not m.count_include_pad:
            args["count_include_pad"] = False
        if getattr(m, "divisor_override", None) is not None:
            args["divisor_override"] = m.divisor_override
    kind = f"{'max' if base.startswith('MaxPool') else 'avg'}_pool{rank}d"
    return emit(w, kind, args, lives[:1], scope)


def _adaptive(w, m, lives, scope, weights):
    base = base_class(m, "Adaptive")
    kind = {"AdaptiveAvgPool": "adaptive_avg_pool", "AdaptiveMaxPool": "adaptive_max_pool"}[base[:-2]] + base[-2:]
    if getattr(m, "return_indices", False):
        raise Unsupported("adaptive max pooling that returns its indices")
    size = m.output_size
    return emit(w, kind, {"output_size": one(size) if not isinstance(size, int) else size}, lives[:1], scope)


def _activation(kind: str, **fields: tuple[str, Any]) -> Callable:
    """``fields``: argument -> (the module's attribute, convcalc's default)."""

    def rule(w, m, lives, scope, weights):
        args = {arg: getattr(m, attr) for arg, (attr, default) in fields.items() if getattr(m, attr) != default}
        return w.builder.unary(kind, lives[0], scope, args)

    return rule


def _hardtanh(w, m, lives, scope, weights):
    return hardtanh(w, lives[0], m.min_val, m.max_val, scope)


def _prelu(w, m, lives, scope, weights):
    return emit(w, "prelu", {"num_parameters": m.num_parameters} if m.num_parameters != 1 else {}, lives[:1], scope, weights)


def _lp_pool(w, m, lives, scope, weights):
    rank = base_class(m, "LPPool")[-2]
    args: dict[str, Any] = {"norm_type": m.norm_type, "kernel_size": one(m.kernel_size)}
    if m.stride is not None and one(m.stride) != one(m.kernel_size):
        args["stride"] = one(m.stride)
    if m.ceil_mode:
        args["ceil_mode"] = True
    return emit(w, f"lp_pool{rank}d", args, lives[:1], scope)


def _softmax_module(w, m, lives, scope, weights):
    if m.dim is None:
        raise Unsupported("softmax without a dim")
    log = any(c.__name__ == "LogSoftmax" for c in type(m).__mro__)
    return softmax(w, "log_softmax" if log else "softmax", lives[0], m.dim, scope)


def _dropout(w, m, lives, scope, weights):
    name = type(m).__name__.lower()
    port = w.builder.port_of(lives[0], scope)
    return Live(w.builder.emit("dropout", {"p": m.p} if m.p != 0.5 else {}, [port], scope, written="dropout2d" if name == "dropout2d" else "dropout")[0])


def _identity(w, m, lives, scope, weights):
    return emit(w, "identity", {}, lives[:1], scope)


def _flatten(w, m, lives, scope, weights):
    args = {k: v for k, v in (("start_dim", m.start_dim), ("end_dim", m.end_dim)) if v != {"start_dim": 1, "end_dim": -1}[k]}
    return emit(w, "flatten", args, lives[:1], scope)


def _unflatten(w, m, lives, scope, weights):
    return emit(w, "unflatten", {"dim": m.dim, "unflattened_size": list(m.unflattened_size)}, lives[:1], scope)


def _upsample(w, m, lives, scope, weights):
    args: dict[str, Any] = {"mode": m.mode} if m.mode != "nearest" else {}
    if m.size is not None:
        args["size"] = one(m.size)
    else:
        args["scale_factor"] = one(m.scale_factor)
    if m.align_corners is not None:
        args["align_corners"] = m.align_corners
    return emit(w, "upsample", args, lives[:1], scope)


def _zero_pad(w, m, lives, scope, weights):
    if getattr(m, "value", 0) != 0:
        raise Unsupported(f"padding with {m.value}: convcalc's zero_pad pads with 0")
    return emit(w, "zero_pad", {"padding": pairs(list(m.padding))}, lives[:1], scope)


def _shuffle(kind: str, attr: str) -> Callable:
    def rule(w, m, lives, scope, weights):
        return emit(w, kind, {attr: getattr(m, attr)}, lives[:1], scope)

    return rule


def _attention(w, m, lives, scope, weights):
    if not m.batch_first:
        raise Unsupported("multi-head attention with batch_first=False (the batch is not the first axis)")
    if m.bias_k is not None:
        raise Unsupported("multi-head attention with add_bias_kv")
    args: dict[str, Any] = {"embed_dim": m.embed_dim, "num_heads": m.num_heads}
    if m.in_proj_bias is None:
        args["bias"] = False
    if m.kdim != m.embed_dim:
        args["kdim"] = m.kdim
    if m.vdim != m.embed_dim:
        args["vdim"] = m.vdim
    if m.dropout:
        args["dropout"] = m.dropout
    return emit(w, "multihead_attention", args, lives[:3], scope, weights)


MODULES: dict[str, Callable] = {
    **{f"Conv{r}d": _conv for r in (1, 2, 3)}, **{f"ConvTranspose{r}d": _conv for r in (1, 2, 3)},
    "Linear": _linear, **{f"BatchNorm{r}d": _batch_norm for r in (1, 2, 3)}, "LayerNorm": _layer_norm, "GroupNorm": _group_norm,
    **{f"InstanceNorm{r}d": _instance_norm for r in (1, 2, 3)}, "LocalResponseNorm": _lrn,
    **{f"MaxPool{r}d": _pool for r in (1, 2, 3)}, **{f"AvgPool{r}d": _pool for r in (1, 2, 3)},
    **{f"Adaptive{op}Pool{r}d": _adaptive for op in ("Avg", "Max") for r in (1, 2, 3)},
    "ReLU": _activation("relu"), "ReLU6": _activation("relu6"), "SiLU": _activation("silu"), "Sigmoid": _activation("sigmoid"),
    "Tanh": _activation("tanh"), "Hardswish": _activation("hardswish"), "Hardsigmoid": _activation("hardsigmoid"),
    "LeakyReLU": _activation("leaky_relu", negative_slope=("negative_slope", 0.01)), "ELU": _activation("elu", alpha=("alpha", 1.0)),
    "GELU": _activation("gelu", approximate=("approximate", "none")), "Hardtanh": _hardtanh,
    "Mish": _activation("mish"), "SELU": _activation("selu"), "CELU": _activation("celu", alpha=("alpha", 1.0)),
    "Softplus": _activation("softplus", beta=("beta", 1.0), threshold=("threshold", 20.0)), "LogSigmoid": _activation("log_sigmoid"),
    "Tanhshrink": _activation("tanhshrink"), "PReLU": _prelu, "LPPool1d": _lp_pool, "LPPool2d": _lp_pool,
    "Softmax": _softmax_module, "LogSoftmax": _softmax_module,
    "Dropout": _dropout, "Dropout1d": _dropout, "Dropout2d": _dropout, "Dropout3d": _dropout, "AlphaDropout": _dropout,
    "Identity": _identity, "Flatten": _flatten, "Unflatten": _unflatten, "Upsample": _upsample,
    **{f"ZeroPad{r}d": _zero_pad for r in (1, 2, 3)}, **{f"ConstantPad{r}d": _zero_pad for r in (1, 2, 3)},
    "ChannelShuffle": _shuffle("channel_shuffle", "groups"), "PixelShuffle": _shuffle("pixel_shuffle", "upscale_factor"),
    "PixelUnshuffle": _shuffle("pixel_unshuffle", "downscale_factor"), "MultiheadAttention": _attention,
}
