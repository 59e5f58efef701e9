"""Hypothesis strategies: one random layer and a random input for it, valid or not.

Each strategy draws a :class:`LayerCase`: a layer kind, its arguments as a spec writes them, and a
channels-first input shape (no batch). Sizes are small (the parity tests run the layer on real
tensors), and the arguments are drawn across their whole range, so that many cases are invalid:
a kernel larger than the padded input, groups that do not divide the channels, pool padding over
half the window, output_padding not below the stride, a scale that rounds the output to 0, ...
The tests ask convcalc and PyTorch about each case and need them to agree, errors included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "LayerCase",
    "adaptive_pools",
    "conv_transposes",
    "convs",
    "group_norms",
    "layer_spec",
    "linears",
    "pools",
    "rf_nets",
    "upsamples",
    "zero_pads",
]

MAX_SIZE = {1: 16, 2: 12, 3: 6}  # largest input size per spatial axis, by spatial rank


@dataclass(frozen=True)
class LayerCase:
    kind: str
    args: dict[str, Any]
    input: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.kind} {self.args} on {list(self.input)}"


def layer_spec(case: LayerCase) -> dict:
    """A one-layer spec for the case."""
    return {"name": "case", "input": list(case.input), "layers": [{case.kind: case.args}]}


def _per_axis(values: st.SearchStrategy, rank: int) -> st.SearchStrategy:
    """An int, or one value per spatial axis (a list)."""
    return st.one_of(values, st.lists(values, min_size=rank, max_size=rank))


def _spatial(rank: int) -> st.SearchStrategy:
    return st.tuples(*[st.integers(1, MAX_SIZE[rank])] * rank)


@st.composite
def _padding(draw, rank: int) -> Any:
    """int, per-axis ints, explicit [before, after] pairs (mixed with ints), 'valid' or 'same'."""
    sizes = st.integers(0, 3)
    pair = st.lists(sizes, min_size=2, max_size=2)
    return draw(st.one_of(
        sizes,
        st.lists(sizes, min_size=rank, max_size=rank),
        st.lists(st.one_of(sizes, pair), min_size=rank, max_size=rank),
        st.sampled_from(["valid", "same"]),
    ))


@st.composite
def convs(draw) -> LayerCase:
    rank = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = draw(st.integers(1, 6))
    args: dict[str, Any] = {
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(_per_axis(st.integers(1, 4), rank)),
    }
    for key, values in (("stride", st.integers(1, 3)), ("dilation", st.integers(1, 3))):
        if draw(st.booleans()):
            args[key] = draw(_per_axis(values, rank))
    if draw(st.booleans()):
        args["padding"] = draw(_padding(rank))
    if groups != 1:
        args["groups"] = groups
    if draw(st.booleans()):
        args["bias"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        args["padding_mode"] = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    return LayerCase(f"conv{rank}d", args, (c_in, *draw(_spatial(rank))))


@st.composite
def conv_transposes(draw) -> LayerCase:
    rank = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    args: dict[str, Any] = {
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(_per_axis(st.integers(1, 4), rank)),
    }
    for key, values in (
        ("stride", st.integers(1, 3)), ("padding", st.integers(0, 3)),
        ("output_padding", st.integers(0, 2)), ("dilation", st.integers(1, 3)),
    ):
        if draw(st.booleans()):
            args[key] = draw(_per_axis(values, rank))
    if groups != 1:
        args["groups"] = groups
    return LayerCase(f"conv_transpose{rank}d", args, (draw(st.integers(1, 6)), *draw(_spatial(rank))))


@st.composite
def pools(draw) -> LayerCase:
    rank = draw(st.integers(1, 3))
    op = draw(st.sampled_from(["max", "avg"]))
    args: dict[str, Any] = {"kernel_size": draw(_per_axis(st.integers(1, 4), rank))}
    if draw(st.booleans()):
        args["stride"] = draw(_per_axis(st.integers(1, 3), rank))
    if draw(st.booleans()):
        args["padding"] = draw(_per_axis(st.integers(0, 2), rank))
    if draw(st.booleans()):
        args["ceil_mode"] = draw(st.booleans())
    if op == "max" and draw(st.booleans()):
        args["dilation"] = draw(_per_axis(st.integers(1, 3), rank))
    if op == "avg" and draw(st.booleans()):
        args["count_include_pad"] = draw(st.booleans())
    if op == "avg" and rank > 1 and draw(st.booleans()):  # nn.AvgPool1d has no divisor_override
        args["divisor_override"] = draw(st.integers(1, 4))
    return LayerCase(f"{op}_pool{rank}d", args, (draw(st.integers(1, 3)), *draw(_spatial(rank))))


@st.composite
def adaptive_pools(draw) -> LayerCase:
    rank = draw(st.integers(1, 3))
    op = draw(st.sampled_from(["max", "avg"]))
    sizes = st.integers(1, 8)
    output_size = draw(st.one_of(sizes, st.lists(st.one_of(sizes, st.none()), min_size=rank, max_size=rank)))
    return LayerCase(f"adaptive_{op}_pool{rank}d", {"output_size": output_size}, (draw(st.integers(1, 3)), *draw(_spatial(rank))))


@st.composite
def linears(draw) -> LayerCase:
    args: dict[str, Any] = {"out_features": draw(st.integers(1, 24))}
    if draw(st.booleans()):
        args["bias"] = draw(st.booleans())
    features = draw(st.integers(1, 24))
    layout = draw(st.sampled_from(["flat", "channels", "last"]))
    if layout == "flat":
        return LayerCase("linear", args, (features,))
    args["axis"] = layout
    return LayerCase("linear", args, (features, *draw(_spatial(draw(st.integers(1, 2))))))


_MODES = {1: ["nearest", "linear"], 2: ["nearest", "bilinear", "bicubic"], 3: ["nearest", "trilinear"]}
# two decimals, as people write them: PyTorch's double product floors 100 * 0.29 to 28
_FACTORS = st.one_of(st.integers(1, 3), st.integers(1, 400).map(lambda hundredths: hundredths / 100))
_UPSAMPLE_SIZE = {1: 300, 2: 24, 3: 8}  # long 1-d inputs reach the products that round down


@st.composite
def _whole_products(draw) -> tuple[float, int]:
    """A two-decimal scale and a size whose product is a whole number, such as 0.29 and 100: the
    double product may fall just below it (28.999999999999996), and PyTorch floors that."""
    hundredths = draw(st.integers(1, 400))
    step = 100 // math.gcd(hundredths, 100)
    return hundredths / 100, step * draw(st.integers(1, max(1, _UPSAMPLE_SIZE[1] // step)))


@st.composite
def upsamples(draw) -> LayerCase:
    if draw(st.integers(0, 3)) == 0:
        scale, size = draw(_whole_products())
        return LayerCase("upsample", {"scale_factor": scale}, (1, size))
    rank = draw(st.integers(1, 3))
    args: dict[str, Any] = {"mode": draw(st.sampled_from(_MODES[rank]))}
    if draw(st.booleans()):
        args["scale_factor"] = draw(_per_axis(_FACTORS, rank))
    else:
        args["size"] = draw(_per_axis(st.integers(1, 2 * MAX_SIZE[rank]), rank))
    if draw(st.integers(0, 3)) == 0:
        args["align_corners"] = draw(st.booleans())
    spatial = draw(st.tuples(*[st.integers(1, _UPSAMPLE_SIZE[rank])] * rank))
    return LayerCase("upsample", args, (draw(st.integers(1, 3)), *spatial))


@st.composite
def zero_pads(draw) -> LayerCase:
    """Zero padding per axis, negative sizes included: PyTorch crops those (F.pad)."""
    rank = draw(st.integers(1, 3))
    pads = [[draw(st.integers(-4, 3)), draw(st.integers(-4, 3))] for _ in range(rank)]
    padding = draw(st.sampled_from([pads, draw(st.integers(-2, 2))]))
    return LayerCase("zero_pad", {"padding": padding}, (draw(st.integers(1, 2)), *draw(_spatial(rank))))


@st.composite
def group_norms(draw) -> LayerCase:
    """Group norm on small inputs: one value per group (refused by PyTorch) comes up often."""
    groups = draw(st.integers(1, 4))
    channels = groups * draw(st.integers(1, 2)) if draw(st.integers(0, 4)) else draw(st.integers(1, 6))
    spatial = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2))))
    return LayerCase("group_norm", {"num_groups": groups}, (channels, *spatial))


# -- random networks for the receptive-field oracle (tests/rf_oracle.py) --------------------------

RF_MAX_SIZE = {1: 48, 2: 12}  # largest size of any tensor along an axis, by spatial rank
RF_SCALES = (2, 3, 4, 0.5, 1.5, 2.5, 0.75, 1.7, 0.3, 2.05)


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling output size (ceil_mode: the last window must start inside the input or the left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


@st.composite
def _rf_layer(draw, sizes: tuple[int, ...], rank: int, pads: bool = True) -> tuple[dict, tuple[int, ...]] | None:
    """One layer that the sizes admit, and the sizes after it (None: nothing fits)."""
    n_kinds = ["conv", "conv_transpose", "pool", "upsample", "zero_pad", "center_crop"]
    kind = draw(st.sampled_from(n_kinds if pads else ["conv", "pool", "upsample", "center_crop"]))
    suffix = f"{rank}d"
    axes = range(rank)
    if kind == "conv":
        k = [draw(st.integers(1, 4)) for _ in axes]
        s = [draw(st.integers(1, 3)) for _ in axes]
        d = [draw(st.integers(1, 3)) for _ in axes]
        pad = [[draw(st.integers(0, 3)), draw(st.integers(0, 3))] if pads else [0, 0] for _ in axes]
        out = tuple((n + b + a - di * (ki - 1) - 1) // si + 1 for n, (b, a), ki, si, di in zip(sizes, pad, k, s, d))
        item = {"kind": f"conv{suffix}", "kernel_size": k, "stride": s, "dilation": d, "padding": pad}
    elif kind == "conv_transpose":
        k = [draw(st.integers(1, 4)) for _ in axes]
        s = [draw(st.integers(1, 3)) for _ in axes]
        d = [draw(st.integers(1, 2)) for _ in axes]
        p = [draw(st.integers(0, 2)) for _ in axes]
        op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
        out = tuple((n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1 for n, ki, si, di, pi, oi in zip(sizes, k, s, d, p, op))
        item = {"kind": f"conv_transpose{suffix}", "kernel_size": k, "stride": s, "dilation": d, "padding": p, "output_padding": op}
    elif kind == "pool":
        k = [draw(st.integers(1, 4)) for _ in axes]
        s = [draw(st.integers(1, 3)) for _ in axes]
        p = [draw(st.integers(0, ki // 2)) if pads else 0 for ki in k]
        ceil = draw(st.booleans())
        op = draw(st.sampled_from(["max", "avg"]))
        d = [draw(st.integers(1, 2)) if op == "max" else 1 for _ in axes]
        if op == "max" and any(pi > (di * (ki - 1) + 1) // 2 for pi, di, ki in zip(p, d, k)):
            return None
        out = tuple(_pool_out(n, ki, si, pi, di, ceil) for n, ki, si, pi, di in zip(sizes, k, s, p, d))
        item = {"kind": f"{op}_pool{suffix}", "kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil}
        if op == "max":
            item["dilation"] = d
    elif kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "linear" if rank == 1 else "bilinear"]))
        item = {"kind": "upsample", "mode": mode}
        if mode != "nearest" and draw(st.booleans()):
            item["align_corners"] = draw(st.booleans())
        if draw(st.booleans()):
            scales = [draw(st.sampled_from(RF_SCALES)) for _ in axes]
            out = tuple(math.floor(n * f) for n, f in zip(sizes, scales))
            item["scale_factor"] = scales
        else:
            out = tuple(draw(st.integers(1, RF_MAX_SIZE[rank])) for _ in axes)
            item["size"] = list(out)
    elif kind == "zero_pad":
        pad = [[draw(st.integers(-3, 3)), draw(st.integers(-3, 3))] for _ in axes]
        if any(n + min(b, 0) + min(a, 0) < 0 for n, (b, a) in zip(sizes, pad)):
            return None
        out = tuple(n + b + a for n, (b, a) in zip(sizes, pad))
        item = {"kind": "zero_pad", "padding": pad}
    else:
        out = tuple(draw(st.integers(1, n)) for n in sizes)
        item = {"kind": "center_crop", "size": list(out)}
    if any(o < 1 or o > RF_MAX_SIZE[rank] for o in out):
        return None
    return item, out


@st.composite
def _rf_chain(draw, sizes: tuple[int, ...], rank: int, length: int, pads: bool = True) -> tuple[list, tuple[int, ...]]:
    items = []
    for _ in range(length):
        drawn = draw(_rf_layer(sizes, rank, pads))
        if drawn is not None:
            items.append(drawn[0])
            sizes = drawn[1]
    return items, sizes


@st.composite
def _rf_parallel(draw, sizes: tuple[int, ...], rank: int) -> tuple[list, tuple[int, ...]]:
    """Two branches merged: add (each branch starts with a convolution that keeps the size, padded
    unevenly, so the grids may be misaligned) or concat, centre-cropped to the smaller."""
    merge = draw(st.sampled_from(["add", "concat"]))
    branches, outs = [], []
    for _ in range(2):
        k = [draw(st.integers(1, 4)) for _ in range(rank)]
        d = [draw(st.integers(1, 2)) for _ in range(rank)]
        before = [draw(st.integers(0, di * (ki - 1))) for ki, di in zip(k, d)]
        first = {"kind": f"conv{rank}d", "kernel_size": k, "dilation": d, "padding": [[b, di * (ki - 1) - b] for b, ki, di in zip(before, k, d)]}
        rest, out = draw(_rf_chain(sizes, rank, draw(st.integers(0, 2)))) if merge == "concat" else ([], sizes)
        branches.append([first, *rest])
        outs.append(out)
    out = tuple(min(o) for o in zip(*outs))
    return [{"parallel": {"merge": merge, "crop": "center" if merge == "concat" else "none", "branches": branches}}], out


@st.composite
def rf_nets(draw, rank: int = 1, branched: bool = False) -> tuple[list, tuple[int, ...]]:
    """A random network of the receptive-field oracle's items, and its input's spatial size."""
    low = 4 if rank == 1 else 3
    spatial = tuple(draw(st.integers(low, 24 if rank == 1 else 9)) for _ in range(rank))
    items, sizes = [], spatial
    for _ in range(draw(st.integers(1, 3))):
        part, sizes = draw(_rf_parallel(sizes, rank) if branched and draw(st.booleans()) else _rf_chain(sizes, rank, draw(st.integers(1, 3))))
        items += part
    if not items:
        items, sizes = [{"kind": f"conv{rank}d", "kernel_size": 1}], sizes
    return items, spatial
