"""What the importers share: a network graph built one operation at a time from another format.

An importer (ONNX: :mod:`convcalc.interop.onnx_import`; PyTorch:
:mod:`convcalc.interop.torch_import`) walks its source in execution order and calls
:meth:`GraphBuilder.emit` for each layer it recognises, with the kind's arguments, the tensors it
reads and the scope it came from (the module path the exporter recorded). ``emit`` validates the
arguments and folds the layer at once with :func:`convcalc.kinds._run.run`, as the spec builder
does, so ``Graph.results`` holds the fold at the declared input. :meth:`GraphBuilder.finish`
names the rows after their scopes and makes every scope that holds several rows a group (the
table's indentation, ``--depth``, the export's classes), as the module tree is in PyTorch.

Weights
    Each layer names the learned tensors it reads (an initializer, a parameter) with their sizes,
    and its kind's count (parameters + buffers) must equal their sum: on a mismatch the operation
    is an unknown row that counts the tensors' sizes, since a mapping convcalc got wrong must not
    pass silently. A tensor read by a second layer (tied
    weights) is counted once, by the first: the second one's parameters leave it out and a note
    says where it is counted.

Unknown operations
    An operation convcalc has no kind for becomes a row of kind ``unknown``
    (:class:`UnknownOp`): its output shape is the one the source recorded, its parameters the
    sizes of the learned tensors it reads, and its MACs and FLOPs are not counted. Its row carries
    an ``import-unknown-op`` diagnostic and the report's totals are partial (:func:`unknown_ops`;
    the command line exits with ``EXIT_PARTIAL``).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping, Optional, Sequence

from pydantic import ValidationError

from convcalc.errors import LayerError, Position, SpecError, UsageError
from convcalc.graph.model import INPUT, Graph, GroupNode, Node, Port
from convcalc.kinds import KINDS, LayerKind, Result, RFAxis, Tensor
from convcalc.kinds._rf import unknown_axis
from convcalc.kinds._base import format_shape
from convcalc.kinds._run import run

__all__ = ["GraphBuilder", "Live", "Scope", "UnknownOp", "Unsupported", "partial_message", "require", "unknown_ops"]


def require(module: str, what: str, extra: str):
    """An optional dependency, or the usage error that says which ``pip install`` brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError("import-missing-extra", f"{what} needs {module}, which is not installed", hint=f"pip install 'convcalc[{extra}]'") from None


class Unsupported(Exception):
    """An operation (or one use of it) that no convcalc kind describes: the importer records it as
    an :class:`UnknownOp`, with this reason."""


@dataclass(frozen=True)
class Scope:
    """Where an operation came from: the module path (``("layer1", "0", "conv1")``), the class of
    each module on it, and the operation's own name within the innermost one (``"add"``)."""

    path: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    op: str = ""
    source: str = ""  # the source's own name for it (an ONNX node name, an FX node name)


@dataclass(eq=False)
class Live:
    """A tensor the network computes: a port of the graph (channels first, per sample). ``layout``
    is the permutation (of the axes with the batch) that the source's tensor has relative to it,
    when a transpose has not been written as a layer yet: the channels-last stretches of ConvNeXt
    and transformers stay channels-first layers (``layer_norm`` and ``linear`` over the channels)."""

    port: Port
    layout: Optional[tuple[int, ...]] = None
    scope: Optional[Scope] = None  # the transpose's, for the permute written if one is needed
    cache: dict = field(default_factory=dict)

    @property
    def channels_last(self) -> bool:
        """A transposed tensor whose last axis is the channels (ConvNeXt's and ViT's layout)."""
        return self.layout is not None and self.layout[-1] == 1


