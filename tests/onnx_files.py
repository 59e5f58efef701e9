"""ONNX files for the tests, made by PyTorch's own exporter from convcalc's export of a spec.

``export_onnx`` runs ``torch.onnx.export`` (torch 2.13's default exporter: dynamo, opset 20) on a
model built on the meta device, from an ``ExportedProgram`` when the caller has one, with
``optimize=False``: the default optimizer folds each batch norm into the convolution before it
(``FuseBatchNormIntoConv``), which removes the batch norm's parameters from the file, and the
round trip compares the counts of the spec. The weights have no values on the meta device; the
file points at an external weights file of the right size that holds only zeros (a sparse file:
convcalc reads the weights' shapes, never their values).

Tiny ONNX models for the error and operator tests are built with ``onnx.helper`` (``tiny_model``).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path


def export_onnx(model, input_shape: tuple, path: Path, exported=None, *, optimize: bool = False) -> Path:
    import onnx_ir as ir
    import torch

    warnings.filterwarnings("ignore", module="torch.onnx")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    source = exported if exported is not None else model
    program = torch.onnx.export(source, (torch.zeros((1, *input_shape), device="meta"),), dynamo=True, optimize=optimize, verbose=False)
    data = f"{path.name}.data"
    offset = 0
    for value in program.model.graph.initializers.values():
        tensor = value.const_value
        if tensor is not None and getattr(getattr(tensor, "raw", None), "is_meta", False):
            value.const_value = ir.ExternalTensor(data, offset, tensor.nbytes, tensor.dtype, shape=tensor.shape, name=value.name, base_dir=str(path.parent))
            offset += tensor.nbytes
    with open(path.parent / data, "wb") as handle:
        handle.truncate(offset)  # zeros, and no disk blocks
    ir.save(program.model, str(path))
    return path


def export_source(source: str, class_name: str, input_shape: tuple, path: str) -> str:
    """In a worker process: build convcalc's exported module on the meta device and export it."""
    from convcalc.interop.torch_check import build

    export_onnx(build(source, class_name), tuple(input_shape), Path(path))
    return path


def tiny_model(nodes, inputs, outputs, initializers=(), *, opset: int = 18, value_info=(), path: Path | None = None):
    """A ModelProto (saved to ``path`` when given) from onnx.helper pieces."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(list(nodes), "tiny", list(inputs), list(outputs), list(initializers), value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="convcalc tests")
    model.ir_version = min(model.ir_version, 10)
    if path is not None:
        onnx.save(model, str(path))
    return model


def tensor_info(name: str, shape: list):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def weight(name: str, shape: list):
    import numpy as np
    from onnx import numpy_helper

    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


__all__ = ["export_onnx", "export_source", "tensor_info", "tiny_model", "weight"]
