"""The engine: fold a network graph over (shape, receptive field) and collect frozen rows.

``analyze(spec)`` builds the spec's graph (:mod:`convcalc.graph.build`, which folds it at the
declared input as it goes) and turns the fold into a :class:`Report`. With another
``input_shape`` the same graph is folded again, node by node, in order: its weights stay those the
declared input gave them (a layer's ``in_features`` does not follow the input), so a size at which
a layer would need different weights is refused, naming the layer and both numbers; on a symbolic
size it becomes a condition of the report ("valid if"). A spec whose declared input is itself
symbolic has no fixed weights: its graph is built at the size asked for.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from convcalc.arith._collector import collector_paused
from convcalc.arith.dims import Lazy
from convcalc.errors import LayerError, SpecError
from convcalc.graph.build import MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_SYMBOLIC_LAYERS, build_graph, symbols_of
from convcalc.graph.model import Graph, Port, positional_constructor
from convcalc.kinds import RFAxis, Tensor
from convcalc.kinds._run import run, running_batch
from convcalc.report import Condition, Diagnostic, Expectation, Group, Report, Row
from convcalc.spec import Spec

__all__ = ["MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SYMBOLIC_LAYERS", "analyze", "fold", "report_of"]


def analyze(source: Union[Spec, Graph], *, input_shape: Optional[tuple] = None, batch: Any = None, dtype: str = "float32") -> Report:
    """The report of a spec (or of a graph already built) at its declared input, or at
    ``input_shape``. Raises :class:`SpecError` at the first fault.

    Another channel count is another network (its first layers get other weights): the graph is
    built for it, at the declared spatial size. Other spatial sizes fold the same graph again
    (``fold``), its weights fixed.
    """
    if isinstance(source, Spec):
        declared = source.input
        if input_shape is None or input_shape[0] == declared[0]:
            build_at = None
        else:
            build_at = (input_shape[0], *declared[1:]) if len(input_shape) == len(declared) else tuple(input_shape)
        if not all(isinstance(d, int) for d in declared):  # a symbolic spec: no weights fixed by a size
            build_at = input_shape
        graph = build_graph(source, input_shape=build_at, batch=batch)
    else:
        graph = source
    shape = symbols_of(tuple(input_shape)) if input_shape is not None else graph.input_shape
    if shape == graph.input_shape:
        results, conditions = graph.results, graph.conditions
    else:
        results, conditions = fold(graph, shape)
    batch_value = symbols_of((batch,))[0] if batch is not None else graph.batch
    return report_of(graph, results, conditions, shape, batch_value, dtype)


def fold(graph: Graph, shape: tuple, steps: Optional[dict] = None) -> tuple[tuple, tuple]:
    """The graph's results at another input shape, with the weights of the declared input.

    ``steps`` (a dict, empty at first) keeps each layer's answer by its inputs across folds of one
    graph: folds at many sizes share the layers that see the same input (a layer five stride-2
    steps deep sees one size for 32 input sizes), as ``sizes`` does."""
    symbolic = not all(isinstance(d, int) for d in shape)
    if symbolic:
        from convcalc.arith._symbolic import start_work

        start_work()
    steps = {} if steps is None else steps
    tokens: dict[int, Any] = {-1: ("input", shape)}  # what stands for each node's outputs in a step's key
    outputs: dict[int, tuple[Tensor, ...]] = {-1: (Tensor(shape=shape, rf=tuple(RFAxis() for _ in shape[1:])),)}
    results, conditions = [], []
    cuts = steps.get(_CUTS)
    if cuts is None:
        cuts = steps[_CUTS] = _cuts(graph)
    seen: list[tuple] = []  # the states at the cuts passed, with how far the fold was there
    with collector_paused():  # as in the builder: many small objects, none freed
        with running_batch(graph.batch):  # group norm's rule counts the batch
            for node, declared in zip(graph.nodes, graph.results):
                frontier = cuts.get(node.index)
                if frontier is not None:
                    # the rest of the fold reads only these outputs: if an earlier fold had them, it is that fold's rest
                    state = (_CUTS, node.index, *[tokens[j] for j in frontier])
                    rest = steps.get(state)
                    if rest is not None:
                        done, at, done_conditions, at_condition = rest
                        results.extend(done[at:])
                        conditions.extend(done_conditions[at_condition:])
                        break
                    seen.append((state, len(results), len(conditions)))
                # the same step (node and inputs) answers the same: a step's inputs are known by the steps that made them
                key = (node.index, *[(tokens[p.node], p.port) for p in node.inputs], None, *[(tokens[p.node], p.port) for p in node.refs])
                step = steps.get(key)
                if step is None:
                    step = steps[key] = _step(node, [outputs[p.node][p.port] for p in node.inputs], [outputs[p.node][p.port] for p in node.refs], symbolic, steps)
                if isinstance(step, SpecError):
                    raise step.with_traceback(None)
                result, found, made, token = step
                if (result.params, result.buffers) != (declared.params, declared.buffers):
                    xs = [outputs[p.node][p.port] for p in node.inputs]
                    found = [*found, *_fixed_weights(graph, node, declared, result, xs, shape, symbolic)]
                results.append(result)
                conditions += [(node.index, size, message) for size, message in found]
                tokens[node.index] = token
                outputs[node.index] = made
    results, conditions = tuple(results), tuple(conditions)
    for state, at, at_condition in seen:
        steps[state] = (results, at, conditions, at_condition)
    return results, conditions


def _cuts(graph: Graph) -> dict[int, tuple[int, ...]]:
    """The nodes before which at most one earlier output is still to be read (-1: the input), with
    it: the places where two folds that agree there agree on the rest."""
    last: dict[int, int] = {graph.output.node: len(graph.nodes)}
    for node in graph.nodes:
        for p in (*node.inputs, *node.refs):
            last[p.node] = max(last.get(p.node, -1), node.index)
    cuts: dict[int, tuple[int, ...]] = {}
    live: set[int] = {-1} if -1 in last else set()
    for node in graph.nodes:
        live = {j for j in live if last.get(j, -1) >= node.index}
        if len(live) <= 1:
            cuts[node.index] = tuple(live)
        if last.get(node.index, -1) > node.index:
            live.add(node.index)
    return cuts


def _step(node, xs: list, refs: list, symbolic: bool, steps: dict) -> Any:
    """A node run on its inputs: (result, conditions, output tensors, the token of their value), or
    the fault, located. Outputs of the same value get the same token, whichever fold made them."""
    try:
        result, found = run(node.layer, xs, symbolic, refs)
    except LayerError as exc:
        return SpecError(exc.code, f"{node.path} ({node.kind}): {exc.message}", node.pos, exc.hint)
    values = steps.setdefault(_VALUES, {})
    token = values.setdefault((result.shapes, result.rf, bool(result.is_global)), len(values))
    return result, found, tuple(Tensor(s, result.rf, bool(result.is_global), node.index, port, 1) for port, s in enumerate(result.shapes)), token


_VALUES = ("values",)  # the key, among a fold's steps, of the tokens of output values
_CUTS = ("cuts",)  # the key of the graph's cuts, and the first item of the states at them


def _fixed_weights(graph: Graph, node, declared, result, xs, shape, symbolic) -> list:
    """A layer whose weights would differ from those the declared input gave it."""
    was = _input_text(graph, node)
    now = ", ".join(str(tuple(x.shape)) for x in xs)
    if not symbolic:
        raise SpecError(
            "shape-fixed-weights",
            f"{node.path} ({node.kind}): its {declared.params:,} parameters were made for input {was} (the spec's input "
            f"{tuple(graph.input_shape)}); at input {tuple(shape)} it gets {now}, which would need {result.params:,}",
            node.pos,
            "a network's weights are fixed by its input: change the spec's input, or make this layer's input independent of the size (an adaptive pool)",
        )
    difference = (result.params - declared.params) + (result.buffers - declared.buffers)
    return [(_Equal(difference), Lazy(lambda: f"input {now} must be {was}, the input its weights were made for"))]


class _Equal:
    """A condition that a symbolic difference be 0 (not >= 1): the weights fixed by the declared input."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any):
        self.expr = expr

    def __repr__(self) -> str:
        return f"{self.expr} == 0"


