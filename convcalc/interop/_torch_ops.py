"""ATen operators of ``torch.export``'s graph as convcalc layers (:data:`FUNCTIONS`)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from convcalc.interop._imported import Live, Unsupported
from convcalc.interop._torch_rules import (
    Const,
    Param,
    dim_of,
    emit,
    hardtanh,
    one,
    pairs,
    rank_of,
    softmax,
)

__all__ = ["FUNCTIONS"]


def _live(args: list, what: str = "the input") -> Live:
    x = args[0] if args else None
    if not isinstance(x, Live):
        raise Unsupported(f"{what} is not a tensor the network computes")
    return x


def _unary_op(kind: str, **defaults: Any) -> Callable:
    """An element-wise operator; ``defaults``: argument -> (position in args, kwarg name, default)."""

    def rule(w, node, args, kwargs, scope):
        values = {}
        for arg, (position, name, default) in defaults.items():
            value = kwargs.get(name, args[position] if len(args) > position else default)
            if value != default:
                values[arg] = value
        return w.builder.unary(kind, _live(args), scope, values)

    return rule


def _hardtanh_op(w, node, args, kwargs, scope):
    low, high = (list(args[1:3]) + [-1.0, 1.0][len(args) - 1:])[:2] if len(args) > 1 else (-1.0, 1.0)
    return hardtanh(w, _live(args), low, high, scope)


def _const(w, node, args, kwargs, scope):
    shape = _shape_of(node)
    if shape is None:
        raise Unsupported("a constant without a recorded shape")
    return Const(shape)


def _index_select(w, node, args, kwargs, scope):
    x, dim, index = _live(args), args[1], args[2]
    if not isinstance(index, Const) or len(index.shape) != 1:
        raise Unsupported("index_select with an index the network computes (convcalc's gather reads a fixed index)")
    return emit(w, "gather", {"dim": dim_of(w, x, dim), "index_shape": [index.shape[0]]}, [x], scope)


def _binary(w, node, args, kwargs, scope):
    """add, mul (and sub, div by a neutral number): of two tensors, or with a learned one."""
    op = str(node.target).split(".")[1].rstrip("_")
    a, b = args[0], args[1]
    alpha = kwargs.get("alpha", 1)
    if not isinstance(a, Live) and isinstance(b, Live) and op in ("add", "mul"):
        a, b = b, a
    if not isinstance(a, Live):
        raise Unsupported(f"{op} of constants")
    if isinstance(b, (int, float)):
        if (op in ("add", "sub") and b == 0) or (op in ("mul", "div") and b == 1):
            return a
        raise Unsupported(f"{op} by the number {b}: no convcalc kind")
    kind = {"add": "add", "mul": "multiply"}.get(op)
    if kind is None or alpha != 1:
        raise Unsupported(f"{op} of tensors: no convcalc kind")
    if isinstance(b, Live):
        if a.layout is not None and a.layout == b.layout:
            port = w.builder.emit(kind, {}, [a.port, b.port], scope)[0]
            return Live(port, a.layout, a.scope)
        return emit(w, kind, {}, [a, b], scope)
    if isinstance(b, Param):
        full = w.builder.full_shape(a)
        const = (1,) * (len(full) - len(b.shape)) + tuple(b.shape)
        if len(const) != len(full) or const[0] != 1:
            raise Unsupported(f"{op} with a learned tensor of shape {list(b.shape)}")
        channel_axis = a.layout.index(1) if a.layout else 1
        if kind == "multiply" and const[channel_axis] == full[channel_axis] and all(d == 1 for i, d in enumerate(const) if i != channel_axis):
            port = w.builder.emit("layer_scale", {}, [a.port], scope, weights=w.weights(b))[0]
            return Live(port, a.layout, a.scope)
        port = w.builder.port_of(a, scope)
        if kind == "add" and tuple(const[1:]) != tuple(w.builder.shape(port)):
            raise Unsupported(f"adding a learned tensor of shape {list(b.shape)} that broadcasts: no convcalc kind")
        param = w.builder.emit("parameter", {"shape": list(const[1:])}, [], scope, weights=w.weights(b), refs=[port])[0]
        return Live(w.builder.emit(kind, {}, [port, param], scope)[0])
    raise Unsupported(f"{op} with {type(b).__name__}")


def _cat(w, node, args, kwargs, scope):
    tensors = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
    lives = [t for t in tensors if isinstance(t, Live)]
    if not lives:
        raise Unsupported("a concatenation of constants")
    rank = len(w.builder.full_shape(lives[0]))
    if dim % rank != 1:
        raise Unsupported(f"concat along dim {dim}: convcalc's concat joins the channels (dim 1)")
    ports = []
    for t in tensors:
        if isinstance(t, Live):
            ports.append(w.builder.port_of(t, scope))
        elif isinstance(t, Param) and len(t.shape) == rank:
            ports.append(w.builder.emit("parameter", {"shape": list(t.shape[1:])}, [], scope, weights=w.weights(t), refs=[w.builder.port_of(lives[0], scope)])[0])
        else:
            raise Unsupported("a concatenation with a constant")
    if len(ports) == 1:
        return Live(ports[0])
    return Live(w.builder.emit("concat", {}, ports, scope)[0])


def _reshape(w, node, args, kwargs, scope):
    x = _live(args)
    port = w.builder.port_of(x, scope)
    target = list(_shape_of(node) or [])
    if not target:
        raise Unsupported("a reshape to a scalar")
    return Live(w.builder.reshape_to(port, target, scope))


def _shape_of(node) -> Optional[tuple]:
    val = node.meta.get("val")
    return tuple(int(d) for d in val.shape) if hasattr(val, "shape") else None


def _flatten_op(w, node, args, kwargs, scope):
    x = _live(args)
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    rank = len(w.builder.full_shape(x))
    if start % rank == 0:
        raise Unsupported("a flatten of the batch into the rows")
    port = w.builder.port_of(x, scope)
    args_ = {k: v for k, v in (("start_dim", start), ("end_dim", end)) if v != {"start_dim": 1, "end_dim": -1}[k]}
    return Live(w.builder.emit("flatten", args_, [port], scope)[0])


def _permute(w, node, args, kwargs, scope):
    x = _live(args)
    rank = len(w.builder.full_shape(x))
    name = str(node.target).split(".")[1]
    if name == "permute":
        perm = [d % rank for d in args[1]]
    elif name == "movedim":
        source, dest = args[1] % rank, args[2] % rank
        perm = [d for d in range(rank) if d != source]
        perm.insert(dest, source)
    else:  # transpose, t
        a, b = (args[1] % rank, args[2] % rank) if len(args) > 2 else (rank - 2, rank - 1)
        perm = list(range(rank))
        perm[a], perm[b] = perm[b], perm[a]
    return w.builder.transposed(x, perm, scope)


def _reduce(w, node, args, kwargs, scope):
    x = _live(args)
    name = str(node.target).split(".")[1]
    kind = {"mean": "mean", "sum": "sum", "amax": "amax"}[name]
    port = w.builder.port_of(x, scope)
    rank = len(w.builder.shape(port)) + 1
    dims = args[1] if len(args) > 1 else kwargs.get("dim")
    keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    if dims is None or dims == []:
        raise Unsupported(f"{name} over every axis, the batch too")
    dims = sorted(d % rank for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
    if dims == list(range(2, rank)) and kind in ("mean", "amax"):
        return Live(w.builder.emit("global_avg_pool" if kind == "mean" else "global_max_pool", {} if keep else {"keepdim": False}, [port], scope)[0])
    return Live(w.builder.emit(kind, {"dim": dims if len(dims) > 1 else dims[0], **({"keepdim": True} if keep else {})}, [port], scope)[0])


def _slice(w, node, args, kwargs, scope):
    x = _live(args)
    port = w.builder.port_of(x, scope)
    full = (w.builder.batch, *w.builder.shape(port))
    dim = (args[1] if len(args) > 1 else 0) % len(full)
    start = args[2] if len(args) > 2 and args[2] is not None else 0
    end = args[3] if len(args) > 3 and args[3] is not None else full[dim]
    step = args[4] if len(args) > 4 else 1
    size = full[dim]
    if step != 1:
        raise Unsupported(f"a slice with step {step}")
    begin = max(0, min(size, start + size if start < 0 else start))
    stop = max(0, min(size, end + size if end < 0 else end))
    if (begin, stop) == (0, size):
        return Live(port)
    if dim == 0:
        raise Unsupported("a slice of the batch")
    return Live(w.builder.emit("narrow", {"dim": dim, "start": begin, "length": stop - begin}, [port], scope)[0])


def _narrow(w, node, args, kwargs, scope):
    x = _live(args)
    return emit(w, "narrow", {"dim": args[1], "start": args[2], "length": args[3]}, [x], scope)


def _select(w, node, args, kwargs, scope):
    return emit(w, "select", {"dim": args[1], "index": args[2]}, [_live(args)], scope)


def _split(w, node, args, kwargs, scope):
    x = _live(args)
    name = str(node.target).split(".")[1]
    port = w.builder.port_of(x, scope)
    if name == "chunk":
        ports = w.builder.emit("chunk", {"chunks": args[1], "dim": args[2] if len(args) > 2 else 0}, [port], scope)
    else:
        sizes = args[1]
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        ports = w.builder.emit("split", {"split_size_or_sections": list(sizes) if isinstance(sizes, (list, tuple)) else sizes, "dim": dim}, [port], scope)
    return [Live(p) for p in ports]


def _getitem(w, node, args, kwargs, scope):
    items, index = args
    if isinstance(items, list):
        return items[index]
    raise Unsupported("an item of a value convcalc did not compute")


def _linear_op(w, node, args, kwargs, scope):
    x, weight = _live(args), args[1]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    if not isinstance(weight, Param) or len(weight.shape) != 2:
        raise Unsupported("a linear map whose weight the network computes")
    return w.builder.linear(x, weight.shape[0], bias is not None, w.weights(weight, bias), scope)


def _matmul(w, node, args, kwargs, scope):
    a, b = args[0], args[1]
    if isinstance(a, Live) and isinstance(b, Live):
        return emit(w, "matmul", {}, [a, b], scope)
    if isinstance(a, Live) and isinstance(b, Param) and len(b.shape) == 2:
        return w.builder.linear(a, b.shape[1], False, w.weights(b), scope)
    raise Unsupported("a product with a constant")


def _conv_op(w, node, args, kwargs, scope):
    x, weight = _live(args), args[1]
    bias = args[2] if len(args) > 2 else None
    if not isinstance(weight, Param):
        raise Unsupported("a convolution whose weight the network computes")
    name = str(node.target).split(".")[1]
    rank = len(weight.shape) - 2
    transposed = "transpose" in name
    pick = (lambda i, default: args[i] if len(args) > i else default)
    stride, padding = pick(3, 1), pick(4, 0)
    if transposed:
        output_padding, groups, dilation = pick(5, 0), pick(6, 1), pick(7, 1)
    else:
        dilation, groups, output_padding = pick(5, 1), pick(6, 1), 0
    out = weight.shape[1] * groups if transposed else weight.shape[0]
    args_: dict[str, Any] = {"out_channels": out, "kernel_size": one(weight.shape[2:])}
    for key, value, default in (("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1), ("output_padding", output_padding, 0)):
        if one(value) != default:
            args_[key] = one(value)
    if groups != 1:
        args_["groups"] = groups
    if bias is None:
        args_["bias"] = False
    return emit(w, f"conv_transpose{rank}d" if transposed else f"conv{rank}d", args_, [x], scope, w.weights(weight, bias))


def _softmax_op(w, node, args, kwargs, scope):
    name = str(node.target).split(".")[1].lstrip("_")
    return softmax(w, "log_softmax" if "log" in name else "softmax", _live(args), args[1], scope)


def _alias(w, node, args, kwargs, scope):
    return args[0]


def _expand(w, node, args, kwargs, scope):
    x = args[0]
    if isinstance(x, Param):
        return x
    x = _live(args)
    port = w.builder.port_of(x, scope)
    target = list(_shape_of(node))
    if tuple(target[1:]) == tuple(w.builder.shape(port)):
        return Live(port)
    return Live(w.builder.emit("expand", {"sizes": target[1:]}, [port], scope)[0])


def _pool_op(w, node, args, kwargs, scope):
    x = _live(args)
    name = str(node.target).split(".")[1]
    rank = int(name[-2])
    port = w.builder.port_of(x, scope)
    pick = (lambda i, default: args[i] if len(args) > i else default)
    if name.startswith("adaptive"):
        return Live(w.builder.emit(f"{name[:-2]}{rank}d".replace("adaptive_avg_pool", "adaptive_avg_pool").replace("adaptive_max_pool", "adaptive_max_pool"),
                                   {"output_size": one(args[1])}, [port], scope)[0])
    kernel = pick(1, None)
    stride = pick(2, []) or kernel
    args_: dict[str, Any] = {"kernel_size": one(kernel)}
    if one(stride) != one(kernel):
        args_["stride"] = one(stride)
    if one(pick(3, 0)) != 0:
        args_["padding"] = one(pick(3, 0))
    if name.startswith("max"):
        if one(pick(4, 1)) != 1:
            args_["dilation"] = one(pick(4, 1))
        if pick(5, False):
            args_["ceil_mode"] = True
    else:
        if pick(4, False):
            args_["ceil_mode"] = True
        if not pick(5, True):
            args_["count_include_pad"] = False
        if pick(6, None) is not None:
            args_["divisor_override"] = pick(6, None)
    return Live(w.builder.emit(f"{name[:3]}_pool{rank}d", args_, [port], scope)[0])


def _pad_op(w, node, args, kwargs, scope):
    x = _live(args)
    mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
    value = args[3] if len(args) > 3 else kwargs.get("value", 0)
    if str(node.target).split(".")[1] == "constant_pad_nd":
        mode, value = "constant", args[2] if len(args) > 2 else 0
    if mode != "constant" or (value or 0) != 0:
        raise Unsupported(f"{mode} padding with {value}: convcalc's zero_pad pads with 0")
    flat = list(args[1])
    rank = rank_of(w, x, scope)
    if len(flat) > 2 * rank:
        raise Unsupported("padding of the channels")
    flat += [0, 0] * (rank - len(flat) // 2)
    return emit(w, "zero_pad", {"padding": pairs(flat)}, [x], scope)


def _upsample_op(w, node, args, kwargs, scope):
    x = _live(args)
    name = str(node.target).split(".")[1]
    mode = {"upsample_nearest": "nearest", "upsample_bilinear": "bilinear", "upsample_linear": "linear", "upsample_trilinear": "trilinear",
            "upsample_bicubic": "bicubic"}.get(name[:-2])
    if mode is None:
        raise Unsupported(f"{name}")
    shape = _shape_of(node)
    args_: dict[str, Any] = {"size": one(list(shape[2:]))}
    if mode != "nearest":
        args_["mode"] = mode
        if len(args) > 2 and args[2]:
            args_["align_corners"] = True
    return emit(w, "upsample", args_, [x], scope)


def _sdpa(w, node, args, kwargs, scope):
    q, k, v = args[:3]
    if not all(isinstance(t, Live) for t in (q, k, v)) or (len(args) > 3 and args[3] is not None) or kwargs.get("attn_mask") is not None:
        raise Unsupported("attention with a mask")
    return emit(w, "scaled_dot_product_attention", {}, [q, k, v], scope)


def _layer_norm_op(w, node, args, kwargs, scope):
    x, shape = _live(args), tuple(args[1])
    weight = args[2] if len(args) > 2 else None
    bias = args[3] if len(args) > 3 else None
    eps = args[4] if len(args) > 4 else 1e-5
    extra = {**({"eps": eps} if eps != 1e-5 else {}), **({} if weight is not None else {"elementwise_affine": False}),
             **({} if bias is not None else {"bias": False})}
    return w.builder.layer_norm(x, shape, extra, w.weights(weight, bias), scope)


def _batch_norm_op(w, node, args, kwargs, scope):
    x = _live(args)
    weight, bias, mean, var = (args + [None] * 5)[1:5]
    eps = args[7] if len(args) > 7 else 1e-5
    rank = rank_of(w, x, scope) + 1
    kind = "batch_norm1d" if rank <= 2 else f"batch_norm{rank - 1}d"
    args_ = {**({"eps": eps} if eps != 1e-5 else {}), **({} if weight is not None else {"affine": False}),
             **({} if mean is not None else {"track_running_stats": False})}
    return emit(w, kind, args_, [x], scope, w.weights(weight, bias, mean, var))


def _group_norm_op(w, node, args, kwargs, scope):
    x = _live(args)
    groups, weight, bias = args[1], (args + [None] * 4)[2], (args + [None] * 4)[3]
    eps = args[4] if len(args) > 4 else 1e-5
    return emit(w, "group_norm", {"num_groups": groups, **({"eps": eps} if eps != 1e-5 else {}), **({} if weight is not None else {"affine": False})},
                 [x], scope, w.weights(weight, bias))


def _squeeze(w, node, args, kwargs, scope):
    x = _live(args)
    port = w.builder.port_of(x, scope)
    return Live(w.builder.reshape_to(port, list(_shape_of(node)), scope))


def _roll(w, node, args, kwargs, scope):
    shifts, dims = args[1], args[2] if len(args) > 2 else kwargs.get("dims", [])
    return emit(w, "roll", {"shifts": list(shifts) if isinstance(shifts, (list, tuple)) else shifts, "dims": list(dims) if isinstance(dims, (list, tuple)) else dims},
                 [_live(args)], scope)


def _shuffle_op(kind: str, attr: str) -> Callable:
    def rule(w, node, args, kwargs, scope):
        return emit(w, kind, {attr: args[1]}, [_live(args)], scope)

    return rule


FUNCTIONS: dict[str, Callable] = {
    "relu": _unary_op("relu"), "relu6": _unary_op("relu6"), "sigmoid": _unary_op("sigmoid"), "tanh": _unary_op("tanh"), "silu": _unary_op("silu"),
    "hardswish": _unary_op("hardswish"), "hardsigmoid": _unary_op("hardsigmoid"), "hardtanh": _hardtanh_op,
    "gelu": _unary_op("gelu", approximate=(9, "approximate", "none")),
    "leaky_relu": _unary_op("leaky_relu", negative_slope=(1, "negative_slope", 0.01)), "elu": _unary_op("elu", alpha=(1, "alpha", 1.0)),
    "add": _binary, "mul": _binary, "sub": _binary, "div": _binary, "cat": _cat,
    "view": _reshape, "reshape": _reshape, "_unsafe_view": _reshape, "unflatten": _reshape, "flatten": _flatten_op,
    "squeeze": _squeeze, "unsqueeze": _squeeze,
    "permute": _permute, "transpose": _permute, "movedim": _permute, "t": _permute,
    "mean": _reduce, "sum": _reduce, "amax": _reduce,
    "slice": _slice, "narrow": _narrow, "select": _select, "split": _split, "split_with_sizes": _split, "chunk": _split, "getitem": _getitem,
    "linear": _linear_op, "matmul": _matmul, "mm": _matmul, "bmm": _matmul,
    "conv1d": _conv_op, "conv2d": _conv_op, "conv3d": _conv_op, "conv_transpose1d": _conv_op, "conv_transpose2d": _conv_op, "conv_transpose3d": _conv_op,
    "softmax": _softmax_op, "_softmax": _softmax_op, "log_softmax": _softmax_op, "_log_softmax": _softmax_op,
    "dropout": _alias, "feature_dropout": _alias, "alpha_dropout": _alias, "clone": _alias, "contiguous": _alias, "detach": _alias, "alias": _alias,
    "to": _alias, "_to_copy": _alias, "type_as": _alias, "lift_fresh_copy": _alias,
    "expand": _expand,
    **{f"{op}_pool{r}d": _pool_op for op in ("max", "avg") for r in (1, 2, 3)},
    **{f"adaptive_{op}_pool{r}d": _pool_op for op in ("max", "avg") for r in (1, 2, 3)},
    "pad": _pad_op, "constant_pad_nd": _pad_op,
    **{f"upsample_{m}{r}d": _upsample_op for m in ("nearest", "linear", "bilinear", "bicubic", "trilinear") for r in (1, 2, 3)},
    "scaled_dot_product_attention": _sdpa, "layer_norm": _layer_norm_op, "batch_norm": _batch_norm_op, "group_norm": _group_norm_op,
    "roll": _roll, "pixel_shuffle": _shuffle_op("pixel_shuffle", "upscale_factor"), "pixel_unshuffle": _shuffle_op("pixel_unshuffle", "downscale_factor"),
    "channel_shuffle": _shuffle_op("channel_shuffle", "groups"), "native_channel_shuffle": _shuffle_op("channel_shuffle", "groups"),
    "zeros": _const, "ones": _const, "full": _const, "empty": _const, "arange": _const, "index_select": _index_select,
}
