"""What every layer kind shares: its argument model, what flows in, and what it answers."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, ClassVar, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from convcalc.arith.dims import Dim, Lazy, require_positive
from convcalc.errors import LayerError
from convcalc.kinds._rf import RFAxis, unknown_axis

__all__ = [
    "TORCH_HELPERS",
    "Bool",
    "Int",
    "LayerError",
    "LayerKind",
    "NonNegInt",
    "NonNegInts",
    "PosInt",
    "PosInts",
    "RFAxis",
    "Result",
    "Tensor",
    "Torch",
    "Variants",
    "as_tuple",
    "format_shape",
    "need_positive",
    "not_known",
    "dim_meaning",
    "register_helper",
    "same_field",
    "sample_axis",
    "spatial_rank_of",
    "stride_period",
]

Int = StrictInt
Bool = StrictBool
PosInt = Annotated[StrictInt, Field(ge=1)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
PosInts = Union[PosInt, list[PosInt]]  # an int broadcast over the spatial axes, or one per axis
NonNegInts = Union[NonNegInt, list[NonNegInt]]


@dataclass(frozen=True)
class Tensor:
    """What flows along an edge: a channels-first shape (no batch) and its receptive field."""

    shape: tuple[Dim, ...]
    rf: tuple[RFAxis, ...] = ()
    is_global: bool = False  # every element sees the whole input
    source: int = -1  # the node that produced it; -1 for the network input
    port: int = 0  # which of that node's outputs
    siblings: int = 1  # how many outputs that node has: read without naming one only when 1

    @property
    def channels(self) -> Dim:
        return self.shape[0]

    @property
    def spatial(self) -> tuple[Dim, ...]:
        return self.shape[1:]


@dataclass(frozen=True)
class Result:
    """A layer's answer for one input: everything convcalc reports about it."""

    shape: tuple[Dim, ...]  # the output; the first, when there are several
    params: Dim = 0
    buffers: Dim = 0
    macs: Dim = 0
    flops: Dim = 0
    rf: tuple[RFAxis, ...] | None = None  # None: unchanged
    is_global: bool | None = None  # None: unchanged
    notes: tuple[str, ...] = ()
    formulas: Any = ()  # the derivations, for `explain`: a tuple, or a function that writes it
    extra: dict[str, Any] = field(default_factory=dict)
    more: tuple[tuple[Dim, ...], ...] = ()  # the shapes of further outputs (split, chunk), same field
    diagnostics: tuple[tuple[str, str], ...] = ()  # (code, message): warnings the report lists

    @property
    def shapes(self) -> tuple[tuple[Dim, ...], ...]:
        return (self.shape, *self.more)

    def with_notes(self, *notes: str) -> Result:
        return replace(self, notes=self.notes + notes)


@dataclass(frozen=True)
class Torch:
    """A layer in PyTorch: a module built in ``__init__`` (``module``, a constructor expression), or
    an expression written in ``forward`` (``function``: ``{0}``, ``{1}`` ... stand for the inputs,
    ``{refs}`` for the tensors whose shapes it reads). ``helpers`` names the definitions of
    ``TORCH_HELPERS`` the code uses."""

    module: str | None = None
    function: str | None = None
    helpers: tuple[str, ...] = ()
    state: str | None = None  # an attribute that is not called (nn.Parameter): ``function`` reads it as {attr}


# Definitions an exported file may need, by name: (source, the other helpers it uses). Each kind
# module registers the ones its translations use (``register_helper``).
TORCH_HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {}


def register_helper(name: str, source: str, needs: tuple[str, ...] = ()) -> None:
    TORCH_HELPERS[name] = (source.strip("\n"), needs)


_EVALUATED: dict[tuple[str, str], Any] = {}  # (module, annotation text) -> its value


