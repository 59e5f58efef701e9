"""Pooling: max / avg (1d, 2d, 3d), adaptive, and global."""

from __future__ import annotations

from math import gcd
from typing import Any, Callable, ClassVar, Optional, Union

from pydantic import StrictFloat, StrictInt

from convcalc.arith._exact import uneven_notes
from convcalc.arith.dims import Dim, Lazy, ceil_div, dmin, is_int, prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import (
    Bool,
    LayerError,
    LayerKind,
    PosInt,
    PosInts,
    Result,
    Tensor,
    Torch,
    Variants,
    as_tuple,
    need_positive,
    stride_period,
)
from convcalc.kinds._rf import adaptive_rf
from convcalc.kinds._window import Padding, axis_names, out_size, product_text, resolve_padding, window_reach, window_refielder

__all__ = ["AvgPool3d", "GlobalAvgPool", "GlobalMaxPool", "VARIANTS", "window_elements"]

MAX_CLIPPED_TAPS = 1 << 20
MAX_SYMBOLIC_TERMS = 64


def window_elements(size: Dim, out: Dim, kernel: int, stride: int, dilation: int, pad_before: int, ceil_mode: bool = False,
                    pad_after: Optional[int] = None) -> Dim:
    """Sum over the outputs along one axis of the input elements inside each window.

    Output ``i`` reads taps ``i*s - p + t*d`` for ``t`` in ``0..k-1``; a tap counts when it lands
    inside ``[0, size)``. Taps in the padding, or past the input (a ceil_mode window), do not.
    """
    if is_int(size) and is_int(out):
        return _window_elements_int(size, out, kernel, stride, dilation, pad_before)
    if kernel > MAX_CLIPPED_TAPS:
        raise LayerError("limit-kernel", f"kernel_size {kernel} is larger than {MAX_CLIPPED_TAPS} (limit MAX_CLIPPED_TAPS)", "kernel_size")
    after = pad_before if pad_after is None else pad_after
    return _window_elements_symbolic(size, out, kernel, stride, dilation, pad_before, window_reach(kernel, stride, dilation, (pad_before, after), ceil_mode))


