"""Element-wise activations and softmax: shape unchanged, no parameters."""

from __future__ import annotations

from typing import Annotated, Any, Callable, ClassVar, Literal, Union

from pydantic import Field, StrictFloat, StrictInt

from convcalc.conventions import ELEMENTWISE_FLOPS
from convcalc.arith.dims import prod
from convcalc.kinds import _compat as peers
from convcalc.kinds._base import LayerError, LayerKind, PosInt, Result, Tensor, Torch, Variants, dim_meaning, same_field, sample_axis

__all__ = ["LogSoftmax", "PReLU", "Softmax", "VARIANTS"]

Number = Union[StrictInt, Annotated[StrictFloat, Field(allow_inf_nan=False)]]  # never NaN or infinite


class _Elementwise(LayerKind):
    torch_class: ClassVar[str]
    torch_only: ClassVar[tuple[str, ...]] = ("inplace", "device", "dtype")

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        return Result(shape=x.shape, flops=ELEMENTWISE_FLOPS[self.kind] * prod(x.shape))

    def refield(self, x: Tensor, result: Result) -> tuple:
        return x.rf, x.is_global  # element-wise: each output reads its own input position

    def refielder(self, x: Tensor, result: Result) -> Callable[[Any, Any], tuple]:
        return same_field

    def torch(self, io) -> Torch:
        return Torch(module=f"nn.{self.torch_class}({', '.join(io.kw(*type(self).model_fields))})")


def _activation(kind: str, summary: str, ptflops: tuple = (), aliases: tuple = (), **fields) -> tuple[str, tuple]:
    """A kind named ``kind`` whose PyTorch module is named in the summary: ``(nn.ReLU)``, as an
    entry of :data:`VARIANTS`. Only ptflops counts activations, each as ``ptflops`` says; fvcore
    and torchinfo count none."""
    function = {"sigmoid": "torch.sigmoid", "tanh": "torch.tanh", "log_sigmoid": "F.logsigmoid"}.get(kind, f"F.{kind}")
    class_vars = {"summary": summary, "torch_class": summary.rsplit("(nn.", 1)[1].rstrip(")"),
                  "compat": {"fvcore": (), "ptflops": ptflops, "torchinfo": ()}, "aliases": aliases, "functional": f"{function}({{0}}{{kw}})"}
    return kind, (_Elementwise, "".join(part.title() for part in kind.split("_")), class_vars, fields)


_TWICE = (peers.PT_ACTIVATION, peers.PT_ACTIVATION_TWICE, peers.PT_ACTIVATION_FUNCTION)  # a hook, and the patched F.* it calls

VARIANTS = Variants(__name__, dict((
    _activation("relu", "max(x, 0) (nn.ReLU)", _TWICE),
    _activation("relu6", "min(max(x, 0), 6) (nn.ReLU6)", (peers.PT_ACTIVATION, peers.PT_RELU6_FUNCTION)),
    _activation("leaky_relu", "x if x > 0 else slope * x (nn.LeakyReLU)", (peers.PT_ACTIVATION,), negative_slope=(Number, 0.01)),
    _activation("elu", "exponential linear unit (nn.ELU)", _TWICE, alpha=(Number, 1.0)),
    _activation("gelu", "Gaussian error linear unit (nn.GELU)", _TWICE, approximate=(Literal["none", "tanh"], "none")),
    _activation("silu", "x * sigmoid(x), a.k.a. swish (nn.SiLU)", (peers.PT_PATCHED,), aliases=("swish",)),
    _activation("sigmoid", "logistic sigmoid (nn.Sigmoid)"),
    _activation("tanh", "hyperbolic tangent (nn.Tanh)"),
    _activation("hardswish", "x * relu6(x + 3) / 6 (nn.Hardswish)"),
    _activation("hardsigmoid", "relu6(x + 3) / 6 (nn.Hardsigmoid)"),
    _activation("mish", "x * tanh(softplus(x)) (nn.Mish)"),
    _activation("selu", "scaled exponential linear unit (nn.SELU)"),
    _activation("celu", "continuously differentiable ELU (nn.CELU)", alpha=(Number, 1.0)),
    _activation("softplus", "log(1 + exp(beta * x)) / beta (nn.Softplus)", beta=(Number, 1.0), threshold=(Number, 20.0)),
    _activation("hardtanh", "clamp(x, min_val, max_val) (nn.Hardtanh)", min_val=(Number, -1.0), max_val=(Number, 1.0)),
    _activation("log_sigmoid", "log(sigmoid(x)) (nn.LogSigmoid)"),
    _activation("tanhshrink", "x - tanh(x) (nn.Tanhshrink)"),
)))


def __getattr__(name: str) -> type[LayerKind]:  # the variants, by class name, built when first asked for
    return VARIANTS.attribute(name)


class PReLU(_Elementwise):
    """``nn.PReLU``: a learned slope for the negative part, one (``num_parameters: 1``) or one per
    channel (``num_parameters: C``)."""

    kind: ClassVar[str] = "prelu"
    summary: ClassVar[str] = "x if x > 0 else a * x, a learned (nn.PReLU)"
    torch_class: ClassVar[str] = "PReLU"
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (peers.PT_ACTIVATION, peers.PT_ACTIVATION_TWICE_PRELU), "torchinfo": (peers.TI_PARAMS_ONCE,)}
    num_parameters: PosInt = 1
    init: Number = 0.25

    def infer(self, x: Tensor) -> Result:
        if self.num_parameters != 1 and x.channels != self.num_parameters:
            raise LayerError("shape-mismatch", f"num_parameters {self.num_parameters} is neither 1 nor the {x.channels} channels", "num_parameters")
        return Result(shape=x.shape, params=self.num_parameters, flops=ELEMENTWISE_FLOPS[self.kind] * prod(x.shape),
                      formulas=(f"params = num_parameters = {self.num_parameters}",))


class _Softmax(LayerKind):
    dim: int = 1  # PyTorch's dims: 0 is the batch, 1 the channels (the default here)

    def torch_function(self, io) -> str:
        return f"F.{self.kind}({{0}}, dim={self.dim})"
    per_vector_extra: ClassVar[int]

    def size_period(self) -> int:
        return 1

    def infer(self, x: Tensor) -> Result:
        axis = sample_axis(self.dim, len(x.shape))
        n = x.shape[axis]
        vectors = prod(x.shape) // n
        return Result(shape=x.shape, flops=vectors * (3 * n + self.per_vector_extra), diagnostics=dim_meaning(self, "dim"))

    def torch(self, io) -> Torch:
        name = "Softmax" if self.kind == "softmax" else "LogSoftmax"
        return Torch(module=f"nn.{name}(dim={self.dim})")


class Softmax(_Softmax):
    kind: ClassVar[str] = "softmax"
    compat: ClassVar[dict] = {"fvcore": (), "ptflops": (peers.PT_PATCHED,), "torchinfo": ()}
    summary: ClassVar[str] = "softmax over an axis, the channels by default (nn.Softmax)"
    per_vector_extra: ClassVar[int] = -1  # n exps, n - 1 adds, n divides


class LogSoftmax(_Softmax):
    kind: ClassVar[str] = "log_softmax"
    compat: ClassVar[dict] = peers.NOTHING
    summary: ClassVar[str] = "log of softmax over an axis (nn.LogSoftmax)"
    per_vector_extra: ClassVar[int] = 0  # n exps, n - 1 adds, 1 log, n subtractions