class LayerKind(BaseModel):
    """Base of every layer kind: the arguments, named as PyTorch names them.

    Everything about a kind lives on its class: ``infer`` (shape, params, buffers, MACs, FLOPs,
    receptive field, formulas), ``torch`` (its PyTorch code, for the export) and
    ``torch_channels`` (the channels it gives, as an expression in the export's code), its CLI
    name and ``aliases``, its one-line ``summary``, and ``compat``: what each peer tool counts for
    it (:mod:`convcalc.interop.compat`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    rank: ClassVar[int | None] = None  # spatial rank a 1d/2d/3d kind requires
    summary: ClassVar[str] = ""
    short: ClassVar[str] = ""  # a short name for an unnamed layer of this kind in exported code ("conv", "bn")
    compat: ClassVar[dict] = {}  # tool -> the Counts it makes for a row of this kind (kinds/_compat.py)
    related: ClassVar[tuple[str, ...]] = ()  # words a user may write for it: an unknown kind suggests it by meaning
    # PyTorch's own arguments that convcalc infers or does not need: the width of the input, checked
    # against it (name -> the input axis it names, "features": the axis a linear layer reads), and
    # arguments accepted and left alone (inplace, device, dtype)
    input_width: ClassVar[dict[str, Any]] = {}
    torch_only: ClassVar[tuple[str, ...]] = ("device", "dtype")
    functional: ClassVar[str] = ""  # its torch.nn.functional form, "F.relu({0})", for `functional: true`
    n_inputs: ClassVar[int | str] = 1  # 0: a learned tensor (reads only the batch size), "many": a merge
    # ``infer_many(self, xs)`` on a kind that reads a list of tensors (a merge, attention); the
    # builder asks the class, not the instance: pydantic's __getattr__ makes a miss cost ~5 us
    infer_many: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # pydantic evaluates each string annotation (``from __future__ import annotations``) of
        # each of ~80 kinds, compiling it anew; evaluated here, once per text and module, it costs
        # a dict lookup. A text that does not evaluate yet is left to pydantic.
        module = sys.modules.get(cls.__module__)
        names = vars(module) if module is not None else {}
        own = cls.__dict__.get("__annotations__", {})
        for field_name, text in own.items():
            if isinstance(text, str):
                key = (cls.__module__, text)
                value = _EVALUATED.get(key)
                if value is None:
                    try:
                        value = _EVALUATED[key] = eval(text, names)  # noqa: S307 - our own annotations
                    except NameError:
                        continue
                own[field_name] = value
        super().__init_subclass__(**kwargs)

    @classmethod
    def short_name(cls) -> str:
        return cls.short or re.sub(r"\d+d$", "", cls.kind)

    def infer(self, x: Tensor) -> Result:  # pragma: no cover - every kind overrides
        raise NotImplementedError

    def refield(self, x: Tensor, result: Result) -> Optional[tuple[Any, Any]]:
        """``(rf, is_global)`` of this layer's output on ``x``, given its ``result`` on an input of
        the same shapes with another receptive field (a copy of a repeated block, made by the
        builder's memo): everything else of ``result`` holds there unchanged. A kind whose
        ``infer`` reads the input's field only to make the output's says how here; None (the
        default) infers the copy again. tests/test_memo.py holds every kind that answers to its
        ``infer``."""
        return None

    def refielder(self, x: Tensor, result: Result) -> Callable[[Any, Any], Optional[tuple[Any, Any]]]:
        """``refield`` for every input of ``x``'s shapes, made once: a function of the input's
        field and globality. The memo refields a copied layer once per copy of a repeat, on
        tensors of one shape, so what ``refield`` works out from the shapes alone (a window's
        kernel, stride and padding) is worked out here, and no tensor is made per copy. By
        default, ``refield`` itself with ``result``, on a tensor of ``x``'s shape."""

        def refield(rf: Any, is_global: Any) -> Optional[tuple[Any, Any]]:
            return self.refield(Tensor(x.shape, rf, is_global, x.source, x.port, x.siblings), result)

        return refield

    def refield_many(self, xs: list[Tensor], result: Result) -> Optional[tuple[Any, Any]]:
        """``refield`` of a kind that reads several tensors (a merge): its output's ``(rf,
        is_global)`` on inputs ``xs`` of the shapes that gave ``result``, with other fields; None
        (the default) infers the copy again."""
        return None

    def refielder_many(self, xs: list[Tensor], result: Result) -> Callable[[list[tuple[Any, Any]]], Optional[tuple[Any, Any]]]:
        """``refield_many`` for every list of inputs of ``xs``'s shapes, made once (as
        ``refielder`` is ``refield``'s): a function of their ``[(rf, is_global), ...]``. By
        default, ``refield_many`` itself with ``result``, on tensors of ``xs``'s shapes."""

        def refield(fields: list[tuple[Any, Any]]) -> Optional[tuple[Any, Any]]:
            return self.refield_many([Tensor(x.shape, rf, is_global, x.source, x.port, x.siblings) for x, (rf, is_global) in zip(xs, fields)], result)

        return refield

    def backward_macs(self, shapes: tuple, result: Result, needs: tuple[bool, ...]) -> Any:
        """MACs of this layer's backward pass (a training step), given its input ``shapes``, its
        forward ``result`` and, per input, whether that input needs a gradient (none does when
        nothing before it has parameters: the first layer computes no input gradient). Layers
        without MACs have none backward either (their element-wise work is not MACs)."""
        return 0

    def size_period(self) -> int | None:
        """What ``convcalc sizes`` may assume of this layer to answer from a rule (analysis/sizes.py).

        A number p promises: on inputs whose spatial sizes are affine in one integer k with slopes
        that are multiples of p (the input sizes n = r + M*k of one residue class, and everything
        they make), (1) its spatial output sizes are affine in k and never decrease, every other
        size a polynomial of degree at most R (the network input's spatial axes); (2) its params,
        buffers and MACs are polynomials of degree at most R in k; (3) whether it raises is decided
        by such sizes reaching a bound and by its inputs' sizes being equal (or 1, broadcast);
        (4) which of its notes are "uneven:" or "off-centre:" does not depend on k. None (the
        default): no promise; ``sizes`` folds the network at every size.
        """
        return None

    def torch(self, io: Any) -> Torch:
        """This layer in PyTorch. ``io`` gives the input channels as an expression (``io.c_in``),
        the concrete input and output shapes (``io.in_shapes``, ``io.out_shapes``, no batch) and
        each argument as code (``io.arg(name)``: the block expression it was written with, or the
        value). A kind without a translation says so: the export refuses it at its place."""
        raise LayerError("export-unsupported", f"no PyTorch translation for layer kind {self.kind!r}")

    def torch_function(self, io: Any) -> str:
        """The layer as a call in ``forward`` (``functional: true``): ``F.relu({0})``."""
        if not self.functional:
            raise LayerError("export-unsupported", f"{self.kind} has no torch.nn.functional form here")
        kw = "".join(f", {a}" for a in io.kw(*(n for n in type(self).model_fields if n not in ("inputs",))))
        return self.functional.replace("{kw}", kw)

    def torch_channels(self, io: Any) -> str:
        """The channels of the output, as code: the input's, unless the kind changes them."""
        return io.c_in

    def check_rank(self, x: Tensor) -> None:
        if self.rank is not None and len(x.spatial) != self.rank:
            want = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}[self.rank]
            raise LayerError(
                "shape-rank",
                f"{self.kind} needs a {want} input, got {format_shape(x.shape)}",
                hint=f"use the {len(x.spatial)}d variant" if 1 <= len(x.spatial) <= 3 else None,
            )