class UnknownOp(LayerKind):
    """An operation of an imported model that convcalc has no kind for. Its output shapes are the
    ones the source recorded for the input it was recorded with; its MACs and FLOPs are unknown
    (the report says so: never a silent 0)."""

    kind: ClassVar[str] = "unknown"
    summary: ClassVar[str] = "an imported operation convcalc has no kind for: shape as recorded, MACs and FLOPs not counted"
    op: str
    node: str = ""
    reason: str = ""
    weights: int = 0  # elements of the learned tensors it reads: its parameters
    seen: Any = ()  # the input shapes it was recorded with (per sample)
    shapes: Any = ()  # its output shapes (per sample)

    def infer(self, x: Tensor) -> Result:
        return self.infer_many([x])

    def infer_refs(self, x: Optional[Tensor], refs: list[Tensor]) -> Result:
        """An operation that reads no tensor the network computes (``torch.zeros``): the batch's
        input is its reference, not an input."""
        return self.infer_many([] if x is None else [x])

    def infer_many(self, xs: list[Tensor]) -> Result:
        now = tuple(tuple(x.shape) for x in xs)
        if self.seen and now != tuple(self.seen):
            raise LayerError(
                "import-unknown-shape",
                f"{self.op} is an operation convcalc has no kind for; its output is known only for input {', '.join(map(format_shape, self.seen))}, not {', '.join(map(format_shape, now))}",
            )
        message = f"{self.op} (node {self.node!r}): {self.reason or 'no convcalc kind for it'}; its MACs and FLOPs are not counted: the totals are partial"
        return Result(
            shape=tuple(self.shapes[0]), more=tuple(tuple(s) for s in self.shapes[1:]), params=self.weights, rf=self.field(xs), is_global=False,
            notes=(f"unknown {self.op}: MACs and FLOPs not counted",), diagnostics=(("import-unknown-op", message),),
        )


    def field(self, xs: list[Tensor]) -> tuple[RFAxis, ...]:
        """What the operation reads is not known: every spatial axis of its outputs says so (one
        field stands for every output, so only when they have one rank). Reading no tensor the
        network computes (``torch.zeros``), it reads no input: no field."""
        ranks = {len(s) for s in self.shapes}
        if not xs or len(ranks) != 1:
            return ()
        reason = f"{self.op} is an operation convcalc has no kind for: what each output reads is not known"
        return tuple(unknown_axis(reason, n) for n in self.shapes[0][1:])


def unknown_ops(graph: Graph) -> dict[str, list[str]]:
    """Each operation type of the graph that convcalc has no kind for, with its nodes' names."""
    found: dict[str, list[str]] = {}
    for node in graph.nodes:
        if isinstance(node.layer, UnknownOp):
            found.setdefault(node.layer.op, []).append(node.layer.node or node.path)
    return found


def partial_message(graph: Graph) -> Optional[str]:
    """One line naming every unknown operation type, its count and nodes; None when there is none."""
    found = unknown_ops(graph)
    if not found:
        return None
    parts = []
    for op, nodes in found.items():
        shown = ", ".join(nodes[:3]) + (f", ... ({len(nodes) - 3} more)" if len(nodes) > 3 else "")
        parts.append(f"{op} x{len(nodes)} ({shown})")
    return f"{graph.file or graph.name}: the totals are partial: {sum(map(len, found.values()))} operations convcalc has no kind for: {'; '.join(parts)}"


_SUFFIX = re.compile(r"_\d+$")


@dataclass
class _Pending:
    kind: str
    layer: LayerKind
    inputs: tuple[Port, ...]
    scope: Scope
    outputs: int
    refs: tuple[Port, ...] = ()
    written: str = ""