def _input_text(graph: Graph, node) -> str:
    shapes = [graph.input_shape if p.node < 0 else graph.results[p.node].shapes[p.port] for p in node.inputs]
    return ", ".join(str(tuple(s)) for s in shapes)


def report_of(graph: Graph, results: tuple, conditions: tuple, shape: tuple, batch: Any, dtype: str) -> Report:
    """Rows, groups, diagnostics and conditions of one fold of the graph."""
    shapes: dict[int, tuple] = {-1: (shape,)}
    rows: list[Row] = []
    diagnostics: list[Diagnostic] = []
    written: dict[int, tuple[Any, dict]] = {}  # a layer's arguments, once per layer (copies share layers)
    trained = {-1: False}  # whether a tensor depends on weights: then a training step needs its gradient
    with collector_paused():  # as in the fold: a row is many small objects, none freed
        append = rows.append
        make_row = positional_constructor(Row)  # Row(*fields), at a seventh of the cost
        for node, result in zip(graph.nodes, results):
            outputs = shapes[node.index] = (result.shape,) if not result.more else result.shapes
            inputs = node.inputs
            if len(inputs) == 1:  # most layers: the tuples of one input written out
                p = inputs[0]
                needs, input_shapes, sources, ports = (trained[p.node],), (shapes[p.node][p.port],), (p.node,), (p.port,)
            else:
                needs = tuple([trained[p.node] for p in inputs])
                input_shapes = tuple([shapes[p.node][p.port] for p in inputs])
                sources, ports = tuple([p.node for p in inputs]), tuple([p.port for p in inputs])
            layer = node.layer
            trained[node.index] = any(needs) or bool(result.params) or node.shares is not None
            known, args = written.get(id(layer), (None, None))
            if known is not layer:
                args = layer.model_dump(exclude_defaults=True)
                written[id(layer)] = (layer, args)
            if result.extra:
                args = {**args, **result.extra}
            row = make_row(
                node.index, node.path, node.name, node.kind, node.depth, input_shapes, tuple(result.shape),
                result.params, result.buffers, result.macs, result.flops, tuple(result.rf), bool(result.is_global), sources,
                node.pos, result.notes, result.formulas, args, outputs, ports, layer, node.functional,
                layer.backward_macs(input_shapes, result, needs),
            )
            append(row)
            if result.notes:
                for note in result.notes:
                    if note.startswith("branches misaligned"):
                        diagnostics.append(Diagnostic("rf-misaligned", f"{row.path}: {note}", row.pos))
            for code, message in result.diagnostics:
                diagnostics.append(Diagnostic(code, f"{row.path} ({row.kind}): {message}", row.pos))
        report_conditions = []
        for index, size, message in conditions:
            row = rows[index]
            text = Lazy(lambda m=message, r=row: f"{r.path} ({r.kind}): {m}")
            if isinstance(size, _Equal):
                report_conditions.append(Condition(row.path, size.expr, text, row.pos, equal=True))
            else:
                report_conditions.append(Condition(row.path, size, text, row.pos))
        make_group = positional_constructor(Group)
        groups = tuple([
            make_group(g.path, g.name, g.kind, g.depth, g.first, g.end, _tensor_shape(shapes, g.output), g.pos)
            for g in graph.groups
        ])  # with the collector still off: it would walk every row made above, again and again
    return Report(
        name=graph.name, description=graph.description, input_shape=shape, batch=batch,
        output_shape=_tensor_shape(shapes, graph.output), rows=tuple(rows), groups=groups,
        diagnostics=tuple(diagnostics), expectations=tuple(Expectation(e.path, e.key, e.expected, e.pos) for e in graph.expectations),
        conditions=tuple(report_conditions), dtype=dtype, file=graph.file, graph=graph,
    )


def _tensor_shape(shapes: dict[int, tuple], port: Port) -> tuple:
    return tuple(shapes[port.node][port.port])
