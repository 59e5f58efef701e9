"""Every layer kind convcalc knows, one class each, in one explicit registry.

A kind answers every metric in one place: ``infer(tensor) -> Result``. Adding a kind means one
class, one line in ``_MODULES`` below (its name and the module that defines it; its aliases in
``ALIASES``), one golden test and one PyTorch parity case.

``KINDS`` maps each name to its class, importing the kind's module when a name is first looked
up: building ~80 pydantic classes costs more than the rest of ``convcalc summary resnet50``, which
uses 8 of them. A module's rank variants and generated kinds (its ``VARIANTS``,
:class:`~convcalc.kinds._base.Variants`) are built one by one as they are looked up. Iterating
``KINDS`` (its names) imports nothing; ``KINDS.items()`` imports and builds all.
tests/test_registry.py holds the table to the classes' own ``kind`` and ``aliases``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from convcalc.kinds._base import LayerError, LayerKind, Result, RFAxis, Tensor

__all__ = ["ALIASES", "KINDS", "LayerError", "LayerKind", "RFAxis", "Result", "Tensor", "classes_in"]

# kind -> its module in convcalc.kinds, in the order `convcalc kinds` lists them
_MODULES: dict[str, str] = {
    "conv1d": "conv", "conv2d": "conv", "conv3d": "conv",
    "conv_transpose1d": "conv", "conv_transpose2d": "conv", "conv_transpose3d": "conv",
    "max_pool1d": "pool", "max_pool2d": "pool", "max_pool3d": "pool",
    "avg_pool1d": "pool", "avg_pool2d": "pool", "avg_pool3d": "pool",
    "adaptive_avg_pool1d": "pool", "adaptive_avg_pool2d": "pool", "adaptive_avg_pool3d": "pool",
    "adaptive_max_pool1d": "pool", "adaptive_max_pool2d": "pool", "adaptive_max_pool3d": "pool",
    "global_avg_pool": "pool", "global_max_pool": "pool", "lp_pool1d": "pool", "lp_pool2d": "pool",
    "linear": "linear", "flatten": "tensor",
    "batch_norm1d": "norm", "batch_norm2d": "norm", "batch_norm3d": "norm", "layer_norm": "norm", "group_norm": "norm",
    "local_response_norm": "norm", "layer_scale": "norm", "instance_norm1d": "norm", "instance_norm2d": "norm", "instance_norm3d": "norm",
    "relu": "activation", "relu6": "activation", "leaky_relu": "activation", "elu": "activation", "gelu": "activation",
    "silu": "activation", "sigmoid": "activation", "tanh": "activation", "hardswish": "activation", "hardsigmoid": "activation",
    "mish": "activation", "selu": "activation", "celu": "activation", "softplus": "activation", "hardtanh": "activation",
    "log_sigmoid": "activation", "tanhshrink": "activation", "prelu": "activation", "softmax": "activation", "log_softmax": "activation",
    "dropout": "shape", "identity": "shape", "zero_pad": "shape", "center_crop": "shape", "upsample": "shape",
    "add": "merge", "concat": "merge", "multiply": "merge",
    "split": "tensor", "chunk": "tensor", "channel_shuffle": "tensor", "pixel_shuffle": "tensor", "pixel_unshuffle": "tensor",
    "reshape": "tensor", "permute": "tensor", "transpose": "tensor", "unflatten": "tensor", "narrow": "tensor",
    "select": "tensor", "expand": "tensor", "roll": "tensor", "gather": "tensor",
    "mean": "reduce", "sum": "reduce", "amax": "reduce",
    "matmul": "attention", "multihead_attention": "attention", "scaled_dot_product_attention": "attention", "parameter": "attention",
}

# alias -> kind: names PyTorch or habit gives a kind (each is also in its class's ``aliases``)
ALIASES: dict[str, str] = {
    "swish": "silu", "dropout2d": "dropout", "cat": "concat", "view": "reshape", "slice": "narrow", "index": "select",
    "bmm": "matmul", "mha": "multihead_attention", "sdpa": "scaled_dot_product_attention", "index_select": "gather",
}


def classes_in(module) -> dict[str, type[LayerKind]]:
    """The kinds a module defines, by name: its classes, and its ``VARIANTS`` (all built)."""
    return {**_written_in(module), **_variants_of(module)}


def _written_in(module) -> dict[str, type[LayerKind]]:
    """The kinds whose classes a module writes out (built when it is imported)."""
    return {
        value.kind: value for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, LayerKind) and "kind" in vars(value) and value.__module__ == module.__name__
    }


def _variants_of(module) -> Mapping[str, type[LayerKind]]:
    return vars(module).get("VARIANTS", {})


class _Registry(Mapping):
    """kind -> class, the kind's module imported on first lookup."""

    def __init__(self, modules: dict[str, str]):
        self._modules = modules
        self._classes: dict[str, type[LayerKind]] = {}

    def __getitem__(self, kind: str) -> type[LayerKind]:
        cls = self._classes.get(kind)
        if cls is None:
            module = importlib.import_module(f"{__name__}.{self._modules[kind]}")  # KeyError: not a kind
            variants = _variants_of(module)
            if kind in variants:
                cls = self._classes[kind] = variants[kind]
            else:
                self._classes.update(_written_in(module))
                cls = self._classes[kind]
        return cls

    def __contains__(self, kind: object) -> bool:
        return kind in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __repr__(self) -> str:
        return f"KINDS({', '.join(self._modules)})"


KINDS: Mapping[str, type[LayerKind]] = _Registry(_MODULES)
