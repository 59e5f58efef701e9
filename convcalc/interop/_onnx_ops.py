"""ONNX operators: nodes as convcalc layers (:data:`HANDLERS`; constants are computed by
:func:`convcalc.interop._onnx_fold.fold`).

A handler reads a node's inputs (:class:`~convcalc.interop.onnx_import.Live` tensors of the
network, :class:`~convcalc.interop.onnx_import.Const` constants and initializers) and its
attributes, emits the layer (or layers) of the kind that computes it and returns its outputs. A use
that no kind describes raises :class:`~convcalc.interop._imported.Unsupported`: the node becomes an
unknown row, never a row that counts 0. ONNX axes count the batch (0), as PyTorch's dims and
convcalc's ``dim`` arguments do.
"""

from __future__ import annotations

from typing import Any, Callable

from convcalc.arith.dims import is_int, prod
from convcalc.interop._imported import Scope, Unsupported
from convcalc.interop._onnx_fold import (
    INT64_MAX,
    axes_of,
    np_module,
    reshaped,
    squeezed,
)
from convcalc.interop._onnx_values import Const, Live, Pieces, exact, f32

__all__ = ["HANDLERS", "conv", "linear", "norm_eps", "unary"]



# -- helpers for handlers -----------------------------------------------------------------------


def _outs(ports) -> list:
    return [Live(p) for p in ports]


def _learned(*values) -> dict:
    found: dict = {}
    for v in values:
        if isinstance(v, Const):
            found.update(v.learned)
    return found


