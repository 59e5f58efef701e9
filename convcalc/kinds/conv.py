"""Convolution and transposed convolution, 1d / 2d / 3d."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Literal

from convcalc.arith._exact import uneven_notes
from convcalc.arith.dims import Lazy, prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import (
    Bool,
    LayerError,
    LayerKind,
    NonNegInts,
    PosInt,
    PosInts,
    Result,
    Tensor,
    Torch,
    Variants,
    as_tuple,
    need_positive,
    register_helper,
    stride_period,
)
from convcalc.kinds._window import (
    Padding,
    axis_names,
    out_size,
    product_text,
    resolve_padding,
    transposed_out_size,
    window_refielder,
)

__all__ = ["VARIANTS"]


def check_groups(groups: int, c_in, c_out) -> None:
    for name, c in (("input channels", c_in), ("out_channels", c_out)):
        if isinstance(c, int) and c % groups:
            raise LayerError(
                "arg-groups",
                f"groups={groups} does not divide the {name} ({c})",
                "groups",
                "groups must divide both channel counts",
            )


def kernel_text(kernel: tuple) -> str:
    return "*".join(str(k) for k in kernel)


def flops_text(names: tuple, suffix: str, spatial, c_out, macs, flops, bias: bool) -> str:
    """``FLOPs = 2*MACs + one bias add per output element`` (conventions: FLOPs)."""
    if not bias:
        return f"FLOPs = 2*MACs = 2*{macs} = {flops}"
    symbols = "*".join(n + suffix for n in names)
    return f"FLOPs = 2*MACs + {symbols}*C_out = 2*{macs} + {product_text(spatial)}*{c_out} = {flops}"


class _Conv(LayerKind):
    input_width: ClassVar[dict] = {"in_channels": 0}
    compat: ClassVar[dict] = {"fvcore": (peers.FV_MACS,), "ptflops": (peers.PT_CONV_MACS, peers.PT_CONV_BIAS), "torchinfo": (peers.TI_CONV_WEIGHTS, peers.TI_CONV_BIAS)}
    short: ClassVar[str] = "conv"
    out_channels: PosInt
    kernel_size: PosInts
    stride: PosInts = 1
    padding: Padding = 0
    dilation: PosInts = 1
    groups: PosInt = 1
    bias: Bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> Any:
        """dL/dW: the forward's MACs again (input x output gradient); dL/dX, when the input needs
        it: the forward's MACs (the output gradient through the transposed weights)."""
        return result.macs * (2 if needs[0] else 1)

    def _window(self, x: Tensor) -> tuple[tuple, tuple, tuple]:
        """Kernel, stride and dilation per spatial axis of ``x``."""
        rank = len(x.spatial)
        return as_tuple(self.kernel_size, rank, "kernel_size"), as_tuple(self.stride, rank, "stride"), as_tuple(self.dilation, rank, "dilation")

    def refield(self, x: Tensor, result: Result) -> tuple:
        return self.refielder(x, result)(x.rf, x.is_global)

    def refielder(self, x: Tensor, result: Result) -> Callable[[Any, Any], tuple]:
        k, s, d = self._window(x)
        return window_refielder(k, s, d, resolve_padding(self.padding, x.spatial, k, s, d), result.shape[1:])

    def size_period(self) -> int:
        """``floor((in + a) / s) + 1``, 'same' padding's split and the uneven notes repeat with the stride."""
        return stride_period(self.stride)

    def infer(self, x: Tensor) -> Result:
        self.check_rank(x)
        rank = len(x.spatial)
        k, s, d = self._window(x)
        c_in, c_out, g = x.channels, self.out_channels, self.groups
        check_groups(g, c_in, c_out)
        pads = resolve_padding(self.padding, x.spatial, k, s, d)
        names = axis_names(rank)
        spatial, texts, rf = [], [], []
        for i, size in enumerate(x.spatial):
            self._check_padding_mode(size, pads[i], names[i])
            out, text = out_size(size, k[i], s[i], d[i], pads[i], same=self.padding == "same")
            need_positive(
                out,
                Lazy(lambda name=names[i], text=text: f"kernel larger than the padded input along {name}: {name}_out = {text}"),
                "kernel_size",
                "shape-kernel-too-large",
            )
            spatial.append(out)
            texts.append(text)
            if x.rf:
                rf.append(x.rf[i].through(k[i], s[i], d[i], pads[i][0], out))
        weights = c_out * (c_in // g) * prod(k)
        params = weights + (c_out if self.bias else 0)
        positions = prod(spatial)
        macs = positions * weights
        flops = 2 * macs + (positions * c_out if self.bias else 0)

        def formulas() -> tuple[str, ...]:  # written only when asked for (explain, check)
            lines = []
            for name, (before, after), text in zip(names, pads, texts):
                pad_symbols = "2p" if before == after else "p_before + p_after"
                lines.append(f"{name}_out = floor(({name}_in + {pad_symbols} - d*(k-1) - 1) / s) + 1 = {text}")
            bias_text = f" + {c_out}" if self.bias else ""
            lines.append(f"params = C_out*(C_in/groups)*{'*'.join('k' * rank)}{' + C_out' if self.bias else ''} = {c_out}*({c_in}/{g})*{kernel_text(k)}{bias_text} = {params}")
            lines.append(f"MACs = {'*'.join(n + '_out' for n in names)}*C_out*(C_in/groups)*{'*'.join('k' * rank)} = {product_text(spatial)}*{c_out}*({c_in}/{g})*{kernel_text(k)} = {macs}")
            lines.append(flops_text(names, "_out", spatial, c_out, macs, flops, self.bias))
            return tuple(lines)

        notes = uneven_notes(x.spatial, k, s, d, pads, names)
        if g > 1 and g == c_in and c_out % c_in == 0:
            notes = ("depthwise", *notes)
        return Result(
            shape=(c_out, *spatial), params=params, macs=macs, flops=flops,
            rf=tuple(rf) if x.rf else None, formulas=formulas, notes=notes,
            extra={"padding": [list(p) for p in pads]},
        )


    def torch(self, io) -> Torch:
        pad_module, padding = self._torch_padding(io)
        keys = ["stride", "dilation", "groups", "bias"] + ([] if pad_module else ["padding_mode"])
        kw = io.kw("kernel_size") + ([f"padding={padding}"] if padding else []) + io.kw(*keys)
        conv = f"nn.Conv{self.rank}d({', '.join([io.c_in, io.arg('out_channels'), *kw])})"
        if pad_module is None:
            return Torch(module=conv)
        return Torch(module=f"nn.Sequential({pad_module}, {conv})", helpers=("SamePad",) if pad_module.startswith("SamePad") else ())

    def torch_channels(self, io) -> str:
        return io.arg("out_channels")

    def _torch_padding(self, io) -> tuple[str | None, str | None]:
        """(a pad module to put first, the conv's ``padding``) for this ``padding``: PyTorch's own
        ``"same"`` only at stride 1 (TensorFlow's rule otherwise: ``SamePad``), unequal
        ``[before, after]`` pairs as an explicit pad module (the padding mode's)."""
        if not io.has("padding") or self.padding == "valid":
            return None, None
        if self.padding == "same":
            if all(s == 1 for s in as_tuple(self.stride, self.rank, "stride")):
                return None, '"same"'
            mode = {"zeros": [], "reflect": ['mode="reflect"'], "replicate": ['mode="replicate"'], "circular": ['mode="circular"']}[self.padding_mode]
            return f"SamePad({', '.join([io.arg('kernel_size'), io.arg('stride'), *io.kw('dilation'), *mode])})", None
        if isinstance(self.padding, int) or not any(isinstance(v, list) for v in self.padding):
            return None, io.arg("padding")
        pairs = [tuple(v) if isinstance(v, list) else (v, v) for v in self.padding]
        if all(b == a for b, a in pairs):
            return None, io.literal(tuple(b for b, _ in pairs))
        module = {"zeros": "ZeroPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}[self.padding_mode]
        return f"nn.{module}{self.rank}d({io.literal(torch_pads(pairs))})", None

    def _check_padding_mode(self, size, pad: tuple, name: str) -> None:
        """PyTorch pads by copying from inside the input: a reflection needs ``pad < in`` (the edge
        is not repeated), a circular wrap ``pad <= in``; zeros and replicate take any padding."""
        slack = {"reflect": 0, "circular": 1}.get(self.padding_mode)
        if slack is None:
            return
        for p in pad:
            need_positive(
                size - p + slack,
                f"padding_mode {self.padding_mode!r} needs padding {'<' if slack == 0 else '<='} the input size along {name}, as PyTorch pads from inside it: padding {p}, {name}_in = {size}",
                "padding", "arg-padding-mode",
            )





class _ConvTranspose(LayerKind):
    input_width: ClassVar[dict] = {"in_channels": 0}
    compat: ClassVar[dict] = {"fvcore": (peers.FV_MACS,), "ptflops": (peers.PT_CONV_MACS, peers.PT_CONV_BIAS), "torchinfo": (peers.TI_CONV_T_WEIGHTS, peers.TI_CONV_BIAS)}
    short: ClassVar[str] = "upconv"
    out_channels: PosInt
    kernel_size: PosInts
    stride: PosInts = 1
    padding: NonNegInts = 0
    output_padding: NonNegInts = 0
    dilation: PosInts = 1
    groups: PosInt = 1
    bias: Bool = True

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> Any:
        """dL/dW: the forward's MACs again (input x output gradient); dL/dX, when the input needs
        it: the forward's MACs (the output gradient through the transposed weights)."""
        return result.macs * (2 if needs[0] else 1)

    def size_period(self) -> int:
        """``(in - 1)*s - 2p + d*(k-1) + output_padding + 1`` is affine in any input size."""
        return 1

    def infer(self, x: Tensor) -> Result:
        self.check_rank(x)
        rank = len(x.spatial)
        k = as_tuple(self.kernel_size, rank, "kernel_size")
        s = as_tuple(self.stride, rank, "stride")
        d = as_tuple(self.dilation, rank, "dilation")
        p = as_tuple(self.padding, rank, "padding")
        op = as_tuple(self.output_padding, rank, "output_padding")
        c_in, c_out, g = x.channels, self.out_channels, self.groups
        check_groups(g, c_in, c_out)
        names = axis_names(rank)
        spatial, texts, rf = [], [], []
        for i, size in enumerate(x.spatial):
            if op[i] >= max(s[i], d[i]):
                raise LayerError(
                    "arg-output-padding",
                    f"output_padding ({op[i]}) must be smaller than stride ({s[i]}) or dilation ({d[i]})",
                    "output_padding",
                )
            out, text = transposed_out_size(size, k[i], s[i], d[i], p[i], op[i])
            need_positive(out, Lazy(lambda name=names[i], text=text: f"output size along {name} below 1: {name}_out = {text}"), "padding")
            spatial.append(out)
            texts.append(text)
            if x.rf:
                rf.append(x.rf[i].transposed(k[i], s[i], d[i], p[i], out))
        weights = c_in * (c_out // g) * prod(k)
        params = weights + (c_out if self.bias else 0)
        macs = prod(x.spatial) * weights
        flops = 2 * macs + (prod(spatial) * c_out if self.bias else 0)

        def formulas() -> tuple[str, ...]:  # written only when asked for (explain, check)
            lines = [f"{name}_out = ({name}_in - 1)*s - 2p + d*(k-1) + output_padding + 1 = {text}" for name, text in zip(names, texts)]
            bias_text = f" + {c_out}" if self.bias else ""
            lines.append(f"params = C_in*(C_out/groups)*{'*'.join('k' * rank)}{' + C_out' if self.bias else ''} = {c_in}*({c_out}/{g})*{kernel_text(k)}{bias_text} = {params}")
            lines.append(f"MACs (per input position) = {'*'.join(n + '_in' for n in names)}*C_in*(C_out/groups)*{'*'.join('k' * rank)} = {product_text(x.spatial)}*{c_in}*({c_out}/{g})*{kernel_text(k)} = {macs}")
            lines.append(flops_text(names, "_out", spatial, c_out, macs, flops, self.bias))
            return tuple(lines)

        return Result(shape=(c_out, *spatial), params=params, macs=macs, flops=flops, rf=tuple(rf) if x.rf else None, formulas=formulas)

    def torch(self, io) -> Torch:
        keys = ("stride", "padding", "output_padding", "groups", "bias", "dilation")
        return Torch(module=f"nn.ConvTranspose{self.rank}d({', '.join([io.c_in, io.arg('out_channels'), *io.kw('kernel_size', *keys)])})")

    def torch_channels(self, io) -> str:
        return io.arg("out_channels")


def torch_pads(pairs) -> tuple:
    """``[before, after]`` per axis in ``F.pad``'s order: the last axis first."""
    flat: list = []
    for before, after in reversed(list(pairs)):
        flat += [before, after]
    return tuple(flat)


register_helper("SamePad", '''
class SamePad(nn.Module):
    """TensorFlow's 'same' padding, which PyTorch's convolutions lack at stride > 1.

    out = ceil(in / stride): the total padding max((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0)
    is split with the odd pixel after (bottom / right). It depends on the input size, so it is
    computed in forward.
    """

    def __init__(self, kernel_size, stride, dilation=1, mode="constant"):
        super().__init__()
        self.kernel_size, self.stride, self.dilation, self.mode = kernel_size, stride, dilation, mode

    def forward(self, x):
        rank = x.dim() - 2
        per_axis = [v if isinstance(v, (tuple, list)) else (v,) * rank for v in (self.kernel_size, self.stride, self.dilation)]
        pads = []
        for axis in reversed(range(rank)):  # F.pad lists the last axis first
            size, (k, s, d) = x.shape[2 + axis], (v[axis] for v in per_axis)
            total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads, mode=self.mode)
''')


VARIANTS = Variants(__name__, {
    "conv1d": (_Conv, "Conv1d", {"rank": 1, "summary": "1-d convolution (nn.Conv1d)"}, {}),
    "conv2d": (_Conv, "Conv2d", {"rank": 2, "summary": "2-d convolution (nn.Conv2d)"}, {}),
    "conv3d": (_Conv, "Conv3d", {"rank": 3, "summary": "3-d convolution (nn.Conv3d)"}, {}),
    "conv_transpose1d": (_ConvTranspose, "ConvTranspose1d", {"rank": 1, "summary": "1-d transposed convolution (nn.ConvTranspose1d)"}, {}),
    "conv_transpose2d": (_ConvTranspose, "ConvTranspose2d", {"rank": 2, "summary": "2-d transposed convolution (nn.ConvTranspose2d)"}, {}),
    "conv_transpose3d": (_ConvTranspose, "ConvTranspose3d", {"rank": 3, "summary": "3-d transposed convolution (nn.ConvTranspose3d)"}, {}),
})


def __getattr__(name: str) -> type[LayerKind]:  # the variants, by class name, built when first asked for
    return VARIANTS.attribute(name)
