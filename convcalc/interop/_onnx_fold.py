"""ONNX constants computed at import (:func:`fold`): the shape subgraphs exporters write
(``Shape -> Gather -> Concat -> Reshape``), constants, casts, slices and splits of them, so that a
reshape's target is a number. numpy (which the onnx package brings) is imported when first needed.
"""

from __future__ import annotations

from typing import Any, Callable

from convcalc.arith.dims import floor_div, prod
from convcalc.interop._imported import Unsupported
from convcalc.interop._onnx_values import MAX_FOLDED, Const, exact

__all__ = ["INT64_MAX", "axes_of", "fold", "np_module", "reshaped", "squeezed"]

INT64_MAX = 2**63 - 1
_FRESH = {"Shape", "Size", "ConstantOfShape", "Range", "Equal", "Less", "Greater", "Not", "And", "Or"}  # their values are no weights



def np_module():
    import numpy as np

    return np


def _array(values: list) -> Any:
    """A list of dims as an array: int64, or object when a dim is a symbol."""
    np = np_module()
    return np.array(values, dtype=object if any(not isinstance(v, int) for v in values) else np.int64)


def fold(imp, node, op: str, ins: list, attrs: dict) -> list:
    """The outputs of a node that computes constants (or reads a tensor's shape), as Consts."""
    learned: dict = {}
    if op not in _FRESH:
        for v in ins:
            if isinstance(v, Const):
                learned.update(v.learned)
    try:
        values = _evaluate(imp, op, ins, attrs, len(node.output))
    except (Unsupported, ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError):
        values = None
    if values is not None:
        return [Const(tuple(v.shape), v if v.size <= MAX_FOLDED else None, dict(learned)) for v in values]
    shape = _shape_only(imp, op, ins, attrs)
    if shape is None:
        return [imp.recorded_const(name, ins) for name in node.output]
    return [Const(tuple(shape), None, dict(learned))]


def _shape_only(imp, op: str, ins: list, attrs: dict):
    """The shape of a constant convcalc does not compute (a weight transposed, cast or reshaped)."""
    if not ins or not isinstance(ins[0], Const):
        return None
    shape = list(ins[0].shape)
    if op in ("Identity", "Cast", "CastLike", "Neg", "Abs", "Sqrt"):
        return shape
    if op == "Transpose":
        perm = attrs.get("perm") or list(reversed(range(len(shape))))
        return [shape[p] for p in perm]
    if op == "Reshape":
        try:
            return reshaped(shape, imp.ints(ins[1], "the shape"), attrs.get("allowzero", 0))
        except Unsupported:
            return None
    if op in ("Unsqueeze", "Squeeze"):
        axes = axes_of(imp, ins, attrs)
        return squeezed(shape, axes, op == "Unsqueeze")
    return None


def axes_of(imp, ins: list, attrs: dict):
    if "axes" in attrs:
        return list(attrs["axes"])
    if len(ins) > 1 and ins[1] is not None:
        return imp.ints(ins[1], "the axes")
    return None


def squeezed(shape: list, axes, unsqueeze: bool) -> list:
    if unsqueeze:
        out = list(shape)
        rank = len(shape) + len(axes)
        for a in sorted(a % rank for a in axes):
            out.insert(a, 1)
        return out
    if axes is None:
        return [d for d in shape if d != 1]
    drop = {a % len(shape) for a in axes}
    return [d for i, d in enumerate(shape) if i not in drop]


def reshaped(shape: list, target: list, allowzero: int) -> list:
    out = [shape[i] if (t == 0 and not allowzero and i < len(shape)) else t for i, t in enumerate(target)]
    if out.count(-1) > 1:
        raise Unsupported(f"reshape to {target}: more than one -1")
    if -1 in out:
        known = prod(d for d in out if d != -1)
        out[out.index(-1)] = floor_div(prod(shape), known)
    return out