# pydantic evaluates the annotations of every base again for each subclass (~80 kinds): LayerKind's
# are all class variables, which pydantic has recorded in ``__class_vars__`` (every subclass
# inherits that set), so they are dropped here and no subclass pays for them (a kind class costs
# 0.17 ms instead of 0.29).
assert set(vars(LayerKind)["__annotations__"]) <= LayerKind.__class_vars__
LayerKind.__annotations__ = {}


class Variants(Mapping):
    """Kinds that differ from a base class only in class variables (``rank``, ``summary`` ...) and
    perhaps a field, each built when it is first looked up: a pydantic class costs about a
    third of a millisecond, and a spec with conv2d needs no conv1d or conv3d.

    ``table`` maps each kind to ``(base, class name, class variables, fields)``, ``fields``
    mapping a name to ``(annotation, default)``. The module's ``__getattr__`` calls :meth:`attribute`,
    so that the classes are there under their names, as if each had been written out.
    """

    def __init__(self, module: str, table: dict[str, tuple[type[LayerKind], str, dict[str, Any], dict[str, tuple[Any, Any]]]]):
        self._module = module
        self._table = table
        self._names = {entry[1]: kind for kind, entry in table.items()}
        self._built: dict[str, type[LayerKind]] = {}

    def __getitem__(self, kind: str) -> type[LayerKind]:
        cls = self._built.get(kind)
        if cls is None:
            base, name, class_vars, fields = self._table[kind]
            namespace = {"__module__": self._module, "__qualname__": name, "kind": kind, **class_vars,
                         "__annotations__": {"kind": ClassVar[str], **{n: ClassVar[Any] for n in class_vars},
                                             **{n: annotation for n, (annotation, _) in fields.items()}}}
            namespace.update((n, default) for n, (_, default) in fields.items())
            cls = self._built[kind] = type(name, (base,), namespace)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def attribute(self, name: str) -> type[LayerKind]:
        """A variant by its class name, for the module's ``__getattr__``."""
        if name not in self._names:
            raise AttributeError(f"module {self._module!r} has no attribute {name!r}")
        return self[self._names[name]]


