"""Export a network as readable PyTorch source: ``export_torch(report)``.

The export walks the report's graph (:mod:`convcalc.graph`), never the spec: the module tree is
the graph's group tree, and every module is named after its row's path segment, so that a module's
qualified name is its row's path (``layer2.0.downsample.0``) and the state_dict keys read like
``print(model)``. How each layer kind is written is the kind's own business (``LayerKind.torch``).

How the code is laid out
- A group whose layers form a plain chain (each reads only the one before) is an
  ``nn.Sequential``; any other group (residual adds, parallel branches, named tensors, merges) is a
  class with a ``forward`` that follows the graph's edges, one statement per step. A group that
  reads a tensor from outside takes it as an argument of ``forward``; one whose tensor is read
  after it returns it too.
- A block of the spec (``blocks:``) is a class named after it. Its constructor takes the channels
  entering it and the block parameters its code uses; an argument written as an expression in the
  block (``${planes * 4}``) is that expression, in Python. Uses of a block share one class as long
  as their code is the same; a use whose code differs (a ``when:`` that drops a layer) gets a class
  of its own (``Bottleneck2``).
- Every expression is checked against the value convcalc computed for that use (it is evaluated
  with the use's parameters); one that would not give the same value is written as the value.
  So the code is right by construction, whatever the expression language allows.
- The root class is named after the network; running the file builds it, prints its parameter
  count and runs it once on a zero input.

A kind with no PyTorch translation, or a symbolic input size, is an :class:`UsageError`
(``export-unsupported``) at its place in the spec; nothing is dropped silently. ``TorchExport``
also gives, for each report row, the qualified name of the module that computes it (``None`` for
one written in ``forward``): the parity tests hook those modules.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from convcalc import __version__
from convcalc.errors import LayerError, UsageError
from convcalc.graph.model import INPUT, Graph, GroupNode, Node, Port
from convcalc.interop._torch_code import (
    GROUP_NAMES,
    IO,
    MAX_LINE,
    RESERVED,
    Scope,
    Variables,
    call,
    camel,
    compress,
    docstring,
    format_class,
    identifier,
    indent,
    literal,
    param,
    same,
)
from convcalc.kinds import KINDS
from convcalc.kinds._base import TORCH_HELPERS, Torch
from convcalc.report import Report, Row

__all__ = ["TorchExport", "export_torch", "layer_source"]

@dataclass(frozen=True)
class TorchExport:
    """The source of a module, its class name, and for each report row the qualified name of the
    module that computes it (``None`` for a layer written in ``forward``)."""

    source: str
    class_name: str
    modules: tuple[Optional[str], ...]


def export_torch(report: Report) -> TorchExport:
    """Write the report's network as a PyTorch module. Raises :class:`UsageError`
    (``export-unsupported``) at a layer that cannot be exported."""
    graph = report.graph
    if graph is None:
        raise UsageError("export-unsupported", "cannot export to PyTorch: this report has no graph")
    if not all(isinstance(d, int) for d in report.input_shape):
        raise UsageError(
            "export-unsupported", f"cannot export to PyTorch: the input {list(map(str, report.input_shape))} has symbolic sizes",
            graph.nodes[0].pos if graph.nodes else None, "give a size with --input",
        )
    writer = _Writer(graph, report)
    return writer.write()


def layer_source(kind: str, args: dict, input_shape: tuple, written: Optional[str] = None) -> str:
    """A module ``Case`` of one layer on ``input_shape``, without an analysis: the parity tests ask
    PyTorch about layers convcalc refuses."""
    try:
        layer = KINDS[kind].model_validate(args)
    except ValueError:  # PyTorch may still have its say about arguments convcalc refuses
        layer = KINDS[kind].model_construct(**args)
    io = IO(layer, written or kind, None, {}, [literal(input_shape[0])], [tuple(input_shape)], [tuple(input_shape)], set(args))
    code = layer.torch(io)
    needed = set(code.helpers)
    for name in list(needed):
        needed.update(TORCH_HELPERS[name][1])
    helpers = "\n\n\n".join(TORCH_HELPERS[name][0] for name in TORCH_HELPERS if name in needed)
    forward = "self.layer(x)" if code.module else code.function.format("x", refs="[]")
    init = f"        self.layer = {code.module}\n" if code.module else ""
    return (
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n\n" + (helpers + "\n\n\n" if helpers else "")
        + f"class Case(nn.Module):\n    def __init__(self):\n        super().__init__()\n{init}\n    def forward(self, x):\n        return {forward}\n"
    )


# -- the writer ----------------------------------------------------------------------------------


@dataclass
class _Class:
    name: str
    text: str  # the whole definition
    params: list[str]  # Python names of the constructor's parameters after in_channels
    out: Optional[str]  # the output channels, in the parameters (None: not expressible)
    base: str = ""  # the name it was wanted under (the block's), before variants were told apart
    attrs: set[str] = field(default_factory=set)  # its modules' names


@dataclass
class _Built:
    """A group (or node) as a module expression in its parent, and what its modules are named."""

    expr: str
    out: str  # output channels, as code in the parent's scope
    names: dict[int, str] = field(default_factory=dict)  # node index -> module name relative to this module


class _Writer:
    def __init__(self, graph: Graph, report: Report):
        self.graph, self.report = graph, report
        self.rows: tuple[Row, ...] = report.rows
        self.children: dict[Optional[int], list[tuple[str, int]]] = {}  # group (None: root) -> ("node"|"group", index)
        self.helpers: set[str] = set()
        self.classes: dict[str, _Class] = {}  # text key -> class
        self.order: list[_Class] = []
        self.taken: set[str] = set(TORCH_HELPERS) | RESERVED
        self.readers: dict[Port, list[int]] = {}
        self._tree()

    # -- structure ---------------------------------------------------------------------------
    def _tree(self) -> None:
        graph = self.graph
        groups = graph.groups
        depth = {}
        for g in reversed(groups):  # parents come after their children
            depth[g.index] = 0 if g.parent is None else depth[g.parent] + 1
        flat = {g.index for g in groups if self.side_by_side(g)}

        def module_parent(key: Optional[int]) -> Optional[int]:
            while key in flat:
                key = groups[key].parent
            return key

        owner: list[Optional[int]] = [None] * len(graph.nodes)
        for g in sorted(groups, key=lambda g: depth[g.index]):  # deeper groups overwrite
            if g.index not in flat:
                for i in range(g.first, g.end):
                    owner[i] = g.index
        items: dict[Optional[int], list[tuple[int, int, str, int]]] = {}
        for node in graph.nodes:
            items.setdefault(owner[node.index], []).append((node.index, 1, "node", node.index))
        for g in groups:
            if g.end > g.first and g.index not in flat:
                items.setdefault(module_parent(g.parent), []).append((g.first, 0, "group", g.index))
        for key, found in items.items():
            self.children[key] = [(what, index) for _, _, what, index in sorted(found)]
        for node in graph.nodes:
            for port in (*node.inputs, *node.refs):
                self.readers.setdefault(port, []).append(node.index)

    def side_by_side(self, g: GroupNode) -> bool:
        """A repeat whose copies name themselves (``denselayer${i + 1}``): the copies sit side by
        side in the parent, as torchvision's modules do; the repeat is no module of its own."""
        return g.role == "repeat" and g.end > g.first and not self.graph.nodes[g.first].path.startswith(g.path + ".")

    def span(self, key: Optional[int]) -> tuple[int, int]:
        if key is None:
            return 0, len(self.graph.nodes)
        g = self.graph.groups[key]
        return g.first, g.end

    def externals(self, key: int) -> list[Port]:
        """Tensors a group's nodes read that come from before it (other than its input)."""
        first, end = self.span(key)
        entering = self.graph.groups[key].input
        found: list[Port] = []
        for node in self.graph.nodes[first:end]:
            for port in (*node.inputs, *node.refs):
                if (port.node < first) and port != entering and port not in found:
                    found.append(port)
        return found

    def exported(self, key: int) -> list[Port]:
        """Tensors made inside a group and read after it (other than its output)."""
        first, end = self.span(key)
        out = self.graph.groups[key].output
        found = []
        for port, readers in self.readers.items():
            if first <= port.node < end and port != out and any(r >= end for r in readers):
                found.append(port)
        return sorted(found, key=lambda p: (p.node, p.port))

    def is_chain(self, key: Optional[int]) -> bool:
        """Each child reads only the one before; one tensor in, one out: an ``nn.Sequential``."""
        if key is not None and (self.externals(key) or self.exported(key)):
            return False
        current = INPUT if key is None else self.graph.groups[key].input
        for what, index in self.children.get(key, []):
            if what == "node":
                node = self.graph.nodes[index]
                code = self.torch_of(node)
                if node.inputs != (current,) or node.refs or node.outputs != 1 or code.module is None or code.function is not None or node.shares is not None:
                    return False
                current = Port(index, 0)
            else:
                child = self.graph.groups[index]
                if child.input != current or self.externals(index) or self.exported(index):
                    return False
                current = child.output
        output = self.graph.output if key is None else self.graph.groups[key].output
        return current == output

    # -- layers ------------------------------------------------------------------------------
    def channels_of(self, port: Port) -> Any:
        shape = self.report.input_shape if port.node < 0 else self.rows[port.node].output_shapes[port.port] if self.rows[port.node].output_shapes else self.rows[port.node].output_shape
        return shape[0] if shape else 1

    def shape_of(self, port: Port) -> tuple:
        if port.node < 0:
            return tuple(self.report.input_shape)
        row = self.rows[port.node]
        return tuple(row.output_shapes[port.port] if row.output_shapes else row.output_shape)

    def io(self, node: Node, codes: dict[Port, str], scope: Optional[Scope]) -> IO:
        row = self.rows[node.index]
        outs = list(row.output_shapes or (row.output_shape,))
        return IO(node.layer, node.written or node.kind, node.template, {}, [codes.get(p) or repr(self.channels_of(p)) for p in node.inputs],
                   [self.shape_of(p) for p in node.inputs], outs, set(node.layer.model_fields_set), scope)

    def torch_of(self, node: Node, codes: Optional[dict[Port, str]] = None, scope: Optional[Scope] = None):
        try:
            io = self.io(node, codes or {}, scope)
            code = node.layer.torch(io)
            if node.functional and code.function is None:
                code = Torch(function=node.layer.torch_function(io), helpers=code.helpers + ("F",))
        except LayerError as exc:
            raise UsageError("export-unsupported", f"cannot export to PyTorch: {node.path} ({node.kind}): {exc.message}", node.pos, exc.hint) from None
        self.helpers.update(code.helpers)
        return code

    def out_code(self, node: Node, codes: dict[Port, str], scope: Optional[Scope]) -> str:
        code = node.layer.torch_channels(self.io(node, codes, scope))
        concrete = self.channels_of(Port(node.index, 0))
        return scope.channels(code, concrete) if scope is not None else repr(concrete)

    # -- groups as modules -------------------------------------------------------------------
    def segment(self, what: str, index: int) -> str:
        path = self.graph.nodes[index].path if what == "node" else self.graph.groups[index].path
        return path.rsplit(".", 1)[-1]

    def build(self, key: int, c_in: str, scope: Optional[Scope]) -> _Built:
        """Group ``key`` as a module expression in a parent whose scope is ``scope``. A class of its
        own (not a block's) sees the same parameters, with its own ``in_channels``."""
        g = self.graph.groups[key]
        if g.role == "block":
            return self.block(key, c_in, scope)
        if self.is_chain(key):
            return self.sequential(key, c_in, scope)
        inner = scope.nested(self.channels_of(g.input)) if scope is not None else Scope({"in_channels": self.channels_of(g.input)})
        cls, names, out = self.class_of(key, inner, base=None)
        if scope is not None:
            scope.used |= set(cls.params)
        args = [c_in] + [f"{p}={p}" for p in cls.params]
        return _Built(call(cls.name, args), self.substitute_out(cls, out, c_in, {p: p for p in cls.params}, scope, g.output), names)

    def sequential(self, key: Optional[int], c_in: str, scope: Optional[Scope]) -> _Built:
        """A chain as ``nn.Sequential(...)``: positional when its children are numbered 0, 1, ...;
        else with the children's names."""
        entering = INPUT if key is None else self.graph.groups[key].input
        codes = {entering: c_in}
        exprs, labels, names = [], [], {}
        current, out = entering, c_in
        for what, index in self.children.get(key, []):
            label = self.segment(what, index)
            if what == "node":
                node = self.graph.nodes[index]
                exprs.append(self.torch_of(node, codes, scope).module)
                out = self.out_code(node, codes, scope)
                names[index] = label
                current = Port(index, 0)
            else:
                built = self.build(index, codes[current], scope)
                exprs.append(built.expr)
                out = built.out
                names.update({n: f"{label}.{q}" if q else label for n, q in built.names.items()})
                current = self.graph.groups[index].output
            codes[current] = out
            labels.append(label)
        if labels == [str(i) for i in range(len(labels))]:
            return _Built(call("nn.Sequential", compress(exprs)), out, names)
        self.helpers.add("OrderedDict")
        pairs = [f"({json.dumps(label)}, {expr})" for label, expr in zip(labels, exprs)]
        one_line = f"nn.Sequential(OrderedDict([{', '.join(pairs)}]))"
        if len(one_line) <= MAX_LINE and "\n" not in one_line:
            return _Built(one_line, out, names)
        return _Built("nn.Sequential(OrderedDict([\n" + "".join(indent(pair) + ",\n" for pair in pairs) + "]))", out, names)

    def block(self, key: int, c_in: str, scope: Optional[Scope]) -> _Built:
        """A block use: an instance of the block's class, its parameters given as written."""
        g = self.graph.groups[key]
        info = self.graph.blocks.get(g.block)
        cls, names, out = self.class_of(key, Scope(dict(g.params)), base=g.block, doc=info.description if info else "")
        defaults = dict(info.params) if info else {}
        given = g.template if isinstance(g.template, dict) else {}
        args = [c_in]
        mapping = {}
        for python in cls.params:
            spec_name = next((n for n in g.params if param(n) == python), python)
            value = g.params[spec_name]
            code = scope.expression(given[spec_name], value) if scope is not None and spec_name in given else None
            code = code or literal(value)
            mapping[python] = code
            if spec_name not in defaults or defaults[spec_name] is None or not same(defaults[spec_name], value):
                args.append(f"{python}={code}")
        return _Built(call(cls.name, args), self.substitute_out(cls, out, c_in, mapping, scope, g.output), names)

    def substitute_out(self, cls: _Class, out: Optional[str], c_in: str, mapping: dict[str, str], scope: Optional[Scope], port: Port) -> str:
        """A class's output channels, in the parent's terms."""
        concrete = self.channels_of(port)
        if out is None or scope is None:
            return repr(concrete)
        tree = ast.parse(out, mode="eval")

        class Sub(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.expr:
                if node.id == "in_channels":
                    return ast.parse(f"({c_in})", mode="eval").body
                if node.id in mapping:
                    return ast.parse(f"({mapping[node.id]})", mode="eval").body
                return node

        return scope.channels(ast.unparse(Sub().visit(tree)), concrete)

    def class_of(self, key: Optional[int], scope: Optional[Scope], base: Optional[str], doc: str = "") -> tuple[_Class, dict[int, str], Optional[str]]:
        """The class of a group (the root when ``key`` is None): written once for every group
        whose code is the same."""
        g = None if key is None else self.graph.groups[key]
        chain = self.is_chain(key)
        if chain:
            body, names, out, params = self.sequential_class(key, "in_channels" if key is not None else repr(self.channels_of(INPUT)), scope)
        else:
            body, names, out, params = self.module_class(key, scope)
        attrs = {q.split(".", 1)[0] for q in names.values()}
        wanted = camel(base or (g.name or g.path.rsplit(".", 1)[-1] if g is not None else self.graph.name) or "Block")
        if key is not None and base is None and g is not None and not g.name:
            parent = self.graph.groups[g.parent] if g.parent is not None else None
            wanted = camel(f"{parent.block or parent.name if parent else self.graph.name} {g.role}")
        defaults = dict(self.graph.blocks[base].params) if base in self.graph.blocks else {}
        python_defaults = {param(n): v for n, v in defaults.items() if v is not None}
        params = [p for p in params if p not in python_defaults] + [p for p in params if p in python_defaults]
        signature = ["self"] + (["in_channels"] if key is not None else []) + [
            f"{p}={literal(python_defaults[p])}" if p in python_defaults else p for p in params
        ]
        text_key = (wanted, "\n".join(body), tuple(signature))
        found = self.classes.get(repr(text_key))
        if found is None:
            first = next((c for c in self.order if c.base == wanted), None)
            extra = sorted(attrs - first.attrs) if first is not None else []
            # named after what it adds (BasicDownsample); numbered when that is a list (DenseBlock2: more layers)
            name = self.fresh_class(wanted + "".join(camel(a) for a in extra) if 0 < len(extra) <= 2 else wanted)
            superclass = "nn.Sequential" if chain else "nn.Module"
            lines = [f"class {name}({superclass}):", indent(docstring(doc or self.doc_of(key))), "", indent(f"def __init__({', '.join(signature)}):")]
            lines += [indent(line, 2) for line in body]
            found = _Class(name, "\n".join(lines), params, out, wanted, attrs)
            self.classes[repr(text_key)] = found
            self.order.append(found)
        return found, names, out

    def doc_of(self, key: Optional[int]) -> str:
        if key is None:
            return self.graph.description or self.graph.name
        g = self.graph.groups[key]
        return f"{g.role} `{g.path}` of the spec." if g.role != "block" else f"The spec's block `{g.block}`."

    def fresh_class(self, wanted: str) -> str:
        name, i = wanted, 2
        while name in self.taken:
            name, i = f"{wanted}{i}", i + 1
        self.taken.add(name)
        return name

    def sequential_class(self, key: Optional[int], c_in: str, scope: Optional[Scope]) -> tuple[list[str], dict[int, str], Optional[str], list[str]]:
        built = self.sequential(key, c_in, scope)
        call = built.expr.replace("nn.Sequential(", "super().__init__(", 1)
        params = sorted(scope.used, key=list(scope.values).index) if scope is not None else []
        params = [p for p in params if p != "in_channels"]
        return call.split("\n"), built.names, built.out, params

    def module_class(self, key: Optional[int], scope: Optional[Scope]) -> tuple[list[str], dict[int, str], Optional[str], list[str]]:
        """``__init__``'s body and ``forward`` of a class that follows the graph, step by step."""
        entering = INPUT if key is None else self.graph.groups[key].input
        output = self.graph.output if key is None else self.graph.groups[key].output
        externals = [] if key is None else self.externals(key)
        exported = [] if key is None else self.exported(key)
        codes: dict[Port, str] = {entering: "in_channels" if key is not None else repr(self.channels_of(entering))}
        for port in externals:
            codes[port] = repr(self.channels_of(port))
        init, forward, names = ["super().__init__()"], [], {}
        variables = Variables(self.graph.names, set(scope.values) if scope is not None else set())
        variables.bind(entering, "x")
        for port in externals:
            variables.name(port)
        attrs: set[str] = set()
        steps = self.children.get(key, [])
        last_read = self.last_reads(steps, output, exported)
        for step, (what, index) in enumerate(steps):
            label = self.segment(what, index)
            if what == "node":
                node = self.graph.nodes[index]
                code = self.torch_of(node, codes, scope)
                ins = [variables[p] for p in node.inputs]
                refs = [variables[p] for p in node.refs]
                if node.shares is not None:  # tied weights: the module of the layer it shares them with
                    if node.shares not in names:
                        owner = self.graph.nodes[node.shares].path
                        raise UsageError("export-unsupported", f"cannot export to PyTorch: {node.path} shares the weights of {owner}, which is in another module here", node.pos,
                                         "share weights between layers of the same block or group")
                    value = f"self.{names[node.shares]}({', '.join(ins)})"
                    outs = [Port(index, 0)]
                    codes[outs[0]] = self.out_code(node, codes, scope)
                    forward += variables.assign(outs, value, step, last_read, reads_x="x" in ins, label=label)
                    continue
                held = code.module or code.state
                attr = self.attribute(label if not label.isdigit() else type(node.layer).short_name(), attrs) if held else ""
                if held:
                    init.append(f"self.{attr} = {held}")
                if code.module is not None:
                    names[index] = attr
                if code.function is None:
                    value = f"self.{attr}({', '.join(ins)})"
                else:
                    value = code.function.format(*ins, attr=f"self.{attr}", refs="[" + ", ".join(refs) + "]", ref0=refs[0] if refs else "")
                outs = [Port(index, p) for p in range(node.outputs)]
                codes[outs[0]] = self.out_code(node, codes, scope)
            else:
                child = self.graph.groups[index]
                built = self.build(index, codes.get(child.input) or repr(self.channels_of(child.input)), scope)
                attr = self.attribute(label if not label.isdigit() else GROUP_NAMES.get(child.role, child.block or "block"), attrs)
                init.append(f"self.{attr} = {built.expr}")
                names.update({n: f"{attr}.{q}" if q else attr for n, q in built.names.items()})
                ins = [variables[child.input]] + [variables[p] for p in self.externals(index)]
                value = f"self.{attr}({', '.join(ins)})"
                outs = [child.output, *self.exported(index)]
                codes[child.output] = built.out
            forward += variables.assign(outs, value, step, last_read, reads_x="x" in ins, label=label)
        forward.append(f"return {', '.join([variables[output]] + [variables[p] for p in exported])}")
        arguments = ["self", "x"] + [variables[p] for p in externals]
        body = [*init, "", f"\x00def forward({', '.join(arguments)}):", *(f"\x00    {line}" for line in forward)]
        params = sorted(scope.used, key=list(scope.values).index) if scope is not None else []
        return body, names, codes.get(output), [p for p in params if p != "in_channels"]

    def last_reads(self, steps: list[tuple[str, int]], output: Port, exported: list[Port]) -> dict[Port, int]:
        """For each tensor, the last step of this class that reads it (past the end for its outputs)."""
        found: dict[Port, int] = {}
        for step, (what, index) in enumerate(steps):
            if what == "node":
                node = self.graph.nodes[index]
                reads = [*node.inputs, *node.refs]
            else:
                child = self.graph.groups[index]
                reads = [child.input, *self.externals(index)]
            for port in reads:
                found[port] = step
        for port in (output, *exported):
            found[port] = len(steps)
        return found

    def attribute(self, label: str, taken: set[str]) -> str:
        name = identifier(label, "layer")
        base, i = name, 2
        while name in taken:
            name, i = (f"{base}_{i}" if base[-1].isdigit() else f"{base}{i}"), i + 1
        taken.add(name)
        return name

    # -- the file ----------------------------------------------------------------------------
    def write(self) -> TorchExport:
        root, names, _ = self.class_of(None, None, base=None, doc=self.graph.description or self.graph.name)
        modules = tuple(names.get(row.index) for row in self.rows)
        body = [self.header(), *self.helper_sources(), *(format_class(c.text) for c in self.order), self.main(root.name)]
        return TorchExport("\n\n\n".join(body) + "\n", root.name, modules)

    def header(self) -> str:
        report, graph = self.report, self.graph
        t = report.totals
        shape = "x".join(str(d) for d in report.input_shape)
        lines = [
            f"{graph.name} in PyTorch, exported by convcalc {__version__} from {graph.file}.", "",
            f"convcalc's counts for one {shape} input:",
            f"    output shape  {tuple(report.output_shape)}",
            f"    parameters    {t.params:,}",
            f"    MACs          {t.macs:,} (multiply-accumulates of the convolution and linear layers)",
            f"    FLOPs         {t.flops:,}", "",
            "Running this file builds the model, prints its parameter count and runs it once on a zero",
            "input. It needs only PyTorch.",
        ]
        imports = []
        if "OrderedDict" in self.helpers:
            imports.append("from collections import OrderedDict\n")
        imports.append("import torch")
        if self.helpers & {"SamePad", "F"}:
            imports.append("import torch.nn.functional as F")
        imports.append("from torch import nn")
        return docstring("\n".join(lines)) + "\n\n" + "\n".join(imports)

    def helper_sources(self) -> list[str]:
        needed = {h for h in self.helpers if h in TORCH_HELPERS}
        for name in list(needed):
            needed.update(TORCH_HELPERS[name][1])
        return [TORCH_HELPERS[name][0] for name in TORCH_HELPERS if name in needed]

    def main(self, root: str) -> str:
        shape = ", ".join(str(d) for d in (1, *self.report.input_shape))
        return "\n".join([
            'if __name__ == "__main__":',
            f"    model = {root}().eval()",
            '    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
            "    with torch.no_grad():",
            f"        output = model(torch.zeros({shape}))",
            '    print(f"output: {tuple(output.shape)}")',
        ])
