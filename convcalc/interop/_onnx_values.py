"""The values an ONNX graph's tensors take while convcalc reads it: constants and computed tensors."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional

from convcalc.arith.dims import prod
from convcalc.interop._imported import Live, Scope, require

__all__ = ["MAX_FOLDED", "Const", "Live", "Pieces", "attributes", "exact", "f32", "require_onnx", "scope_of"]

MAX_FOLDED = 1 << 20  # elements of a constant convcalc computes; larger ones keep only their shape


def require_onnx():
    """The ``onnx`` module, or the usage error that says how to install it."""
    return require("onnx", "reading ONNX files", "onnx")


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


def scope_of(node) -> Scope:
    """The module path the exporter recorded for a node, and the op's own name."""
    meta = {p.key: p.value for p in node.metadata_props}
    scopes = meta.get("pkg.torch.onnx.name_scopes")
    if scopes:
        names, classes = _string_list(scopes), _string_list(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
        if isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names):
            module = names[-2]
            path = tuple(module.split(".")) if module else ()
            levels = [n for n in names[1:-1]]  # the fully qualified name of each module on the way down
            kinds = [c.rsplit(".", 1)[-1] for c in classes[1:-1]] if isinstance(classes, list) and len(classes) == len(names) else []
            by_depth = {len(level.split(".")): kind for level, kind in zip(levels, kinds)}
            return Scope(path, tuple(by_depth.get(d, "") for d in range(1, len(path) + 1)), names[-1], node.name)
    name = node.name or ""
    if "/" in name:  # the TorchScript exporter's /layer1/layer1.0/conv1/Conv
        parts: list[str] = []
        components = [c for c in name.split("/") if c]
        for c in components[:-1]:
            prefix = ".".join(parts)
            parts = c.split(".") if prefix and c.startswith(prefix + ".") else [*parts, *c.split(".")]
        return Scope(tuple(parts), (), components[-1] if components else node.op_type, name)
    return Scope((), (), name or node.op_type.lower(), name)


def _string_list(text: str) -> list:
    """A Python list of strings as torch.onnx writes it (``['', 'layer1']``); literal_eval, the
    general way, costs half the time of reading a ResNet."""
    if text.startswith("['") and text.endswith("']") and "\\" not in text and '"' not in text:
        return text[2:-2].split("', '")
    try:
        found = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return found if isinstance(found, list) else []