def _evaluate(imp, op: str, ins: list, attrs: dict, n_out: int):
    """Compute a constant-only node with numpy; Unsupported when convcalc does not."""
    np = np_module()
    if op == "Shape":
        shape = list(imp.full_shape(ins[0]))
        start, end = attrs.get("start", 0), attrs.get("end", len(shape))
        return [_array(shape[start:end])]
    if op == "Size":
        return [_array([prod(imp.full_shape(ins[0]))]).reshape(())]
    if op == "Constant":
        return [_constant(attrs)]
    vals = [None if v is None else np.asarray(imp.const(v, "an input")) for v in ins]
    a = vals[0] if vals else None
    if op in ("Identity", "CastLike"):
        return [a]
    if op == "Cast":
        return [_cast(a, attrs["to"])]
    if op == "Reshape":
        return [a.reshape([_int(d) for d in reshaped(list(a.shape), [exact(t) for t in vals[1].reshape(-1).tolist()], attrs.get("allowzero", 0))])]
    if op in ("Squeeze", "Unsqueeze"):
        return [a.reshape(squeezed(list(a.shape), axes_of(imp, ins, attrs), op == "Unsqueeze"))]
    if op == "Flatten":
        axis = attrs.get("axis", 1) % max(a.ndim, 1)
        return [a.reshape(int(np.prod(a.shape[:axis])), -1)]
    if op == "Concat":
        return [np.concatenate([v.reshape(v.shape or (1,)) if v.ndim == 0 else v for v in vals if v is not None], axis=attrs["axis"])]
    if op == "Gather":
        return [np.take(a, vals[1].astype(np.int64) if vals[1].dtype != object else vals[1], axis=attrs.get("axis", 0))]
    if op == "Slice":
        return [_slice(a, [v.reshape(-1).tolist() if v is not None else None for v in vals[1:]], attrs)]
    if op == "Transpose":
        return [np.transpose(a, attrs.get("perm"))]
    if op == "Expand":
        target = [_int(d) for d in vals[1].reshape(-1).tolist()]
        return [a * np.ones(np.broadcast_shapes(a.shape, tuple(target)), dtype=a.dtype if a.dtype != object else np.int64)]
    if op == "ConstantOfShape":
        fill = np.asarray(_constant(attrs)).reshape(-1)[0] if "value" in attrs else np.float32(0)
        shape = [_int(d) for d in a.reshape(-1).tolist()]
        if prod(shape) > MAX_FOLDED:
            raise Unsupported("a large constant")
        return [np.full(shape, fill)]
    if op == "Range":
        return [np.arange(a.item(), vals[1].item(), vals[2].item())]
    if op == "Split":
        return _split(imp, a, ins, attrs, n_out)
    binary: dict[str, Callable] = {
        "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal, "Less": np.less, "Greater": np.greater,
        "And": np.logical_and, "Or": np.logical_or, "Min": np.minimum, "Max": np.maximum, "Pow": np.power, "Mod": np.mod,
    }
    if op in binary:
        out = vals[0]
        for v in vals[1:]:
            out = binary[op](out, v)
        return [np.asarray(out)]
    if op == "Div":
        if a.dtype.kind in "iu" and vals[1].dtype.kind in "iu":
            return [np.trunc(a / vals[1]).astype(a.dtype)]
        if a.dtype == object or vals[1].dtype == object:
            return [np.vectorize(floor_div, otypes=[object])(a, vals[1])]
        return [np.divide(a, vals[1])]
    unary = {"Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Floor": np.floor, "Ceil": np.ceil, "Not": np.logical_not, "Sign": np.sign}
    if op in unary:
        return [unary[op](a)]
    if op == "Where":
        return [np.where(vals[0], vals[1], vals[2])]
    if op in ("ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin"):
        axes = axes_of(imp, ins, attrs)
        fn = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min}[op]
        return [np.asarray(fn(a, axis=None if axes is None else tuple(axes), keepdims=bool(attrs.get("keepdims", 1))))]
    if op == "Tile":
        return [np.tile(a, [_int(d) for d in vals[1].reshape(-1).tolist()])]
    raise Unsupported(f"convcalc does not compute {op} on constants")


def _int(value: Any) -> int:
    value = exact(value)
    if not isinstance(value, int):
        raise Unsupported(f"a size {value} that is not a number")
    return value


def _constant(attrs: dict) -> Any:
    np = np_module()
    from onnx import numpy_helper

    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    if "value_float" in attrs:
        return np.array(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.array(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.array(attrs["value_ints"], dtype=np.int64)
    raise Unsupported("a constant that is not a number")


def _cast(a: Any, to: int) -> Any:
    if a.dtype == object:
        return a
    from onnx import helper

    try:
        dtype = helper.tensor_dtype_to_np_dtype(to)
    except (KeyError, ValueError):
        raise Unsupported(f"a cast to ONNX type {to}") from None
    return a.astype(dtype)


def _slice(a: Any, parts: list, attrs: dict) -> Any:
    starts, ends = parts[0], parts[1]
    axes = parts[2] if len(parts) > 2 and parts[2] is not None else list(range(len(starts)))
    steps = parts[3] if len(parts) > 3 and parts[3] is not None else [1] * len(starts)
    index = [slice(None)] * a.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax) % a.ndim] = slice(int(s), int(min(e, INT64_MAX)), int(st))
    return a[tuple(index)]


def _split(imp, a: Any, ins: list, attrs: dict, n_out: int) -> list:
    np = np_module()
    axis = attrs.get("axis", 0)
    sizes = attrs.get("split") or (imp.ints(ins[1], "the split sizes") if len(ins) > 1 and ins[1] is not None else None)
    if sizes is None:
        return list(np.array_split(a, n_out, axis=axis))
    return list(np.split(a, np.cumsum(sizes)[:-1], axis=axis))