def _one(values: list) -> Any:
    """A per-axis argument as the spec writes it: one int when every axis has it."""
    values = [exact(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _is_zero(imp, value: Any) -> bool:
    """A constant whose every element is 0 (the zero bias exporters compute for ``bias=False``)."""
    if not isinstance(value, Const) or value.learned:
        return False
    got = value.get()
    return got is not None and not np_module().any(got)


def _is_identity(imp, value: Any, unit: int) -> bool:
    """A constant (not learned) whose every element is ``unit``: x * 1, x + 0."""
    if not isinstance(value, Const) or value.learned:
        return False
    got = value.get()
    np = np_module()
    return got is not None and got.dtype != object and bool(np.all(np.asarray(got) == unit))


def _sample(imp, port) -> tuple:
    return imp.builder.shape(port)


def _live_in(imp, value: Any, scope: Scope, what: str = "the input"):
    if not isinstance(value, Live):
        raise Unsupported(f"{what} is a constant")
    return imp.live(value, scope)


def _rank_kind(base: str, rank: int) -> str:
    if not 1 <= rank <= 3:
        raise Unsupported(f"{base} on a tensor with {rank} spatial axes")
    return f"{base}{rank}d"


def norm_eps(attrs: dict) -> dict[str, Any]:
    """A normalisation's ``epsilon`` as convcalc's ``eps``, when it is not the default 1e-5."""
    eps = f32(attrs.get("epsilon", 1e-5))
    return {"eps": eps} if eps != 1e-5 else {}


def _pads(attrs: dict, spatial: tuple, kernel: list, strides: list, dilations: list, *, conv: bool) -> list[tuple]:
    """(before, after) per spatial axis, from ``pads`` or ``auto_pad``; ``[("same",)]`` for
    SAME_UPPER on a convolution (convcalc's ``same`` is TensorFlow's, which is SAME_UPPER)."""
    rank = len(spatial)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return [(0, 0)] * rank
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if conv and auto == "SAME_UPPER":
            return [("same",)]
        pads = []
        for n, k, s, d in zip(spatial, kernel, strides, dilations):
            if not is_int(n):
                raise Unsupported(f"auto_pad {auto} on a symbolic size")
            total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        return pads
    given = list(attrs.get("pads") or [0] * (2 * rank))
    return [(exact(given[i]), exact(given[i + rank])) for i in range(rank)]


def _conv_padding(pads: list[tuple]) -> Any:
    if pads == [("same",)]:
        return "same"
    if all(b == a for b, a in pads):
        return _one([b for b, _ in pads])
    return [[b, a] for b, a in pads]


def _pool_padding(pads: list[tuple], spatial: tuple, kernel: list, strides: list, dilations: list, ceil_mode: bool) -> tuple[Any, bool]:
    """Pooling takes one padding per axis: an unequal (before, after) pair is the same windows as
    padding ``before`` on both sides when the output size is the same (with or without
    ``ceil_mode``): the windows start at the same places, so they read the same elements."""
    if all(b == a for b, a in pads):
        return _one([b for b, _ in pads]), ceil_mode
    for mode in (ceil_mode, not ceil_mode):
        ok = True
        for (b, a), n, k, s, d in zip(pads, spatial, kernel, strides, dilations):
            if not is_int(n):
                raise Unsupported("unequal pooling padding on a symbolic size")
            want = _onnx_pool_out(n, b, a, k, s, d, ceil_mode)
            if _torch_pool_out(n, b, k, s, d, mode) != want:
                ok = False
        if ok:
            return _one([b for b, _ in pads]), mode
    raise Unsupported(f"pooling padding {pads} that no symmetric padding reproduces")


def _onnx_pool_out(n: int, before: int, after: int, k: int, s: int, d: int, ceil_mode: bool) -> int:
    span = n + before + after - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + before:
        out -= 1
    return out


def _torch_pool_out(n: int, pad: int, k: int, s: int, d: int, ceil_mode: bool) -> int:
    return _onnx_pool_out(n, pad, pad, k, s, d, ceil_mode)


def unary(imp, kind: str, x, scope, args: dict | None = None) -> list:
    """An element-wise layer on the tensor as it is, keeping a pending transpose."""
    if not isinstance(x, Live):
        raise Unsupported("an activation of a constant")
    return [imp.builder.unary(kind, x, scope, args)]


def _unary(kind: str, **args) -> Callable:
    """The handler of an element-wise activation; ``args`` compute its arguments from the attributes."""

    def handle(imp, node, ins, attrs, scope):
        values = {k: (v(attrs) if callable(v) else v) for k, v in args.items()}
        return unary(imp, kind, ins[0], scope, {k: v for k, v in values.items() if v is not None})

    return handle


def _sample_axis(imp, value: Live, axis: int) -> int:
    """An ONNX axis of a tensor (its layout) as a PyTorch dim of the channels-first tensor."""
    rank = len(imp.full_shape(value))
    axis %= rank
    return value.layout[axis] if value.layout else axis


# -- handlers -----------------------------------------------------------------------------------


def conv(imp, node, ins, attrs, scope):
    x, w, b = ins[0], ins[1], ins[2] if len(ins) > 2 else None
    if not isinstance(w, Const):
        raise Unsupported("a convolution whose weights the network computes")
    port = _live_in(imp, x, scope)
    shape = _sample(imp, port)
    rank = len(shape) - 1
    kernel = list(attrs.get("kernel_shape") or w.shape[2:])
    strides = list(attrs.get("strides") or [1] * rank)
    dilations = list(attrs.get("dilations") or [1] * rank)
    group = attrs.get("group", 1)
    transposed = node.op_type == "ConvTranspose"
    bias = b is not None and not _is_zero(imp, b)
    weights = _learned(w, b if bias else None)
    if bias and not b.learned:
        weights[f"{node.name or 'node'}:bias"] = b.size
    args: dict[str, Any] = {"out_channels": exact(w.shape[1] * group if transposed else w.shape[0]), "kernel_size": _one(kernel)}
    if any(s != 1 for s in strides):
        args["stride"] = _one(strides)
    pads = _pads(attrs, shape[1:], kernel, strides, dilations, conv=not transposed)
    if transposed:
        if "output_shape" in attrs:
            raise Unsupported("a transposed convolution with output_shape")
        if any(bf != af for bf, af in pads):
            raise Unsupported(f"a transposed convolution with unequal padding {pads}")
        if any(bf for bf, _ in pads):
            args["padding"] = _one([bf for bf, _ in pads])
        output_padding = list(attrs.get("output_padding") or [0] * rank)
        if any(output_padding):
            args["output_padding"] = _one(output_padding)
    else:
        padding = _conv_padding(pads)
        if padding != 0:
            args["padding"] = padding
    if any(d != 1 for d in dilations):
        args["dilation"] = _one(dilations)
    if group != 1:
        args["groups"] = group
    if not bias:
        args["bias"] = False
    kind = _rank_kind("conv_transpose" if transposed else "conv", rank)
    return _outs(imp.emit(kind, args, [port], scope, weights))


def gemm(imp, node, ins, attrs, scope):
    a, b, c = ins[0], ins[1], ins[2] if len(ins) > 2 else None
    if attrs.get("transA", 0):
        raise Unsupported("Gemm with transA")
    if not isinstance(b, Const):
        raise Unsupported("a product of two computed tensors in Gemm")
    port = _live_in(imp, a, scope)
    if len(_sample(imp, port)) != 1:
        raise Unsupported("Gemm on a tensor that is not (batch, features)")
    out = b.shape[0] if attrs.get("transB", 0) else b.shape[1]
    bias = c is not None and not _is_zero(imp, c)
    weights = _learned(b, c if bias else None)
    args = {"out_features": exact(out)} | ({} if bias else {"bias": False})
    return _outs(imp.emit("linear", args, [port], scope, weights))


def linear(imp, x: Any, w: Const, bias: Any, scope) -> list:
    """``x @ w (+ bias)`` with a learned (in, out) matrix: a linear layer on the last axis."""
    if len(w.shape) != 2:
        raise Unsupported(f"a product with a constant of shape {list(w.shape)}")
    if not isinstance(x, Live):
        raise Unsupported("a product of constants")
    return [imp.builder.linear(x, exact(w.shape[1]), bias is not None, _learned(w, bias), scope)]


def matmul(imp, node, ins, attrs, scope):
    a, b = ins
    if isinstance(b, Const) and isinstance(a, Live):
        if not b.learned:
            raise Unsupported("a product with a constant matrix that is not a learned weight")
        return linear(imp, a, b, None, scope)
    if isinstance(a, Live) and isinstance(b, Live):
        return _outs(imp.emit("matmul", {}, [imp.live(a, scope), imp.live(b, scope)], scope))
    raise Unsupported("a product of a constant and a computed tensor")


def batch_norm(imp, node, ins, attrs, scope):
    x, scale, shift, mean, var = ins[:5]
    port = _live_in(imp, x, scope)
    rank = len(_sample(imp, port))
    if not all(isinstance(v, Const) for v in (scale, shift, mean, var)):
        raise Unsupported("batch norm whose statistics the network computes")
    affine = bool(scale.learned or shift.learned)
    args = {**norm_eps(attrs), **({} if affine else {"affine": False})}
    kind = "batch_norm1d" if rank <= 2 else _rank_kind("batch_norm", rank - 1)
    return _outs(imp.emit(kind, args, [port], scope, _learned(scale, shift, mean, var) if affine else _learned(mean, var)))[:1]


def layer_norm(imp, node, ins, attrs, scope):
    x, scale, shift = ins[0], ins[1], ins[2] if len(ins) > 2 else None
    if not isinstance(x, Live):
        raise Unsupported("layer norm of a constant")
    affine = isinstance(scale, Const) and bool(scale.learned)
    args = {**norm_eps(attrs), **({} if affine else {"elementwise_affine": False})}
    if not (affine and isinstance(shift, Const) and shift.learned):
        args["bias"] = False
    weights = _learned(scale if affine else None, shift if affine else None)
    full = imp.full_shape(x)
    first = attrs.get("axis", -1) % len(full)
    if first == 0:
        raise Unsupported("layer norm over the batch")
    return [imp.builder.layer_norm(x, full[first:], args, weights, scope)]


def instance_norm(imp, node, ins, attrs, scope):
    x, scale, shift = ins
    port = _live_in(imp, x, scope)
    channels = _sample(imp, port)[0]
    affine = isinstance(scale, Const) and bool(scale.learned)
    args = {"num_groups": exact(channels), **norm_eps(attrs), **({} if affine else {"affine": False})}
    port = imp.emit("group_norm", args, [port], scope, _learned(scale, shift) if affine else {})[0]
    return [Live(port)]


def group_norm(imp, node, ins, attrs, scope):
    x, scale, shift = ins
    port = _live_in(imp, x, scope)
    channels = _sample(imp, port)[0]
    groups = attrs["num_groups"]
    if isinstance(scale, Const) and scale.size not in (channels,):
        raise Unsupported(f"group normalization with a scale per group ({scale.size} values for {channels} channels)")
    affine = isinstance(scale, Const) and bool(scale.learned)
    args = {"num_groups": groups, **norm_eps(attrs), **({} if affine else {"affine": False})}
    return _outs(imp.emit("group_norm", args, [port], scope, _learned(scale, shift) if affine else {}))


def lrn(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    args = {"size": attrs["size"], "alpha": f32(attrs.get("alpha", 1e-4)), "beta": f32(attrs.get("beta", 0.75)), "k": f32(attrs.get("bias", 1.0))}
    return _outs(imp.emit("local_response_norm", args, [port], scope))


def pool(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    shape = _sample(imp, port)
    rank = len(shape) - 1
    kernel = list(attrs["kernel_shape"])
    strides = list(attrs.get("strides") or [1] * rank)
    dilations = list(attrs.get("dilations") or [1] * rank)
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    pads = _pads(attrs, shape[1:], kernel, strides, dilations, conv=False)
    padding, ceil_mode = _pool_padding(pads, shape[1:], kernel, strides, dilations, ceil_mode)
    is_max = node.op_type == "MaxPool"
    args: dict[str, Any] = {"kernel_size": _one(kernel), "stride": _one(strides)}
    if padding != 0:
        args["padding"] = padding
    if is_max and any(d != 1 for d in dilations):
        args["dilation"] = _one(dilations)
    if ceil_mode:
        args["ceil_mode"] = True
    if not is_max and not attrs.get("count_include_pad", 0) and padding != 0:
        args["count_include_pad"] = False
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("max pooling that also returns its indices")
    return _outs(imp.emit(_rank_kind("max_pool" if is_max else "avg_pool", rank), args, [port], scope))


def global_pool(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    return _outs(imp.emit("global_avg_pool" if node.op_type == "GlobalAveragePool" else "global_max_pool", {}, [port], scope))


def reduce(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    shape = _sample(imp, port)
    rank = len(shape) + 1
    axes = axes_of(imp, ins, attrs)
    keep = bool(attrs.get("keepdims", 1))
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return [Live(port)]
        raise Unsupported("a reduction over every axis, the batch too")
    dims = sorted(a % rank for a in axes)
    kind = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "amax"}[node.op_type]
    if dims == list(range(2, rank)) and kind in ("mean", "amax"):  # over every spatial axis: global pooling
        return _outs(imp.emit("global_avg_pool" if kind == "mean" else "global_max_pool", {} if keep else {"keepdim": False}, [port], scope))
    return _outs(imp.emit(kind, {"dim": dims if len(dims) > 1 else dims[0], **({"keepdim": True} if keep else {})}, [port], scope))


def clip(imp, node, ins, attrs, scope):
    low = attrs.get("min") if "min" in attrs else (imp.ints(ins[1], "the minimum")[0] if len(ins) > 1 and ins[1] is not None else None)
    high = attrs.get("max") if "max" in attrs else (imp.ints(ins[2], "the maximum")[0] if len(ins) > 2 and ins[2] is not None else None)
    if low == 0 and high == 6:
        return _unary("relu6")(imp, node, ins, attrs, scope)
    if low == 0 and high is None:
        return _unary("relu")(imp, node, ins, attrs, scope)
    raise Unsupported(f"Clip to [{low}, {high}]: no convcalc kind (relu is [0, inf), relu6 [0, 6])")


def hard_sigmoid(imp, node, ins, attrs, scope):
    if abs(attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(attrs.get("beta", 0.5) - 0.5) > 1e-6:
        raise Unsupported("HardSigmoid other than relu6(x + 3) / 6 (alpha 1/6, beta 1/2)")
    return _unary("hardsigmoid")(imp, node, ins, attrs, scope)


def softmax(imp, node, ins, attrs, scope):
    x = ins[0]
    if not isinstance(x, Live):
        raise Unsupported("softmax of a constant")
    rank = len(imp.full_shape(x))
    axis = attrs.get("axis", -1 if imp.opset >= 13 else 1) % rank
    if imp.opset < 13 and axis != rank - 1:
        raise Unsupported("softmax over the flattened trailing axes (opset < 13)")
    dim = _sample_axis(imp, x, axis)
    kind = "softmax" if node.op_type == "Softmax" else "log_softmax"
    port = imp.emit(kind, {"dim": dim} if dim != 1 else {}, [x.port], scope)[0]
    return [Live(port, x.layout, x.scope)]


def binary(imp, node, ins, attrs, scope):
    """Add and Mul of two computed tensors, or with a learned one (a layer scale, an embedding)."""
    op = node.op_type
    a, b = ins
    if isinstance(a, Const) and not isinstance(b, Const):
        a, b = b, a
    if op in ("Sub", "Div") and isinstance(ins[0], Live) and _is_identity(imp, ins[1], 0 if op == "Sub" else 1):
        return [ins[0]]
    kind = {"Add": "add", "Mul": "multiply"}.get(op)
    if kind is None:
        raise Unsupported(f"{op}: no convcalc kind")
    if isinstance(b, Live):
        if a.layout == b.layout and a.layout is not None:
            port = imp.emit(kind, {}, [a.port, b.port], scope)[0]
            return [Live(port, a.layout, a.scope)]
        return _outs(imp.emit(kind, {}, [imp.live(a, scope), imp.live(b, scope)], scope))
    if not b.learned:
        if _is_identity(imp, b, 1 if kind == "multiply" else 0) and len(b.shape) <= len(imp.full_shape(a)):
            return [a]  # times 1, plus 0: the same tensor (torch writes ELU's scales so, and a plain group norm's affine)
        raise Unsupported(f"{op} with a constant that is not a learned tensor: no convcalc kind")
    full = imp.full_shape(a)
    const = (1,) * (len(full) - len(b.shape)) + tuple(b.shape)
    if len(const) != len(full):
        raise Unsupported(f"{op} with a learned tensor of more axes than the input")
    if const[0] != 1:
        raise Unsupported(f"{op} with a learned tensor per batch element")
    channel_axis = a.layout.index(1) if a.layout else 1
    per_channel = all(d == 1 for i, d in enumerate(const) if i != channel_axis) and const[channel_axis] == full[channel_axis]
    if kind == "multiply" and per_channel:
        port = imp.emit("layer_scale", {}, [a.port], scope, dict(b.learned))[0]
        return [Live(port, a.layout, a.scope)]
    port = imp.live(a, scope)
    sample = list(const[1:])
    if kind == "add" and tuple(sample) != tuple(_sample(imp, port)):
        raise Unsupported(f"adding a learned tensor of shape {list(b.shape)} that broadcasts: no convcalc kind")
    param = imp.emit("parameter", {"shape": [exact(d) for d in sample]}, [], scope, dict(b.learned), refs=[port])[0]
    return _outs(imp.emit(kind, {}, [port, param], scope))


def concat(imp, node, ins, attrs, scope):
    ports = []
    first = next((v for v in ins if isinstance(v, Live)), None)
    rank = len(imp.full_shape(first))
    axis = attrs["axis"] % rank
    if axis != 1:
        raise Unsupported(f"concat along axis {axis}: convcalc's concat joins the channels (axis 1)")
    for v in ins:
        if v is None:
            continue
        if isinstance(v, Live):
            ports.append(imp.live(v, scope))
        elif v.learned and len(v.shape) == rank:
            ports.append(imp.emit("parameter", {"shape": [exact(d) for d in v.shape[1:]]}, [], scope, dict(v.learned), refs=[ports[0] if ports else imp.live(first, scope)])[0])
        else:
            raise Unsupported("concat with a constant that is not a learned tensor")
    if len(ports) == 1:
        return [Live(ports[0])]
    return _outs(imp.emit("concat", {}, ports, scope))


def split(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    full = (imp.batch, *_sample(imp, port))
    axis = attrs.get("axis", 0) % len(full)
    sizes = attrs.get("split") or (imp.ints(ins[1], "the split sizes") if len(ins) > 1 and ins[1] is not None else None)
    if sizes is None:
        n = attrs.get("num_outputs", len(node.output))
        size = full[axis]
        if not is_int(size):
            raise Unsupported("an even split of a symbolic size")
        step = -(-size // n)
        sizes = [min(step, size - s) for s in range(0, size, step)]
    return _outs(imp.emit("split", {"split_size_or_sections": [int(s) for s in sizes], "dim": axis}, [port], scope))


def slice_(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    starts = imp.ints(ins[1], "the starts")
    ends = imp.ints(ins[2], "the ends")
    full = (imp.batch, *_sample(imp, port))
    axes = imp.ints(ins[3], "the axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = imp.ints(ins[4], "the steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= len(full)
        size = full[axis] if axis == 0 else _sample(imp, port)[axis - 1]
        if step != 1:
            raise Unsupported(f"a slice with step {step}")
        if not is_int(size):
            if start == 0 and end >= INT64_MAX // 2:
                continue
            raise Unsupported("a slice of a symbolic size")
        begin = max(0, min(size, start + size if start < 0 else start))
        stop = max(0, min(size, end + size if end < 0 else end))
        if begin == 0 and stop == size:
            continue
        if axis == 0:
            raise Unsupported("a slice of the batch")
        port = imp.emit("narrow", {"dim": axis, "start": begin, "length": stop - begin}, [port], scope)[0]
    return [Live(port)]


def reshape(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    target = reshaped([imp.batch, *sample], imp.ints(ins[1], "the shape"), attrs.get("allowzero", 0))
    return [Live(imp.builder.reshape_to(port, target, scope))]


def flatten(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    axis = attrs.get("axis", 1) % (len(sample) + 1)
    if axis != 1 and prod(sample[: axis - 1]) != 1:
        raise Unsupported(f"Flatten at axis {axis}: it folds the batch into the rows")
    if len(sample) == 1:
        return [Live(port)]
    return _outs(imp.emit("flatten", {}, [port], scope))


def transpose(imp, node, ins, attrs, scope):
    x = ins[0]
    if not isinstance(x, Live):
        raise Unsupported("a transpose of a constant")
    rank = len(imp.full_shape(x))
    return [imp.builder.transposed(x, list(attrs.get("perm") or reversed(range(rank))), scope)]


def squeeze(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    full = [imp.batch, *sample]
    axes = axes_of(imp, ins, attrs)
    if axes is not None and any(a % (len(full) + (len(axes) if node.op_type == "Unsqueeze" else 0)) == 0 for a in axes):
        raise Unsupported(f"{node.op_type} of the batch axis")
    target = squeezed(full, axes if axes is not None else [i for i, d in enumerate(full) if d == 1 and i > 0], node.op_type == "Unsqueeze")
    return [Live(imp.builder.reshape_to(port, target, scope))]


def expand(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    target = imp.ints(ins[1], "the shape")
    full = (imp.batch, *sample)
    rank = max(len(full), len(target))
    padded = (1,) * (rank - len(full)) + full
    wanted = (1,) * (rank - len(target)) + tuple(target)
    out = [w if (d == 1 and w != 1) else d for d, w in zip(padded, wanted)]
    if rank != len(full) or out[0] != full[0]:
        raise Unsupported("an expand that adds axes or changes the batch")
    if tuple(out[1:]) == tuple(sample):
        return [Live(port)]
    return _outs(imp.emit("expand", {"sizes": [int(d) for d in out[1:]]}, [port], scope))


def gather(imp, node, ins, attrs, scope):
    data, indices = ins
    if not isinstance(data, Live):
        raise Unsupported("a lookup in a learned table (an embedding): no convcalc kind")
    port = imp.live(data, scope)
    full = (imp.batch, *_sample(imp, port))
    axis = attrs.get("axis", 0) % len(full)
    index = imp.ints(indices, "the indices")
    if axis == 0:
        raise Unsupported("a gather along the batch")
    if isinstance(indices, Const) and indices.shape == ():
        return _outs(imp.emit("select", {"dim": axis, "index": index[0]}, [port], scope))
    if len(index) > 1 and index == list(range(index[0], index[0] + len(index))) and len(indices.shape) == 1:
        return _outs(imp.emit("narrow", {"dim": axis, "start": index[0], "length": len(index)}, [port], scope))
    raise Unsupported("a gather of scattered indices: no convcalc kind")


def resize(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    rank = len(sample) - 1
    mode = attrs.get("mode", "nearest")
    kind_mode = {"nearest": "nearest", "cubic": "bicubic"}.get(mode) or {1: "linear", 2: "bilinear", 3: "trilinear"}.get(rank) if mode != "nearest" else "nearest"
    if mode == "cubic" and rank != 2:
        raise Unsupported("cubic resize of other than two spatial axes")
    args: dict[str, Any] = {"mode": kind_mode}
    if attrs.get("coordinate_transformation_mode") == "align_corners" and kind_mode != "nearest":
        args["align_corners"] = True
    scales = ins[2] if len(ins) > 2 else (ins[1] if node.op_type == "Upsample" else None)
    sizes = ins[3] if len(ins) > 3 else None
    if isinstance(sizes, Const) and sizes.size:
        wanted = imp.ints(sizes, "the sizes")
        if len(wanted) != len(sample) + 1 or wanted[1] != sample[0]:
            raise Unsupported("a resize of the batch or the channels")
        args["size"] = _one(wanted[2:])
    elif isinstance(scales, Const) and scales.size:
        factors = [f32(float(f)) for f in imp.const(scales, "the scales").reshape(-1).tolist()]
        if factors[:2] != [1.0, 1.0]:
            raise Unsupported("a resize of the batch or the channels")
        args["scale_factor"] = _one([int(f) if f.is_integer() else f for f in factors[2:]])
    else:
        raise Unsupported("a resize whose size the network computes")
    return _outs(imp.emit("upsample", args, [port], scope))


def pad(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    sample = _sample(imp, port)
    rank = len(sample) + 1
    pads = list(attrs["pads"]) if "pads" in attrs else imp.ints(ins[1], "the pads")
    axes = imp.ints(ins[3], "the axes") if len(ins) > 3 and ins[3] is not None else list(range(rank))
    per_axis = {a % rank: (pads[i], pads[i + len(axes)]) for i, a in enumerate(axes)}
    if any(per_axis.get(a, (0, 0)) != (0, 0) for a in (0, 1)):
        raise Unsupported("padding of the batch or the channels")
    pairs = [per_axis.get(a, (0, 0)) for a in range(2, rank)]
    if any(b < 0 or a < 0 for b, a in pairs):
        raise Unsupported("negative padding (a crop)")
    if all(p == (0, 0) for p in pairs):
        return [Live(port)]
    padding = _one([b for b, _ in pairs]) if all(b == a for b, a in pairs) else [[b, a] for b, a in pairs]
    return _outs(imp.emit("zero_pad", {"padding": padding}, [port], scope))


def split_to_sequence(imp, node, ins, attrs, scope):
    """``torch.split`` as torch.onnx writes it: a sequence of the pieces (read by SequenceAt)."""
    if attrs.get("keepdims", 1) == 0:
        raise Unsupported("SplitToSequence without keepdims")
    port = _live_in(imp, ins[0], scope)
    full = (imp.batch, *_sample(imp, port))
    axis = attrs.get("axis", 0) % len(full)
    size = full[axis]
    given = imp.ints(ins[1], "the split sizes") if len(ins) > 1 and ins[1] is not None else [1]
    if not is_int(size):
        raise Unsupported("a split of a symbolic size")
    if len(given) == 1 and (len(ins[1].shape) == 0 if isinstance(ins[1], Const) else True):
        step = given[0]
        given = [min(step, size - s) for s in range(0, size, step)]
    ports = imp.emit("split", {"split_size_or_sections": [int(s) for s in given], "dim": axis}, [port], scope)
    return [Pieces([Live(p) for p in ports])]


def sequence_at(imp, node, ins, attrs, scope):
    seq = ins[0]
    if not isinstance(seq, Pieces):
        raise Unsupported("SequenceAt of a sequence convcalc did not read")
    return [seq.items[imp.ints(ins[1], "the position")[0]]]


def depth_to_space(imp, node, ins, attrs, scope):
    port = _live_in(imp, ins[0], scope)
    kind = "pixel_shuffle" if node.op_type == "DepthToSpace" else "pixel_unshuffle"
    name = "upscale_factor" if kind == "pixel_shuffle" else "downscale_factor"
    return _outs(imp.emit(kind, {name: attrs["blocksize"]}, [port], scope))


def passthrough(imp, node, ins, attrs, scope):
    """Identity, Dropout (at inference), Cast: the same tensor, no layer; but a dropout module of
    the source (PyTorch exports it in eval mode as an Identity) stays a row, as in ``print(model)``."""
    x = ins[0]
    if node.op_type in ("Identity", "Dropout") and isinstance(x, Live) and scope.classes and scope.classes[-1].startswith("Dropout"):
        return _outs(imp.emit("dropout", {}, [imp.live(x, scope)], scope)) + [None] * (len(node.output) - 1)
    return [x] + [None] * (len(node.output) - 1)


HANDLERS: dict[str, Callable] = {
    "Conv": conv, "ConvTranspose": conv, "Gemm": gemm, "MatMul": matmul,
    "BatchNormalization": batch_norm, "InstanceNormalization": instance_norm, "LayerNormalization": layer_norm,
    "GroupNormalization": group_norm, "LRN": lrn,
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"), "HardSwish": _unary("hardswish"),
    "HardSigmoid": hard_sigmoid, "Clip": clip,
    "Gelu": _unary("gelu", approximate=lambda a: "tanh" if a.get("approximate") == "tanh" else None),
    "LeakyRelu": _unary("leaky_relu", negative_slope=lambda a: f32(a["alpha"]) if "alpha" in a and f32(a["alpha"]) != 0.01 else None),
    "Elu": _unary("elu", alpha=lambda a: f32(a["alpha"]) if "alpha" in a and f32(a["alpha"]) != 1.0 else None),
    "Softmax": softmax, "LogSoftmax": softmax,
    "MaxPool": pool, "AveragePool": pool, "GlobalAveragePool": global_pool, "GlobalMaxPool": global_pool,
    "ReduceMean": reduce, "ReduceSum": reduce, "ReduceMax": reduce,
    "Add": binary, "Mul": binary, "Sub": binary, "Div": binary,
    "Concat": concat, "Split": split, "Slice": slice_, "Reshape": reshape, "Flatten": flatten, "Transpose": transpose,
    "Squeeze": squeeze, "Unsqueeze": squeeze, "Expand": expand, "Gather": gather, "Resize": resize, "Upsample": resize, "Pad": pad,
    "Identity": passthrough, "Dropout": passthrough, "Cast": passthrough, "CastLike": passthrough,
    "SplitToSequence": split_to_sequence, "SequenceAt": sequence_at, "DepthToSpace": depth_to_space, "SpaceToDepth": depth_to_space,
}