@dataclass
class GraphBuilder:
    """A graph built node by node, each folded as it is added."""

    name: str
    description: str
    input_shape: tuple  # per sample, channels first; symbols are sympy symbols
    batch: Any
    file: str
    source: str  # "onnx" | "torch"
    nodes: list[_Pending] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    conditions: list[tuple[int, Any, Any]] = field(default_factory=list)
    counted: dict[str, str] = field(default_factory=dict)  # learned tensor -> the node that counts it (by index, as text until paths exist)
    shared_notes: dict[int, list[tuple[str, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.symbolic = not all(isinstance(d, int) for d in (*self.input_shape, self.batch))
        if self.symbolic:
            from convcalc.arith._symbolic import start_work

            start_work()
        self.input = Tensor(shape=tuple(self.input_shape), rf=tuple(RFAxis() for _ in self.input_shape[1:]))

    @property
    def where(self) -> Position:
        return Position(self.file or self.name)

    def tensor(self, port: Port) -> Tensor:
        if port.node < 0:
            return self.input
        result = self.results[port.node]
        return Tensor(result.shapes[port.port], result.rf or (), bool(result.is_global), port.node, port.port, len(result.shapes))

    def shape(self, port: Port) -> tuple:
        return tuple(self.tensor(port).shape)

    def emit(self, kind: str, args: Mapping[str, Any], inputs: Sequence[Port], scope: Scope, *, weights: Mapping[str, int] | None = None,
             refs: Sequence[Port] = (), written: str = "") -> tuple[Port, ...]:
        """Add a layer of ``kind`` reading ``inputs``; return its output ports. ``weights``: the
        learned tensors it reads, name -> elements. Raises :class:`Unsupported` when the kind
        refuses the arguments (the importer then records the operation as unknown)."""
        cls = KINDS[kind]
        try:
            layer = cls.model_validate(dict(args))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Unsupported(f"{kind} {dict(args)}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        return self.add(kind, layer, inputs, scope, weights=weights or {}, refs=refs, written=written or kind)

    def emit_unknown(self, op: str, inputs: Sequence[Port], shapes: Sequence[tuple], scope: Scope, *, reason: str = "",
                     weights: Mapping[str, int] | None = None) -> tuple[Port, ...]:
        """An operation convcalc has no kind for, with the output shapes the source recorded."""
        weights = dict(weights or {})
        seen = tuple(self.shape(p) for p in inputs)
        layer = UnknownOp(op=op, node=scope.source, reason=reason, weights=sum(weights.values()), seen=seen, shapes=tuple(tuple(s) for s in shapes))
        return self.add("unknown", layer, inputs, scope, weights=weights, written=op)

    def add(self, kind: str, layer: LayerKind, inputs: Sequence[Port], scope: Scope, *, weights: Mapping[str, int], refs: Sequence[Port] = (),
            written: str = "") -> tuple[Port, ...]:
        if not inputs and not refs:  # a learned tensor reads nothing: it takes the batch of the input
            refs = (INPUT,)
        xs = [self.tensor(p) for p in inputs]
        rs = [self.tensor(p) for p in refs]
        try:
            result, conditions = run(layer, xs, self.symbolic, rs)
        except LayerError as exc:  # the source computes it, so convcalc's kind is what falls short
            raise Unsupported(f"convcalc's {kind} refuses it: {exc.message}") from None
        if result.rf is None or result.is_global is None:
            first = xs[0] if xs else self.input
            result = replace(result, rf=first.rf if result.rf is None else result.rf, is_global=first.is_global if result.is_global is None else result.is_global)
        index = len(self.nodes)
        result = self.count_weights(index, kind, result, weights, scope)
        self.nodes.append(_Pending(kind, layer, tuple(inputs), scope, len(result.shapes), tuple(refs), written))
        self.results.append(result)
        self.conditions += [(index, size, message) for size, message in conditions]
        return tuple(Port(index, p) for p in range(len(result.shapes)))

    def count_weights(self, index: int, kind: str, result: Result, weights: Mapping[str, int], scope: Scope) -> Result:
        """Check the kind's count against the learned tensors it reads; leave out those counted before."""
        if not weights:
            return result
        total = sum(weights.values())
        if kind != "unknown" and isinstance(result.params, int) and result.params + result.buffers != total:
            # never a wrong count: the operation becomes an unknown row with the tensors' own sizes
            raise Unsupported(f"convcalc's {kind} counts {result.params:,} parameters and {result.buffers:,} buffers, but the tensors it reads "
                              f"({', '.join(weights)}) hold {total:,} values")
        shared = [(name, size) for name, size in weights.items() if name in self.counted]
        for name in weights:
            self.counted.setdefault(name, str(index))
        if not shared:
            return result
        self.shared_notes[index] = shared
        return replace(result, params=result.params - sum(size for _, size in shared))

    # -- tensors in the source's layout ---------------------------------------------------------
    def port_of(self, value: Live, scope: Scope) -> Port:
        """The port of a tensor in the source's own layout: a transpose not written yet is written now."""
        if value.layout is None:
            return value.port
        if "port" not in value.cache:
            value.cache["port"] = self.emit("permute", {"dims": list(value.layout)}, [value.port], value.scope or scope)[0]
        return value.cache["port"]

    def full_shape(self, value: Live) -> tuple:
        """The source's shape of a tensor: with the batch, in its layout."""
        canonical = (self.batch, *self.shape(value.port))
        return tuple(canonical[i] for i in value.layout) if value.layout else canonical

    def transposed(self, value: Live, perm: Sequence[int], scope: Scope) -> Live:
        """The tensor with its axes permuted: nothing written until a layer needs it so."""
        perm = list(perm)
        if not perm or perm[0] != 0:
            raise Unsupported(f"a permutation {perm} that moves the batch")
        base = value.layout or tuple(range(len(perm)))
        layout = tuple(base[p] for p in perm)
        if layout == tuple(range(len(perm))):
            return Live(value.port)
        return Live(value.port, layout, scope)

    def unary(self, kind: str, value: Live, scope: Scope, args: Optional[Mapping[str, Any]] = None) -> Live:
        """An element-wise layer on the tensor as it is, keeping a pending transpose."""
        port = self.emit(kind, args or {}, [value.port], scope)[0]
        return Live(port, value.layout, value.scope)

    def wrapped(self, value: Live, scope: Scope) -> Scope:
        """The scope of a layer that reads a pending transpose: the transpose's module when the layer's
        is directly inside it (a module that permutes around another, ``ChannelsLast(nn.LayerNorm)``)."""
        outer = value.scope
        if outer is not None and outer.path and len(scope.path) == len(outer.path) + 1 and scope.path[: len(outer.path)] == outer.path:
            return Scope(outer.path, outer.classes, scope.op, scope.source)
        return scope

    def linear(self, value: Live, out_features: int, bias: bool, weights: Mapping[str, int], scope: Scope) -> Live:
        """A linear layer on the last axis: over the channels of a channels-last tensor, on the
        features of a vector, PyTorch's literal last axis otherwise."""
        args: dict[str, Any] = {"out_features": out_features, **({} if bias else {"bias": False})}
        if value.channels_last:
            port = self.emit("linear", {**args, "axis": "channels"}, [value.port], self.wrapped(value, scope), weights=weights)[0]
            return Live(port, value.layout, value.scope)
        port = self.port_of(value, scope)
        if len(self.shape(port)) > 1:
            args["axis"] = "last"
        return Live(self.emit("linear", args, [port], scope, weights=weights)[0])

    def layer_norm(self, value: Live, normalized: Sequence[Any], args: Mapping[str, Any], weights: Mapping[str, int], scope: Scope) -> Live:
        """Layer norm over the trailing axes ``normalized`` (sizes) of the source's tensor."""
        if len(normalized) == 1 and value.channels_last:  # over the channel vector at every position
            port = self.emit("layer_norm", args, [value.port], self.wrapped(value, scope), weights=weights)[0]
            return Live(port, value.layout, value.scope)
        port = self.port_of(value, scope)
        shape = self.shape(port)
        if tuple(shape[-len(normalized):]) != tuple(normalized) or len(normalized) > len(shape):
            raise Unsupported(f"layer norm over {list(normalized)} of a {format_shape(shape)} tensor")
        if not all(isinstance(d, int) for d in normalized):
            raise Unsupported("layer norm over a symbolic size")
        extra = {} if len(normalized) == len(shape) and len(normalized) == 1 else {"normalized_shape": list(normalized) if len(normalized) > 1 else normalized[0]}
        return Live(self.emit("layer_norm", {**args, **extra}, [port], scope, weights=weights)[0])

    def reshape_to(self, port: Port, target: Sequence[Any], scope: Scope) -> Port:
        """A reshape of the whole tensor to ``target`` (with the batch): the batch must stay first."""
        sample = self.shape(port)
        elements = 1
        for d in sample:
            elements = elements * d
        rest = 1
        for d in target[1:]:
            rest = rest * d
        if not (target and (target[0] == self.batch or rest == elements)):
            raise Unsupported(f"a reshape to {list(target)} that moves the batch")
        new = tuple(target[1:])
        if new == tuple(sample):
            return port
        if len(new) == 1 and len(sample) > 1:
            return self.emit("flatten", {}, [port], scope)[0]
        shape = list(new)
        symbolic = [i for i, d in enumerate(shape) if not isinstance(d, int)]
        if len(symbolic) > 1:
            raise Unsupported("a reshape to several symbolic sizes")
        if symbolic:
            shape[symbolic[0]] = -1
        return self.emit("reshape", {"shape": [int(d) for d in shape]}, [port], scope)[0]

    def describe(self, scope: Scope) -> str:
        where = ".".join((*scope.path, scope.op) if scope.op else scope.path) or scope.source or "?"
        return f"{where} (node {scope.source!r})" if scope.source and scope.source != where else where

    # -- the graph ----------------------------------------------------------------------------
    def finish(self, output: Port, *, names: Optional[Mapping[Port, str]] = None) -> Graph:
        """The graph: rows named after their scopes, scopes with several rows (or a deeper one) as groups."""
        if not self.nodes:
            raise SpecError("import-empty", "the model computes nothing convcalc can count: its output is its input", self.where)
        paths = self._paths()
        groups = self._groups(paths)
        depth_of = [0] * len(self.nodes)
        group_of: list[Optional[int]] = [None] * len(self.nodes)
        for g in groups:  # children come first: a node keeps its innermost group
            for i in range(g.first, g.end):
                depth_of[i] += 1
                if group_of[i] is None:
                    group_of[i] = g.index
        results = list(self.results)
        for index, shared in self.shared_notes.items():
            counted = "; ".join(f"{name} ({size:,}) is counted at {paths[int(self.counted[name])]}" for name, size in shared)
            results[index] = results[index].with_notes(f"shares weights: {counted}")
        nodes = tuple(
            Node(index=i, path=paths[i], name=paths[i].rsplit(".", 1)[-1], kind=p.kind, layer=p.layer, inputs=p.inputs, depth=depth_of[i],
                 pos=self.where, outputs=p.outputs, group=group_of[i], written=p.written, refs=p.refs)
            for i, p in enumerate(self.nodes)
        )
        return Graph(
            name=self.name, description=self.description, input_shape=tuple(self.input_shape), batch=self.batch, nodes=nodes,
            groups=tuple(groups), output=output, results=tuple(results), conditions=tuple(self.conditions), file=self.file,
            source=self.source, names=dict(names or {}),
        )

    def _paths(self) -> list[str]:
        """A row whose scope holds only it is named after the scope (the module: ``layer1.0.conv1``);
        the others after their scope and operation (``layer1.0.add``), numbered when one repeats."""
        count: dict[tuple, int] = {}
        parents: set[tuple] = set()
        for p in self.nodes:
            count[p.scope.path] = count.get(p.scope.path, 0) + 1
            for i in range(len(p.scope.path)):
                parents.add(p.scope.path[:i])
        taken: set[str] = set()
        paths = []
        for p in self.nodes:
            path = p.scope.path
            if path and count[path] == 1 and path not in parents:
                wanted = ".".join(path)
            else:
                op = _segment(_SUFFIX.sub("", p.scope.op) or p.kind)
                wanted = ".".join((*path, op))
            name, i = wanted, 2
            while name in taken:
                name, i = f"{wanted}_{i}", i + 1
            taken.add(name)
            paths.append(name)
        return paths

    def _groups(self, paths: list[str]) -> list[GroupNode]:
        """A group for every scope that holds more than one row, over a contiguous run of rows, or
        one row named after a module inside it (``heads`` holding ``heads.head``: the module tree
        has it, and a spec writes it so)."""
        spans: dict[tuple, list[int]] = {}
        classes: dict[tuple, str] = {}
        for i, p in enumerate(self.nodes):
            for depth in range(1, len(p.scope.path) + 1):
                prefix = p.scope.path[:depth]
                spans.setdefault(prefix, []).append(i)
                if len(p.scope.classes) >= depth and p.scope.classes[depth - 1]:
                    classes.setdefault(prefix, p.scope.classes[depth - 1])
        found = []
        for prefix, members in spans.items():
            deeper = len(members) == 1 and paths[members[0]].count(".") + 1 > len(prefix)
            if (len(members) < 2 and not deeper) or members[-1] - members[0] + 1 != len(members):
                continue
            found.append((prefix, members[0], members[-1] + 1))
        found.sort(key=lambda item: (item[2], -len(item[0])))  # children before their parents
        groups: list[GroupNode] = []
        for index, (prefix, first, end) in enumerate(found):
            depth = sum(1 for other, f, e in found if len(other) < len(prefix) and prefix[: len(other)] == other and f <= first and end <= e)
            entering = self._entering(first, end)
            groups.append(GroupNode(
                index=index, path=".".join(prefix), name=prefix[-1], kind=classes.get(prefix) or "seq", role="seq", depth=depth,
                first=first, end=end, input=entering, output=Port(end - 1, 0), pos=self.where,
            ))
        return [replace(g, parent=_parent_index(g, groups)) for g in groups]

    def _entering(self, first: int, end: int) -> Port:
        for p in self.nodes[first:end]:
            for port in p.inputs:
                if port.node < first:
                    return port
        return INPUT


def _parent_index(g: GroupNode, groups: list[GroupNode]) -> Optional[int]:
    """The smallest group after ``g`` that holds it."""
    best = None
    for other in groups[g.index + 1:]:
        if other.first <= g.first and g.end <= other.end and other.path != g.path and g.path.startswith(other.path + "."):
            if best is None or (other.end - other.first) < (best.end - best.first):
                best = other
    return None if best is None else best.index


def _segment(text: str) -> str:
    return re.sub(r"[.\s]+", "_", text).strip("_") or "op"
