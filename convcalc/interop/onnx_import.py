"""Read an ONNX file into a convcalc graph, with the ``onnx`` package only (no runtime, no torch).

    graph = load_onnx("resnet50.onnx")           # folded at the file's input shape
    report = convcalc.analyze(graph)

How a file is read
- The file is parsed with ``onnx`` without its external weights: convcalc needs the initializers'
  shapes, not their values (it reads the value of a small integer one, a shape or an axis list,
  from the external file when it is there).
- Every tensor's first axis is the batch; convcalc's shapes are per sample, channels first. A
  dimension written as a name (``N``, ``height``) is a symbol; the first axis of the input is the
  batch.
- Shape subgraphs are folded to constants as the nodes come, in order: ``Shape`` of a tensor is its
  shape (convcalc's fold knows every tensor's shape), and ``Gather``, ``Concat``, ``Slice``,
  ``Unsqueeze``, ``Cast``, arithmetic ... on constants are computed, as exporters write them
  before a ``Reshape``, an ``Expand`` or a zero bias.
- Every other node is one layer of a convcalc kind (:data:`HANDLERS`), or several nodes are one
  layer when they spell out a kind the exporter decomposed (``x * sigmoid(x)`` is SiLU, a
  ``MatMul`` and the ``Add`` of a bias are a linear layer, the ten nodes of PyTorch's
  ``local_response_norm``). A ``Transpose`` to channels-last is not a layer of its own while the
  nodes after it act on the channel vector at every position (ConvNeXt's layer norm and linear
  layers): they become those kinds on the channels-first tensor, and the transpose is written as
  a ``permute`` only where something needs the other layout.
- An initializer read by a layer is a learned tensor: the layer's count of parameters and buffers
  must equal their sizes. A tensor that two nodes read is counted once.
- A node convcalc has no kind for is an ``unknown`` row (:class:`convcalc.interop._imported.UnknownOp`)
  with the output shape the file records (its ``value_info``, or ONNX shape inference when the
  file has none), its MACs and FLOPs uncounted, the totals marked partial.
- Rows are named after the modules the exporter recorded: torch.onnx's dynamo exporter writes the
  module path of each node (``pkg.torch.onnx.name_scopes``), the TorchScript one writes it into
  node names (``/layer1/layer1.0/conv1/Conv``); otherwise a row is named after its node.

Errors: a file that is not ONNX, truncated or inconsistent is ``onnx-invalid`` (exit 1); a missing
file ``io-missing``, an opset outside :data:`OPSETS` ``onnx-opset``, a model with several inputs
``onnx-inputs``, a missing ``onnx`` package ``import-missing-extra`` (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from convcalc.arith.dims import prod, sympy_module
from convcalc.errors import Position, SpecError, UsageError, read_errors
from convcalc.graph.model import INPUT, Graph, Port
from convcalc.interop._imported import GraphBuilder, Scope, Unsupported
from convcalc.interop._onnx_fold import fold
from convcalc.interop._onnx_ops import HANDLERS
from convcalc.interop._onnx_patterns import find_patterns
from convcalc.interop._targets import is_onnx_path
from convcalc.interop._onnx_values import (
    MAX_FOLDED,
    Const,
    Live,
    Pieces,
    attributes,
    exact,
    require_onnx,
    scope_of,
)

__all__ = ["MAX_FILE_BYTES", "OPSETS", "is_onnx_path", "load_onnx", "require_onnx"]

OPSETS = range(11, 25)  # the default domain's versions whose operators convcalc reads
MAX_FILE_BYTES = 2**31  # protobuf's own limit: larger models keep their weights in external files
_FLOATS = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16: the types of learned tensors


# -- reading the file ---------------------------------------------------------------------------


def _read(path: Path, shown: str):
    onnx = require_onnx()
    from google.protobuf.message import DecodeError

    where = Position(shown)
    if path.is_dir():
        raise UsageError("io-directory", "this is a directory, not an ONNX file", where)
    if path.exists() and not path.is_file():  # a FIFO or a device: reading it could wait forever
        raise UsageError("io-not-a-file", "not a regular file: convcalc reads an ONNX model from a file", where)
    with read_errors(where):
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError("limit-file-size", f"file is larger than {MAX_FILE_BYTES >> 20} MB, protobuf's limit (MAX_FILE_BYTES)", where)
        data = path.read_bytes()
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise SpecError("onnx-invalid", f"not an ONNX model, or a truncated one: {exc or 'the protobuf does not parse'}", where) from None
    if not model.HasField("graph") or not model.opset_import or not (model.graph.node or model.graph.input):
        what = "no graph" if not model.HasField("graph") or not model.graph.input else "no opset"
        raise SpecError("onnx-invalid", f"not an ONNX model ({what}); an ONNX file holds a protobuf ModelProto", where)
    return model


def _opset(model, where: Position) -> int:
    versions = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = versions.get("ai.onnx")
    if version is None:
        raise SpecError("onnx-invalid", "the model imports no version of the default ONNX operator set", where)
    if version not in OPSETS:
        raise UsageError(
            "onnx-opset", f"opset {version}: convcalc reads ONNX opsets {OPSETS.start} to {OPSETS.stop - 1}", where,
            "re-export the model with an opset in that range, e.g. torch.onnx.export(..., opset_version=18)",
        )
    return version


def load_onnx(target: str, *, input_shape: Optional[tuple] = None, batch: Any = None) -> Graph:
    """The graph of an ONNX file, folded at its input shape (or ``input_shape``: per sample,
    channels first, which must keep the file's channel count)."""
    path = Path(target)
    model = _read(path, target)
    where = Position(target)
    opset = _opset(model, where)
    if model.functions:
        from onnx import inliner

        model = inliner.inline_local_functions(model)
    return _Importer(model, target, path.parent, opset).run(input_shape, batch)


# -- the importer -----------------------------------------------------------------------------


def _owner_scope(node, scope: Scope, initializers: set) -> Scope:
    """A layer's module is the one its weight is named after (``layer1.0.conv1.weight``) when the
    recorded scope says otherwise: torch.onnx's optimizer folds a batch norm into the convolution
    before it and keeps the batch norm's scope on the result."""
    if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul") or len(node.input) < 2:
        return scope
    weight = node.input[1]
    if weight not in initializers or not weight.endswith(".weight"):
        return scope
    path = tuple(weight[: -len(".weight")].split("."))
    if path == scope.path or not all(path):
        return scope
    common = 0
    while common < min(len(path), len(scope.path)) and path[common] == scope.path[common]:
        common += 1
    return Scope(path, scope.classes[:common] + ("",) * (len(path) - common), scope.op, scope.source)


class _Importer:
    def __init__(self, model, file: str, base_dir: Path, opset: int):
        self.model = model
        self.graph = model.graph
        self.file = file
        self.base_dir = base_dir
        self.opset = opset
        self.where = Position(file)
        self.values: dict[str, Any] = {}
        self.recorded: dict[str, Any] = {}  # tensor -> its TypeProto, from the file (value_info, outputs)
        self.inferred = False
        self.builder: Optional[GraphBuilder] = None

    # -- errors ------------------------------------------------------------------------------
    def invalid(self, message: str) -> SpecError:
        return SpecError("onnx-invalid", message, self.where)

    # -- setup -------------------------------------------------------------------------------
    def run(self, input_shape: Optional[tuple], batch: Any) -> Graph:
        g = self.graph
        init_names = self.graph_initializers = {t.name for t in g.initializer}
        for t in g.initializer:
            self.values[t.name] = self.initializer(t)
        for t in g.sparse_initializer:
            raise self.invalid(f"sparse initializer {t.values.name!r}: convcalc does not read sparse tensors")
        inputs = [i for i in g.input if i.name not in init_names]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise UsageError("onnx-inputs", f"convcalc reads networks with one input; this model has {len(inputs)}: {names}", self.where)
        for info in (*g.value_info, *g.output):
            self.recorded[info.name] = info.type
        first = inputs[0]
        self.input_names = {d.dim_param for d in first.type.tensor_type.shape.dim if d.HasField("dim_param")}
        dims = self.type_dims(first.type, first.name)
        if not dims:
            raise UsageError("onnx-inputs", f"input {first.name!r} has no shape: convcalc needs at least its rank", self.where)
        file_batch, sample = dims[0], tuple(dims[1:])
        if input_shape is not None:
            if len(input_shape) != len(sample) or input_shape[0] != sample[0]:
                raise UsageError("usage-input", f"--input {'x'.join(map(str, input_shape))}: the model's input is {_shape_text(sample)} per sample "
                                 f"(channels first); give its channel count and as many sizes")
            from convcalc.graph.build import symbols_of

            sample = symbols_of(tuple(input_shape))
        if batch is not None:
            file_batch = batch
        name = self.graph.name if self.graph.name not in ("", "main_graph", "torch_jit", "torch-jit-export") else Path(self.file).stem
        producer = f"{self.model.producer_name} {self.model.producer_version}".strip()
        description = f"Imported from the ONNX file {Path(self.file).name}" + (f" (written by {producer}" if producer else "") + \
            (f", opset {self.opset})" if producer else f" (opset {self.opset})") + "."
        if self.model.doc_string or self.graph.doc_string:
            description += " " + (self.model.doc_string or self.graph.doc_string).strip()
        self.builder = GraphBuilder(name=name, description=description, input_shape=sample, batch=file_batch, file=self.file, source="onnx")
        self.values[first.name] = Live(INPUT)
        self.walk()
        outputs = list(g.output)
        if not outputs:
            raise self.invalid("the graph has no output")
        out = self.values.get(outputs[0].name)
        if not isinstance(out, Live):
            raise self.invalid(f"the output {outputs[0].name!r} is {'a constant' if out is not None else 'never computed'}: nothing to count")
        port = self.live(out, Scope((), (), "output"))
        graph = self.builder.finish(port)
        if len(outputs) > 1:
            from dataclasses import replace

            others = ", ".join(o.name for o in outputs[1:])
            graph = replace(graph, description=graph.description + f" Its other outputs ({others}) are computed by rows of the table but are not the output convcalc reports.")
        return graph

    def initializer(self, tensor) -> Const:
        from onnx import numpy_helper

        shape = tuple(int(d) for d in tensor.dims)
        size = prod(shape)

        def load():
            if size > MAX_FOLDED:
                return None
            if tensor.data_location == 1:  # EXTERNAL: read only this one, when its value is asked for
                from onnx.external_data_helper import load_external_data_for_tensor

                copy = type(tensor)()
                copy.CopyFrom(tensor)
                try:
                    load_external_data_for_tensor(copy, str(self.base_dir))
                except (OSError, ValueError) as exc:
                    raise self.invalid(f"initializer {tensor.name!r}: its external data cannot be read ({exc})") from None
                return numpy_helper.to_array(copy)
            return numpy_helper.to_array(tensor)

        learned = {tensor.name: size} if tensor.data_type in _FLOATS else {}
        return Const(shape, learned=learned, dtype=tensor.data_type, loader=load)

    def type_dims(self, type_proto, name: str) -> Optional[list]:
        """A tensor type's dims: ints, or sympy symbols for named or unknown dims."""
        if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
            return None
        dims = []
        for i, d in enumerate(type_proto.tensor_type.shape.dim):
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                label = d.dim_param if d.HasField("dim_param") and d.dim_param.isidentifier() else f"{_identifier(name)}_{i}"
                dims.append(sympy_module().Symbol(label, integer=True, positive=True))
        return dims

    # -- the walk ----------------------------------------------------------------------------
    def walk(self) -> None:
        nodes = list(self.graph.node)
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(nodes):
            for name in node.output:
                if name:
                    self.producer[name] = i
            for position, name in enumerate(node.input):
                if name and not (node.op_type == "CastLike" and position == 1):  # that one gives only its type
                    self.consumers.setdefault(name, []).append(i)
        for out in self.graph.output:
            self.consumers.setdefault(out.name, []).append(len(nodes))
        patterns = find_patterns(nodes, self.producer, self.consumers, {i.name for i in self.graph.input if i.name not in self.graph_initializers})
        absorbed = {i for anchor, p in patterns.items() for i in p.nodes if i != anchor}
        for i, node in enumerate(nodes):
            if i in absorbed:
                continue
            pattern = patterns.get(i)
            if pattern is not None:
                scope = _common_scope([scope_of(nodes[j]) for j in pattern.nodes])
                try:
                    outs = pattern.emit(self, scope)
                except Unsupported:
                    for j in pattern.nodes:
                        self.step(j, nodes[j])
                    continue
                self.bind(node, outs)
                continue
            self.step(i, node)

    def step(self, index: int, node) -> None:
        for position, name in enumerate(node.input):
            if name and name not in self.values and not (node.op_type == "CastLike" and position == 1 and name in self.producer):
                raise self.invalid(f"node {node.name or index!r} ({node.op_type}) reads {name!r}, which no node before it writes (the graph is not in order, or incomplete)")
        ins = [self.values.get(name) if name else None for name in node.input]
        attrs = attributes(node)
        domain = node.domain or "ai.onnx"
        op = node.op_type if domain == "ai.onnx" else f"{domain}.{node.op_type}"
        scope = _owner_scope(node, scope_of(node), self.graph_initializers)
        if op in ("Shape", "Size") or not any(isinstance(v, (Live, Pieces)) for v in ins):
            self.bind(node, fold(self, node, op, ins, attrs))  # constants, and the shapes of tensors: computed, not layers
            return
        handler = HANDLERS.get(op) if domain == "ai.onnx" else None
        try:
            if handler is None:
                raise Unsupported(f"no convcalc kind for the ONNX operator {op}")
            outs = handler(self, node, ins, attrs, scope)
        except Unsupported as exc:
            outs = self.unknown(node, op, ins, scope, str(exc))
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as exc:  # a use of the operator convcalc did not foresee
            outs = self.unknown(node, op, ins, scope, f"convcalc could not read this use of it ({type(exc).__name__}: {exc})")
        self.bind(node, outs)

    def bind(self, node, outs: Sequence[Any]) -> None:
        for name, value in zip(node.output, outs):
            if name:
                self.values[name] = value

    # -- what handlers use -------------------------------------------------------------------
    @property
    def batch(self) -> Any:
        return self.builder.batch

    def emit(self, kind: str, args: dict, inputs: Sequence[Port], scope: Scope, weights: Optional[dict] = None, refs: Sequence[Port] = ()) -> tuple[Port, ...]:
        return self.builder.emit(kind, args, inputs, scope, weights=weights, refs=refs)

    def live(self, value: Live, scope: Scope) -> Port:
        return self.builder.port_of(value, scope)

    def full_shape(self, value: Any) -> tuple:
        """The file's shape of a tensor: with the batch, in its layout."""
        return tuple(value.shape) if isinstance(value, Const) else self.builder.full_shape(value)

    def const(self, value: Any, what: str) -> Any:
        """The value of a constant input; Unsupported if it is computed by the network or unknown."""
        if not isinstance(value, Const):
            raise Unsupported(f"{what} is computed by the network, not a constant")
        got = value.get()
        if got is None:
            raise Unsupported(f"{what} is a constant convcalc does not compute")
        return got

    def ints(self, value: Any, what: str) -> list:
        import numpy as np

        array = np.asarray(self.const(value, what))
        return [exact(v) for v in array.reshape(-1).tolist()]

    def recorded_shape(self, name: str) -> Optional[list]:
        """A tensor's shape as the file records it; ONNX shape inference (with data propagation)
        runs once if it records none, or one with a dim it does not know (``unk__3``)."""
        found = self.recorded.get(name)
        if (found is None or self.unknown_dims(found)) and not self.inferred:
            self.inferred = True
            try:
                from onnx import shape_inference

                inferred = shape_inference.infer_shapes(self.model, strict_mode=False, data_prop=True)
                for info in (*inferred.graph.value_info, *inferred.graph.output):
                    if info.name not in self.recorded or self.unknown_dims(self.recorded[info.name]) > self.unknown_dims(info.type):
                        self.recorded[info.name] = info.type
            except Exception:  # noqa: BLE001 - inference is a best effort: without it the shape stays unknown
                pass
            found = self.recorded.get(name)
        return None if found is None else self.type_dims(found, name)

    def unknown_dims(self, type_proto) -> int:
        """Dims of a recorded type that are neither numbers nor names the input declares."""
        if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
            return 1
        return sum(1 for d in type_proto.tensor_type.shape.dim if not d.HasField("dim_value") and d.dim_param not in self.input_names)

    def recorded_const(self, name: str, ins: list) -> Const:
        learned: dict = {}
        for v in ins:
            if isinstance(v, Const):
                learned.update(v.learned)
        shape = self.recorded_shape(name)
        return Const(tuple(shape) if shape is not None else (), learned=learned)

    def unknown(self, node, op: str, ins: list, scope: Scope, reason: str) -> list:
        """A node convcalc has no kind for: a row with the shapes the file records."""
        ports = [self.live(v, scope) for v in ins if isinstance(v, Live)]
        weights: dict = {}
        for v in ins:
            if isinstance(v, Const):
                weights.update(v.learned)
        shapes = []
        for name in node.output:
            dims = self.recorded_shape(name) if name else None
            if dims is None:
                raise UsageError(
                    "onnx-shape-unknown",
                    f"node {node.name!r} ({op}): {reason}, and the file records no shape for its output {name!r}: convcalc cannot go on", self.where,
                    "run onnx.shape_inference.infer_shapes on the model and save it, or export it with the shapes",
                )
            shapes.append(tuple(dims[1:]))  # the batch first, as every tensor of the file
        outs = self.builder.emit_unknown(op, ports, shapes, scope, reason=reason, weights=weights)
        return [Live(p) for p in outs]


def _common_scope(scopes: list[Scope]) -> Scope:
    """The innermost module holding every node of a pattern; the last node names the operation."""
    path = scopes[0].path
    for s in scopes[1:]:
        n = 0
        while n < min(len(path), len(s.path)) and path[n] == s.path[n]:
            n += 1
        path = path[:n]
    last = scopes[-1]
    return Scope(path, last.classes[: len(path)], last.op if last.path == path else (scopes[-1].path[len(path)] if len(scopes[-1].path) > len(path) else last.op), last.source)


def _identifier(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in text).strip("_") or "d"
    return cleaned if cleaned[0].isalpha() else f"d{cleaned}"


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)