def _window_elements_symbolic(size: Dim, out: Dim, kernel: int, stride: int, dilation: int, pad_before: int, reach: int) -> Dim:
    """``window_elements`` for a symbolic size ``n``, with ``out == ceil((n + reach) / s)``
    (``window_reach``: floor mode or ceil mode).

    The taps are grouped in integer arithmetic first, so that the formula has one term per
    distinct shape, not one per tap. On the sizes where the layer exists (``out >= 1``):

    - tap t with ``o = t*d - p < 0`` misses ``min(ceil(-o / s), out)`` outputs at the left; that
      is the constant when it is at most the smallest possible ``out``.
    - tap t with ``a = p - t*d < reach`` misses ``out - max(ceil((n + a) / s), 0)`` at the right
      (``out`` is the larger ceiling, so no outer max); taps with ``a >= reach`` miss none. The
      inner max goes when ``n + a > -s`` for the smallest n. ``ceil((n + a) / s)`` is
      ``ceil((n + a mod s) / s) + a // s``: one term per residue.
    """
    from convcalc.arith._symbolic import check_size, larger, lowest

    s, d, p = stride, dilation, pad_before
    out_low, size_low = max(lowest(out), 1), lowest(size)
    constant = 0
    out_coefficient = kernel
    mins: dict[int, int] = {}  # c -> taps missing min(c, out) outputs (c > the smallest out)
    residues: dict[int, int] = {}  # r -> taps giving back ceil((n + r) / s) (+ q in constant)
    clamped: dict[int, int] = {}  # a -> taps giving back max(ceil((n + a) / s), 0)
    left_taps = -(-p // d)  # t*d < p
    for t in range(left_taps):
        c = -(-(p - t * d) // s)
        if c <= out_low:
            constant -= c
        else:
            mins[c] = mins.get(c, 0) + 1
    for t in range(min(max((p - reach) // d + 1, 0), kernel), kernel):  # p - t*d < reach
        a = p - t * d
        out_coefficient -= 1
        if size_low + a > -s:
            q, r = divmod(a, s)
            residues[r] = residues.get(r, 0) + 1
            constant += q
        else:
            clamped[a] = clamped.get(a, 0) + 1
    terms = len(mins) + len(residues) + len(clamped)
    if terms > MAX_SYMBOLIC_TERMS:
        raise LayerError(
            "limit-expression",
            f"the FLOPs of this window on a symbolic size need {terms:,} separate terms, more than {MAX_SYMBOLIC_TERMS} (limit MAX_SYMBOLIC_TERMS); give the input size as a number",
            "kernel_size",
        )
    total = out_coefficient * out + constant
    for c, count in mins.items():
        total -= count * dmin(c, out)
    for r, count in residues.items():
        total += count * ceil_div(size + r, s)
    for a, count in clamped.items():
        total += count * larger(ceil_div(size + a, s), 0)
    check_size(total)
    return total


def _window_elements_int(size: int, out: int, kernel: int, stride: int, dilation: int, pad_before: int) -> int:
    """``window_elements`` on integers in O(log) time, not O(kernel): a crafted million-tap
    window repeated a thousand times must not hang. The same two sums, split where their ``min`` /
    ``max`` switch sides, the ceilings summed by :func:`_floor_sum`."""
    s, d, p = stride, dilation, pad_before
    # taps t < t_pad start in the left padding; for t < t_all every output's tap does
    t_pad = min(kernel, -(-p // d))
    t_all = min(max(-(-(p - (out - 1) * s) // d), 0), t_pad)
    before = t_all * out + _sum_ceil(p, d, s, t_all, t_pad)
    # taps t >= t_none land past the end for every output; from t_some on, for the last outputs
    t_none = min(max(-(-(size + p) // d), 0), kernel)
    t_some = min(max(-(-(size + p - (out - 1) * s) // d), 0), t_none)
    past = (kernel - t_some) * out - _sum_ceil(size + p, d, s, t_some, t_none)
    return out * kernel - before - past


def _sum_ceil(c: int, d: int, s: int, lo: int, hi: int) -> int:
    """``sum(ceil((c - t*d) / s) for t in range(lo, hi))``, every numerator positive."""
    if hi <= lo:
        return 0
    return _floor_sum(hi - lo, s, d, c - (hi - 1) * d + s - 1)


def _floor_sum(n: int, m: int, a: int, b: int) -> int:
    """``sum(floor((a*i + b) / m) for i in range(n))`` for a, b >= 0 (AtCoder Library's floor_sum)."""
    total = 0
    while True:
        if a >= m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        y_max = a * n + b
        if y_max < m:
            return total
        n, b, m, a = y_max // m, y_max % m, a, m


class _Pool(LayerKind):
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (peers.PT_POOL, peers.PT_POOL_TWICE, peers.PT_POOL_FUNCTION), "torchinfo": ()}
    kernel_size: PosInts
    stride: Optional[PosInts] = None
    padding: Padding = 0  # PyTorch's (an int, one per axis), or TensorFlow's 'same' / 'valid', or [before, after] pairs
    ceil_mode: Bool = False
    op: ClassVar[str]

    def _dilation(self, rank: int) -> tuple:
        return (1,) * rank

    def size_period(self) -> int:
        """As a convolution's: the output sizes (ceil_mode's too: ``window_reach``) repeat with the stride."""
        return stride_period(self.stride if self.stride is not None else self.kernel_size)

    def _window(self, x: Tensor) -> tuple[tuple, tuple, tuple, list]:
        """Kernel, stride, dilation and the (before, after) padding per spatial axis of ``x``."""
        rank = len(x.spatial)
        k = as_tuple(self.kernel_size, rank, "kernel_size")
        s = as_tuple(self.stride if self.stride is not None else self.kernel_size, rank, "stride")
        d = self._dilation(rank)
        return k, s, d, resolve_padding(self.padding, x.spatial, k, s, d)

    def refield(self, x: Tensor, result: Result) -> tuple:
        return self.refielder(x, result)(x.rf, x.is_global)

    def refielder(self, x: Tensor, result: Result) -> Callable[[Any, Any], tuple]:
        return window_refielder(*self._window(x), result.shape[1:])

    def infer(self, x: Tensor) -> Result:
        self.check_rank(x)
        k, s, d, pads = self._window(x)
        names = axis_names(len(x.spatial))
        spatial, texts, rf, windows = [], [], [], []
        for i, size in enumerate(x.spatial):
            if self.torch_padding():
                self._check_padding(pads[i][0], k[i], d[i])
            out, text = out_size(size, k[i], s[i], d[i], pads[i], self.ceil_mode, same=self.padding == "same")
            need_positive(out, Lazy(lambda name=names[i], text=text: f"window larger than the padded input along {name}: {name}_out = {text}"), "kernel_size", "shape-kernel-too-large")
            spatial.append(out)
            texts.append(text)
            windows.append(window_elements(size, out, k[i], s[i], d[i], pads[i][0], self.ceil_mode, pads[i][1]))
            if x.rf:
                rf.append(x.rf[i].through(k[i], s[i], d[i], pads[i][0], out))
        c = x.channels
        in_windows = c * prod(windows)
        outputs = c * prod(spatial)
        flops = in_windows - outputs if self.op == "max" else 2 * in_windows if self.op == "lp" else in_windows
        rounding = "ceil" if self.ceil_mode else "floor"

        def formulas() -> tuple[str, ...]:  # written only when asked for (explain, check)
            sizes = [
                f"{name}_out = {rounding}(({name}_in + {'2p' if before == after else 'p_before + p_after'} - d*(k-1) - 1) / s) + 1 = {text}"
                for name, text, (before, after) in zip(names, texts, pads)
            ]
            return (*sizes, _flops_text(self.op, names, c, windows, spatial, flops))

        return Result(shape=(c, *spatial), notes=uneven_notes(x.spatial, k, s, d, pads, names), flops=flops, rf=tuple(rf) if x.rf else None,
                      formulas=formulas, extra={"padding": [list(q) for q in pads]} if not self.torch_padding() else {})

    def torch_function(self, io) -> str:
        if not self.torch_padding():
            raise LayerError("export-unsupported", f"{self.kind} with padding {self.padding!r} as a function: PyTorch's take only symmetric ints")
        keys = ["kernel_size", "stride", "padding", "ceil_mode"] + (["dilation"] if self.op == "max" else ["count_include_pad", "divisor_override"])
        return f"F.{self.op}_pool{self.rank}d({{0}}{''.join(', ' + a for a in io.kw(*keys))})"

    def torch_padding(self) -> bool:
        """PyTorch's own padding: symmetric ints (its pools take no 'same' and no pairs)."""
        return isinstance(self.padding, int) or (isinstance(self.padding, list) and all(isinstance(v, int) for v in self.padding))

    def torch_pad_module(self, io) -> str | None:
        """The explicit pad before the pool for 'same' or [before, after] pairs (-inf for max
        pooling, so that the padding never wins; zeros for average pooling)."""
        if self.torch_padding() or self.padding == "valid":
            return None
        pads = io.out_shapes and resolve_padding(self.padding, io.in_shapes[0][1:], as_tuple(self.kernel_size, self.rank, "kernel_size"),
                                                 as_tuple(self.stride or self.kernel_size, self.rank, "stride"), self._dilation(self.rank))
        flat: list = []
        for before, after in reversed(list(pads)):
            flat += [before, after]
        value = 'float("-inf")' if self.op == "max" else "0.0"
        return f"nn.ConstantPad{self.rank}d({io.literal(tuple(flat))}, {value})"

    def torch_pooled(self, io, module: str) -> Torch:
        pad = self.torch_pad_module(io)
        return Torch(module=f"nn.Sequential({pad}, {module})" if pad else module)

    def _check_padding(self, pad: int, kernel: int, dilation: int) -> None:
        """PyTorch checks both ``pad <= (d*(k-1)+1) / 2`` and ``pad <= k / 2`` (ATen's Pool.h);
        the second binds: dilation does not raise the limit."""
        if pad > kernel // 2:
            raise LayerError("arg-pool-padding", f"padding {pad} is more than half the kernel ({kernel}); PyTorch allows at most {kernel // 2}", "padding")


def _flops_text(op: str, names: tuple, c: Dim, windows: list, spatial: list, flops: Dim) -> str:
    """Max: ``window - 1`` comparisons per output; avg: ``window`` operations (conventions: FLOPs).

    ``taps_X`` is the number of input elements inside the windows along X, summed over the outputs.
    """
    taps = "*".join(f"taps_{n}" for n in names)
    taps_values = product_text(windows)
    if op == "max":
        outs = "*".join(f"{n}_out" for n in names)
        return f"FLOPs = C*{taps} - C*{outs} = {c}*{taps_values} - {c}*{product_text(spatial)} = {flops} (window - 1 comparisons per output; taps: input elements inside the windows)"
    return f"FLOPs = C*{taps} = {c}*{taps_values} = {flops} (window adds and divides per output; taps: input elements inside the windows)"


class _MaxPool(_Pool):
    short: ClassVar[str] = "maxpool"
    dilation: PosInts = 1
    op: ClassVar[str] = "max"

    def _dilation(self, rank: int) -> tuple:
        return as_tuple(self.dilation, rank, "dilation")

    def torch(self, io) -> Torch:
        keys = ("kernel_size", "stride", *(("padding",) if self.torch_padding() else ()), "dilation", "ceil_mode")
        return self.torch_pooled(io, f"nn.MaxPool{self.rank}d({', '.join(io.kw(*keys))})")


class _AvgPool(_Pool):
    short: ClassVar[str] = "avgpool"
    count_include_pad: Bool = True
    op: ClassVar[str] = "avg"

    def torch(self, io) -> Torch:
        if self.rank == 1 and io.has("divisor_override"):
            raise LayerError("export-unsupported", "divisor_override on avg_pool1d (nn.AvgPool1d has none)", "divisor_override")
        keys = ("kernel_size", "stride", *(("padding",) if self.torch_padding() else ()), "ceil_mode", "count_include_pad", "divisor_override")
        return self.torch_pooled(io, f"nn.AvgPool{self.rank}d({', '.join(io.kw(*keys))})")






class AvgPool3d(_AvgPool):
    divisor_override: Optional[PosInt] = None
    kind: ClassVar[str] = "avg_pool3d"
    rank: ClassVar[int] = 3
    summary: ClassVar[str] = "3-d average pooling (nn.AvgPool3d)"

    def infer(self, x: Tensor) -> Result:
        """PyTorch's avg_pool3d also wants every input size, before padding, to be at least the
        kernel (ATen's ``pool3d_shape_check(..., check_input_size=true)``)."""
        self.check_rank(x)
        for name, size, kernel in zip(axis_names(3), x.spatial, as_tuple(self.kernel_size, 3, "kernel_size")):
            need_positive(
                size - kernel + 1, f"avg_pool3d needs {name}_in >= kernel_size before padding, as PyTorch checks: {size} < {kernel}",
                "kernel_size", "shape-kernel-too-large",
            )
        return super().infer(x)


class _LPPool(_Pool):
    """``nn.LPPool{1,2}d``: ``(sum of x**p over the window) ** (1/p)``, no padding. FLOPs per output:
    a power and an add per window element, and the root (2 * window, the window's adds counting
    one fewer and the root one more)."""

    norm_type: Union[StrictInt, StrictFloat]
    op: ClassVar[str] = "lp"
    short: ClassVar[str] = "pool"
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (), "torchinfo": ()}  # no hook, no handle; F.lp_pool is not patched

    def infer(self, x: Tensor) -> Result:
        if self.padding != 0:
            raise LayerError("arg-padding", f"{self.kind} takes no padding (PyTorch's LPPool has none)", "padding")
        return super().infer(x)

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.LPPool{self.rank}d({', '.join([io.arg('norm_type'), *io.kw('kernel_size', 'stride', 'ceil_mode')])})")




def adaptive_window_elements(size: Dim, out: int) -> Dim:
    """Sum of PyTorch's adaptive window sizes along one axis.

    Window ``i`` is ``[floor(i*n/m), ceil((i+1)*n/m))``; the sizes add up to ``n + m - gcd(n, m)``.
    """
    if is_int(size):
        return size + out - gcd(size, out)
    if out == 1:
        return size
    from convcalc.arith._symbolic import igcd

    return size + out - igcd(size, out)


class _Adaptive(LayerKind):
    output_size: Union[PosInt, list[Optional[PosInt]]]
    op: ClassVar[str]

    def size_period(self) -> int:
        """The output sizes are fixed (or the input's, for None) and there are no MACs."""
        return 1

    def infer(self, x: Tensor) -> Result:
        self.check_rank(x)
        rank = len(x.spatial)
        want = as_tuple(self.output_size, rank, "output_size")
        if rank == 1 and None in want:
            raise LayerError("arg-output-size", f"{self.kind} takes an int output_size; None (keep the size) is for 2-d and 3-d, as in PyTorch", "output_size")
        spatial = tuple(size if m is None else m for size, m in zip(x.spatial, want))
        windows = prod(adaptive_window_elements(n, m) for n, m in zip(x.spatial, spatial))
        c = x.channels
        flops = c * windows - (c * prod(spatial) if self.op == "max" else 0)
        rf = tuple(adaptive_rf(axis, n, m) for axis, n, m in zip(x.rf, x.spatial, spatial)) if x.rf else None
        sees_all = all(m == 1 for m in spatial)  # one window over everything: as global pooling

        def formulas() -> tuple[str, ...]:  # written only when asked for (explain, check)
            return tuple(line for name, n, m in zip(axis_names(rank), x.spatial, spatial) for line in _adaptive_text(name, n, m))

        return Result(shape=(c, *spatial), flops=flops, rf=rf, is_global=True if sees_all else None, formulas=formulas)

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.Adaptive{self.op.title()}Pool{self.rank}d({io.arg('output_size')})")

    def torch_function(self, io) -> str:
        return f"F.adaptive_{self.op}_pool{self.rank}d({{0}}, {io.arg('output_size')})"


def _adaptive_text(name: str, size: Dim, out: Dim) -> tuple[str, ...]:
    """PyTorch's variable windows, and the fixed window that reaches the same output size
    (walkthroughs.yaml ``adaptive_pooling``: ``s = floor(n / m)``, ``k = n - (m - 1) * s``)."""
    windows = (
        f"{name}_out = output_size = {out}; window i spans [floor(i*{name}_in/{name}_out), ceil((i+1)*{name}_in/{name}_out))"
        f" = [floor(i*{size}/{out}), ceil((i+1)*{size}/{out}))"
    )
    if not (is_int(size) and is_int(out)):
        return (windows,)
    stride = size // out
    fixed = (
        f"{name} fixed-window equivalent: s = floor({name}_in/{name}_out) = floor({size}/{out}) = {stride}, "
        f"k = {name}_in - ({name}_out-1)*s = {size} - ({out}-1)*{stride} = {size - (out - 1) * stride}"
    )
    return windows, fixed


def _adaptive(name: str, op: str, rank: int, summary: str) -> tuple:
    """The entry of :data:`VARIANTS` for an adaptive pooling kind."""
    fvcore = (peers.FV_ADAPTIVE_AVG,) if op == "avg" else ()
    compat = {"fvcore": fvcore, "ptflops": (peers.PT_POOL, peers.PT_POOL_TWICE, peers.PT_POOL_FUNCTION), "torchinfo": ()}
    return _Adaptive, name, {"op": op, "rank": rank, "summary": summary, "short": f"{op}pool", "compat": compat}, {}


class _Global(LayerKind):
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (peers.PT_POOL, peers.PT_POOL_TWICE, peers.PT_POOL_FUNCTION), "torchinfo": ()}
    keepdim: Bool = True
    op: ClassVar[str]

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        if not x.spatial:
            raise LayerError("shape-rank", f"{self.kind} needs spatial axes, got {x.shape}")
        c, n = x.channels, prod(x.spatial)
        shape = (c, *(1 for _ in x.spatial)) if self.keepdim else (c,)
        flops = c * n - (c if self.op == "max" else 0)
        rf = tuple(a.through(size, size, 1, 0, 1) for a, size in zip(x.rf, x.spatial)) if self.keepdim and x.rf else ()
        return Result(shape=shape, flops=flops, rf=rf, is_global=True)

    def torch(self, io) -> Torch:
        """An adaptive pool to 1 (then ``nn.Flatten`` unless ``keepdim``)."""
        if not 1 <= io.rank <= 3:
            raise LayerError("export-unsupported", f"{self.kind} on a tensor with {io.rank} spatial axes")
        pool = f"nn.Adaptive{self.op.title()}Pool{io.rank}d(1)"
        return Torch(module=pool if self.keepdim else f"nn.Sequential({pool}, nn.Flatten())")

    def torch_function(self, io) -> str:
        pool = f"F.adaptive_{self.op}_pool{io.rank}d({{0}}, 1)"
        return pool if self.keepdim else f"{pool}.flatten(1)"


class GlobalAvgPool(_Global):
    kind: ClassVar[str] = "global_avg_pool"
    compat: ClassVar[dict] = {"fvcore": (peers.FV_ADAPTIVE_AVG,), "ptflops": (peers.PT_POOL, peers.PT_POOL_TWICE, peers.PT_POOL_FUNCTION), "torchinfo": ()}  # nn.AdaptiveAvgPool(1) in PyTorch
    short: ClassVar[str] = "avgpool"
    op: ClassVar[str] = "avg"
    summary: ClassVar[str] = "average over all spatial positions; keeps (C, 1, 1) unless keepdim: false"


class GlobalMaxPool(_Global):
    kind: ClassVar[str] = "global_max_pool"
    short: ClassVar[str] = "maxpool"
    op: ClassVar[str] = "max"
    summary: ClassVar[str] = "maximum over all spatial positions; keeps (C, 1, 1) unless keepdim: false"


VARIANTS = Variants(__name__, {
    "max_pool1d": (_MaxPool, "MaxPool1d", {"rank": 1, "summary": "1-d max pooling (nn.MaxPool1d)"}, {}),
    "max_pool2d": (_MaxPool, "MaxPool2d", {"rank": 2, "summary": "2-d max pooling (nn.MaxPool2d)"}, {}),
    "max_pool3d": (_MaxPool, "MaxPool3d", {"rank": 3, "summary": "3-d max pooling (nn.MaxPool3d)"}, {}),
    "avg_pool1d": (_AvgPool, "AvgPool1d", {"rank": 1, "summary": "1-d average pooling (nn.AvgPool1d)"}, {}),
    # nn.AvgPool2d and 3d have divisor_override; nn.AvgPool1d does not
    "avg_pool2d": (_AvgPool, "AvgPool2d", {"rank": 2, "summary": "2-d average pooling (nn.AvgPool2d)"}, {"divisor_override": (Optional[PosInt], None)}),
    "lp_pool1d": (_LPPool, "LPPool1d", {"rank": 1, "summary": "1-d power-average pooling (nn.LPPool1d)"}, {}),
    "lp_pool2d": (_LPPool, "LPPool2d", {"rank": 2, "summary": "2-d power-average pooling (nn.LPPool2d)"}, {}),
    "adaptive_avg_pool1d": _adaptive("AdaptiveAvgPool1d", "avg", 1, "1-d adaptive average pooling (nn.AdaptiveAvgPool1d)"),
    "adaptive_avg_pool2d": _adaptive("AdaptiveAvgPool2d", "avg", 2, "2-d adaptive average pooling (nn.AdaptiveAvgPool2d)"),
    "adaptive_avg_pool3d": _adaptive("AdaptiveAvgPool3d", "avg", 3, "3-d adaptive average pooling (nn.AdaptiveAvgPool3d)"),
    "adaptive_max_pool1d": _adaptive("AdaptiveMaxPool1d", "max", 1, "1-d adaptive max pooling (nn.AdaptiveMaxPool1d)"),
    "adaptive_max_pool2d": _adaptive("AdaptiveMaxPool2d", "max", 2, "2-d adaptive max pooling (nn.AdaptiveMaxPool2d)"),
    "adaptive_max_pool3d": _adaptive("AdaptiveMaxPool3d", "max", 3, "3-d adaptive max pooling (nn.AdaptiveMaxPool3d)"),
})


def __getattr__(name: str) -> type[LayerKind]:  # the variants, by class name, built when first asked for
    return VARIANTS.attribute(name)