def not_known(x: Tensor, shape: tuple, reason: str) -> tuple[RFAxis, ...]:
    """The field of an output whose spatial axes are not the input's: not known, per axis of
    ``shape``, with the reason. An input that sees everything (global, and said so) or reads no
    network input (a parameter) has no field to lose: ``()``, as it came."""
    if x.is_global or not x.rf:
        return ()
    return tuple(unknown_axis(reason, n) for n in shape[1:])


def stride_period(stride: int | list[int]) -> int:
    """The period of a window's output sizes along a residue class: the lcm of its strides."""
    return math.lcm(*stride) if isinstance(stride, (list, tuple)) else stride


def format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def same_field(rf: Any, is_global: Any) -> tuple[Any, Any]:
    """The ``refielder`` of a kind whose output reads its input position for position."""
    return rf, is_global


def spatial_rank_of(x: Tensor) -> int:
    return len(x.spatial)


def sample_axis(dim: int, ndim: int, name: str = "dim", allow_end: bool = False) -> int:
    """A PyTorch dim (0 is the batch, 1 the channels; negative from the end) as an axis of convcalc's
    per-sample shape of ``ndim`` axes. ``allow_end``: ``ndim`` itself is a place (to insert at)."""
    total = ndim + 1 + (1 if allow_end else 0)
    if not -total <= dim < total:
        raise LayerError("arg-range", f"{name} {dim} is outside the {ndim + 1} dims of a batch of {ndim}-axis tensors", name)
    index = dim % total
    if index == 0:
        raise LayerError(
            "arg-batch-dim", f"{name} {dim} is the batch: convcalc's shapes are per sample",
            name, "dims count the batch, as in PyTorch: 1 is the channels",
        )
    return index - 1


def dim_meaning(layer: "LayerKind", *names: str) -> tuple[tuple[str, str], ...]:
    """The warning for a dim written in a spec of convcalc 0.1, which counted dims from the
    channels (0) where PyTorch, and convcalc since, count the batch (0) and the channels (1)."""
    written = [n for n in names if n in layer.model_fields_set and getattr(layer, n) >= 1]
    if not written:
        return ()
    text = ", ".join(f"{n}: {getattr(layer, n)}" for n in written)
    return (("spec-dim-counts-batch", f"{text} counts the batch as PyTorch does (1 is the channels); convcalc 0.1 counted from the channels, where this meant one more"),)


def as_tuple(value: Any, rank: int, name: str) -> tuple:
    """Broadcast an int argument over ``rank`` spatial axes; check a list has one per axis."""
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise LayerError("arg-rank", f"{name} has {len(value)} values, the input has {rank} spatial axes", name)
        return tuple(value)
    return (value,) * rank


def need_positive(size: Dim, message: str | Lazy, field: str | None = None, code: str = "shape-nonpositive") -> None:
    """Raise unless ``size >= 1``. A symbolic size that may or may not be positive passes here;
    the engine records the condition under which it is. ``message`` may be :class:`Lazy`."""
    if not require_positive(size, message):
        raise LayerError(code, str(message), field)
