"""The values an ONNX graph's tensors take while convcalc reads it: constants and computed tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional

from convcalc.arith.dims import prod
from convcalc.errors import UsageError
from convcalc.interop._imported import Live

__all__ = ["MAX_FOLDED", "Const", "Live", "Pieces", "attributes", "exact", "f32", "require_onnx"]

MAX_FOLDED = 1 << 20  # elements of a constant convcalc computes; larger ones keep only their shape


def require_onnx():
    """The ``onnx`` module, or the usage error that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise UsageError("import-missing-extra", "reading ONNX files needs the onnx package, which is not installed",
                         hint="pip install 'convcalc[onnx]'") from None
    return onnx


@dataclass(eq=False)
class Const:
    """A tensor known without running the network: its shape, its value when convcalc read or
    computed it (a numpy array, ``object`` dtype when it holds symbols), and the initializers it
    is made of (the learned tensors a layer that reads it counts)."""

    shape: tuple
    value: Any = None
    learned: dict = field(default_factory=dict)  # initializer name -> elements
    dtype: int = 1
    loader: Optional[Callable[[], Any]] = None

    def get(self) -> Any:
        if self.value is None and self.loader is not None:
            self.value, self.loader = self.loader(), None
        return self.value

    @property
    def size(self) -> int:
        return prod(self.shape)


@dataclass(eq=False)
class Pieces:
    """An ONNX sequence of tensors (``SplitToSequence``), read by position."""

    items: list


def exact(value: Any) -> Any:
    """A number from a numpy array as a Python number (a symbol stays a symbol)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, (int, Fraction)):
        return int(value) if isinstance(value, int) or value.denominator == 1 else value
    if hasattr(value, "item") and not hasattr(value, "free_symbols"):
        return exact(value.item())
    return value


def f32(value: float) -> float:
    """An attribute stored as float32, as it was written (1e-05, not 9.999999747378752e-06)."""
    import numpy as np

    return float(str(np.float32(value)))


def attributes(node) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded)."""
    from onnx import helper

    found = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        found[a.name] = value
    return found
