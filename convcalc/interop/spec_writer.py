"""Write a graph as a spec a person can read and edit: ``write_spec(graph)`` (``convcalc import -o``).

The spec is the graph's own tree: a group (a module of the source) is a ``seq`` named after it, a
layer an item named after its path segment (the name is left out where it is the item's index), so
analysing the spec gives every row the path it had. Tensors a layer reads other than the one
before it get an ``id:`` where they are made, and ``input:`` (or ``inputs:`` for a merge) where
they are read.

Repeated structures
    A group that reads only the tensor entering it and lets out only its output is a candidate
    block. Groups with the same structure (the same layers, arguments and paths, the same edges)
    are uses of one block, found from the top down: the largest repeated groups become blocks and
    what is inside them is written once, in the block. An argument that is the same at every use is
    written as it is; one that differs is a block parameter, unless it is the channel count
    entering the block (``$in_channels``) or a multiple of it, the same as another parameter, or a
    multiple of one (``${out_channels * 4}``). A ``seq`` whose items are all uses of one block with
    the same parameters is written as one use with ``repeat:``.

What cannot be written: an operation convcalc has no kind for (the spec could not be analysed), a
layer that reads the network's input after another layer (a spec names no tensor before its first
layer), weight tensors shared by two layers (written without ``share:``, a spec would count them twice). Each is a :class:`UsageError`
(``spec-write``, exit 2).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional

import yaml

from convcalc.errors import UsageError
from convcalc.graph.model import INPUT, Graph, GroupNode, Node, Port
from convcalc.interop._imported import unknown_ops
from convcalc.kinds import ALIASES, KINDS
from convcalc.spec.model import BLOCK_INPUT, PREVIOUS, STRUCTURAL

__all__ = ["write_spec"]

_INDENT = "  "


def write_spec(graph: Graph, *, expect: Optional[dict] = None) -> str:
    """The YAML text of a spec of ``graph``. ``expect``: model-level expectations to write (the
    output shape, params, MACs the source gave), so that ``convcalc check`` holds the spec to them."""
    unknown = unknown_ops(graph)
    if unknown:
        listed = "; ".join(f"{op} x{len(nodes)} ({', '.join(nodes[:3])})" for op, nodes in unknown.items())
        raise UsageError("spec-write", f"cannot write a spec: the model has operations convcalc has no kind for: {listed}",
                         hint="a spec can hold only convcalc's kinds; `convcalc summary` shows the model with those rows")
    shared = [n.path for n, r in zip(graph.nodes, graph.results) if any(note.startswith("shares weights") for note in r.notes)]
    if shared:
        raise UsageError("spec-write", f"cannot write a spec: {', '.join(shared[:3])} share weights with layers before them (weight tensors), which the spec writer does not write as `share:` (written without, they would be counted twice)")
    return _Writer(graph).write(expect)


# -- the tree -----------------------------------------------------------------------------------


@dataclass
class _Item:
    """A layer (``node``) or a group of items (``group``: a module of the source, or a path
    segment that groups consecutive layers)."""

    segment: str
    node: Optional[Node] = None
    group: Optional[GroupNode] = None
    children: list["_Item"] = field(default_factory=list)
    path: str = ""

    @property
    def first(self) -> int:
        return self.node.index if self.node is not None else self.children[0].first

    @property
    def end(self) -> int:
        return self.node.index + 1 if self.node is not None else self.children[-1].end


def _relative(path: str, prefix: str) -> list[str]:
    return (path[len(prefix) + 1:] if prefix else path).split(".")


def _build(graph: Graph) -> _Item:
    """The items under the root, nested by the groups and by the segments of the paths."""
    children: dict[Optional[int], list] = {}
    owner: list[Optional[int]] = [None] * len(graph.nodes)
    depth = {}
    for g in reversed(graph.groups):
        depth[g.index] = 0 if g.parent is None else depth.get(g.parent, 0) + 1
    for g in sorted(graph.groups, key=lambda g: depth[g.index]):
        for i in range(g.first, g.end):
            owner[i] = g.index
    for node in graph.nodes:
        children.setdefault(owner[node.index], []).append((node.index, 1, "node", node))
    for g in graph.groups:
        children.setdefault(g.parent, []).append((g.first, 0, "group", g))

    def make(key: Optional[int], prefix: str) -> list[_Item]:
        items = []
        for _, _, what, obj in sorted(children.get(key, []), key=lambda c: (c[0], c[1])):
            if what == "node":
                items.append(_Item("", node=obj, path=obj.path))
            else:
                items.append(_Item("", group=obj, children=make(obj.index, obj.path), path=obj.path))
        return _nest(items, prefix)

    return _Item("", children=make(None, ""), path="")


def _nest(items: list[_Item], prefix: str) -> list[_Item]:
    """Give each item its segment; consecutive items whose paths go deeper than one segment
    below ``prefix`` are nested in a group named after the segment they share."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        parts = _relative(items[i].path, prefix)
        if len(parts) == 1:
            items[i].segment = parts[0]
            out.append(items[i])
            i += 1
            continue
        head = parts[0]
        j = i
        while j < len(items) and len(_relative(items[j].path, prefix)) > 1 and _relative(items[j].path, prefix)[0] == head:
            j += 1
        inner_prefix = f"{prefix}.{head}" if prefix else head
        out.append(_Item(head, children=_nest(items[i:j], inner_prefix), path=inner_prefix))
        i = j
    return out


# -- the writer ---------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """A YAML value on one line (flow style)."""
    if isinstance(value, Fraction):
        value = str(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text[:-4].strip() if text.endswith("\n...") or text.endswith(" ...") else text.replace("\n...", "")


def _flow(args: dict) -> str:
    return "{" + ", ".join(f"{k}: {_template_value(v)}" for k, v in args.items()) + "}"


def _template_value(value: Any) -> str:
    if isinstance(value, _Expr):
        return value.text if "{" not in value.text else f'"{value.text}"'
    return _scalar(value)


@dataclass(frozen=True)
class _Expr:
    """A block parameter reference or expression, written as is (``$out``) or quoted (``"${out * 4}"``)."""

    text: str


class _Writer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.root = _build(graph)
        self.readers: dict[Port, list[int]] = {}
        for node in graph.nodes:
            for port in (*node.inputs, *node.refs):
                self.readers.setdefault(port, []).append(node.index)
        self.shapes = {-1: (graph.input_shape,)}
        for node, result in zip(graph.nodes, graph.results):
            self.shapes[node.index] = result.shapes
        self.blocks: dict[Any, "_Block"] = {}  # signature -> block
        self.block_of: dict[int, tuple["_Block", int]] = {}  # id(item) -> (block, use index)
        self.names: set[str] = set()

    def channels(self, port: Port) -> Any:
        shape = self.shapes[port.node][port.port]
        return shape[0] if shape else 1

    # -- structure of groups -----------------------------------------------------------------
    def entering(self, item: _Item) -> Port:
        """The tensor a group starts from: the first one its layers read from before it."""
        first = item.first
        for node in self.nodes_of(item):
            for port in (*node.inputs, *node.refs):
                if port.node < first:
                    return port
        return INPUT

    def output(self, item: _Item) -> Port:
        return Port(item.end - 1, 0) if item.node is None else Port(item.node.index, 0)

    def nodes_of(self, item: _Item) -> list[Node]:
        return [item.node] if item.node is not None else [n for c in item.children for n in self.nodes_of(c)]

    def self_contained(self, item: _Item) -> bool:
        """Reads only the tensor entering it; lets out only its output (a block's scope is its own)."""
        first, end, entering = item.first, item.end, self.entering(item)
        for node in self.nodes_of(item):
            for port in (*node.inputs, *node.refs):
                if port.node < first and port != entering:
                    return False
        out = self.output(item)
        for port, readers in self.readers.items():
            if first <= port.node < end and port != out and any(r >= end for r in readers):
                return False
        return self.graph.nodes[end - 1].outputs == 1

    def signature(self, item: _Item, entering: Port, first: Optional[int] = None) -> Any:
        """The structure of a group: what must be equal for two groups to be uses of one block
        (tensors counted from the group's first layer)."""
        first = item.first if first is None else first
        parts = []
        for child in item.children:
            if child.node is not None:
                node = child.node
                refs = tuple(self.relative(p, first, entering) for p in (*node.inputs, *node.refs))
                parts.append(("node", child.segment, node.kind, node.written, tuple(sorted(self.args(node))), refs, node.outputs))
            else:
                parts.append(("group", child.segment, self.signature(child, entering, first)))
        return tuple(parts)

    def relative(self, port: Port, first: int, entering: Port) -> Any:
        if port == entering:
            return ("in",)
        if port.node >= first:
            return ("at", port.node - first, port.port)
        return ("out", port.node, port.port)

    def args(self, node: Node) -> dict[str, Any]:
        """The layer's arguments as a spec writes them: those different from the defaults, no ``inputs``."""
        values = node.layer.model_dump(exclude_defaults=True)
        values.pop("inputs", None)
        return {k: _plain(v) for k, v in values.items()}

    # -- blocks ------------------------------------------------------------------------------
    def find_blocks(self) -> None:
        candidates: dict[Any, list[_Item]] = {}

        def visit(item: _Item) -> None:
            for child in item.children:
                if child.node is None:
                    if len(self.nodes_of(child)) >= 2 and self.self_contained(child):
                        candidates.setdefault(self.signature(child, self.entering(child)), []).append(child)
                    visit(child)

        visit(self.root)
        taken: set[int] = set()

        def choose(item: _Item) -> None:
            for child in item.children:
                if child.node is not None:
                    continue
                key = self.signature(child, self.entering(child)) if self.self_contained(child) and len(self.nodes_of(child)) >= 2 else None
                uses = [u for u in candidates.get(key, []) if id(u) not in taken] if key is not None else []
                if key is not None and len(candidates.get(key, [])) >= 2 and any(u is child for u in uses):
                    block = self.blocks.get(key)
                    if block is None:
                        block = self.blocks[key] = _Block(self, key, uses)
                    self.block_of[id(child)] = (block, block.index(child))
                    taken.add(id(child))
                    continue
                choose(child)

        choose(self.root)
        for block in self.blocks.values():
            block.prepare()
        _name_blocks(list(self.blocks.values()))

    # -- text --------------------------------------------------------------------------------
    def write(self, expect: Optional[dict]) -> str:
        graph = self.graph
        self.find_blocks()
        lines = [f"# Written by convcalc import from {graph.file or graph.name}: `convcalc summary` of this spec gives the counts of the model."]
        lines.append(f"name: {_scalar(graph.name)}")
        description = graph.description.strip()
        used = [b for b in self.blocks.values() if b.written]
        if used:
            description += f" Repeated modules are written once each as blocks: {', '.join(f'{b.name} ({len(b.uses)} uses)' for b in used)}."
        lines += ["description: |", *(_INDENT + line for line in _wrap(description))]
        lines.append(f"input: {_scalar([_dim(d) for d in graph.input_shape])}")
        if used:
            lines.append("blocks:")
            for block in used:
                lines += [_INDENT + line for line in block.text()]
        lines.append("layers:")
        ids = _Ids(self, None)
        lines += [_INDENT + line for line in self.items(self.root.children, INPUT, ids, in_block=False)]
        if expect:
            lines.append(f"expect: {_flow(expect)}")
        return "\n".join(lines) + "\n"

    def items(self, children: list[_Item], entering: Port, ids: "_Ids", *, in_block: bool, template: Optional["_Block"] = None) -> list[str]:
        """The lines of a list of items starting from tensor ``entering``."""
        lines: list[str] = []
        previous = entering
        for index, child in enumerate(children):
            lines += self.item(child, index, previous, ids, in_block=in_block, template=template)
            previous = self.output(child)
        return lines

    def item(self, child: _Item, index: int, previous: Port, ids: "_Ids", *, in_block: bool, template: Optional["_Block"]) -> list[str]:
        meta: list[str] = []
        if child.segment != str(index):
            meta.append(f"name: {_scalar(child.segment)}")
        if child.node is not None:
            node = child.node
            head, extra = self.layer(node, previous, ids, template)
            meta += extra
            outputs = [Port(node.index, p) for p in range(node.outputs)]
            named = ids.define(outputs, child.segment) if any(ids.needed(p) for p in outputs) or node.outputs > 1 else None
            if named is not None:
                meta.append(f"id: {_scalar(named if node.outputs > 1 else named[0])}")
            return [f"- {head}", *(f"  {line}" for line in meta)]
        entering = self.entering(child)
        if entering != previous:
            meta.append(f"input: {ids.name(entering)}")
        found = self.block_of.get(id(child)) if not in_block else None
        out = self.output(child)
        named = ids.define([out], child.segment) if ids.needed(out) else None
        if named is not None:
            meta.append(f"id: {_scalar(named[0])}")
        if found is not None:
            block, use = found
            params = block.params_of(use)
            head = f"{block.name}: {_flow(params)}" if params else f"{block.name}:"
            return [f"- {head}", *(f"  {line}" for line in meta)]
        repeat = self.repeat_of(child)
        if repeat is not None and not in_block:
            block, use, count = repeat
            params = block.params_of(use)
            head = f"{block.name}: {_flow(params)}" if params else f"{block.name}:"
            return [f"- {head}", *(f"  {line}" for line in meta), f"  repeat: {count}"]
        body = self.items(child.children, entering, ids, in_block=in_block, template=template)
        return ["- seq:", *(f"    {line}" for line in body), *(f"  {line}" for line in meta)]

    def repeat_of(self, item: _Item):
        """A group whose items are uses of one block with the same parameters, numbered from 0."""
        uses = [self.block_of.get(id(c)) for c in item.children]
        if len(uses) < 2 or any(u is None for u in uses) or any(c.segment != str(i) for i, c in enumerate(item.children)):
            return None
        blocks = {id(b) for b, _ in uses}
        if len(blocks) != 1:
            return None
        block = uses[0][0]
        params = [block.params_of(u) for _, u in uses]
        if any(p != params[0] for p in params):
            return None
        return block, uses[0][1], len(uses)

    def layer(self, node: Node, previous: Port, ids: "_Ids", template: Optional["_Block"]) -> tuple[str, list[str]]:
        """``kind: {args}`` and the item's ``input:`` line, if it needs one."""
        args = template.args_of(node) if template is not None else self.args(node)
        extra: list[str] = []
        kind = node.written if node.written and ALIASES.get(node.written) == node.kind else node.kind
        cls = KINDS[node.kind]
        if "inputs" in cls.model_fields and (len(node.inputs) != 1 or node.inputs[0] != previous):
            args = {**args, "inputs": [PREVIOUS if p == previous else ids.name(p) for p in node.inputs]}
        elif cls.n_inputs == 0:
            if node.refs and node.refs[0] != previous:
                extra.append(f"input: {ids.name(node.refs[0])}")
        elif node.inputs and node.inputs[0] != previous:
            extra.append(f"input: {ids.name(node.inputs[0])}")
        head = f"{kind}: {_flow(args)}" if args else f"{kind}:"
        return head, extra


def _dim(d: Any) -> Any:
    return d if isinstance(d, int) else str(d)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _wrap(text: str, width: int = 96) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(), ""
        for word in words:
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


class _Ids:
    """The ids of one scope (the network's, or a block's): which tensors need one, their names."""

    def __init__(self, writer: _Writer, block_input: Optional[Port], members: Optional[set[int]] = None):
        self.writer = writer
        self.block_input = block_input
        self.members = members  # the nodes of the block being written (None: the whole network)
        self.of: dict[Port, str] = {}
        self.taken: set[str] = {PREVIOUS, BLOCK_INPUT}

    def needed(self, port: Port) -> bool:
        """Read by an item other than as the tensor before it."""
        if not hasattr(self.writer, "named_reads"):
            self.writer.named_reads = _named_reads(self.writer)
        return port in self.writer.named_reads and (self.members is None or port.node in self.members)

    def define(self, ports: list[Port], segment: str) -> Optional[list[str]]:
        """Names for ``ports``; None when they have theirs already (given on an enclosing item)."""
        if all(p in self.of for p in ports):
            return None
        names = []
        for i, port in enumerate(ports):
            base = re.sub(r"\W+", "_", segment).strip("_") or "t"
            if base[0].isdigit():
                base = f"t{base}"
            wanted = base if len(ports) == 1 else f"{base}_{i}"
            name, n = wanted, 2
            while name in self.taken:
                name, n = f"{wanted}_{n}", n + 1
            self.taken.add(name)
            self.of[port] = name
            names.append(name)
        return names

    def name(self, port: Port) -> str:
        if port == self.block_input:
            return BLOCK_INPUT
        if port not in self.of:
            if port == INPUT:
                raise UsageError("spec-write", "cannot write a spec: a layer reads the network's input after the first layer, and a spec names no tensor before its first layer")
            raise UsageError("spec-write", f"cannot write a spec: tensor {port} is read before convcalc named it (please report this)")
        return self.of[port]


def _named_reads(writer: _Writer) -> set[Port]:
    """The tensors some item reads other than as the one before it: each needs an ``id:``."""
    found: set[Port] = set()

    def walk(children: list[_Item], entering: Port, block_input: Optional[Port]) -> None:
        previous = entering
        for child in children:
            if child.node is not None:
                node = child.node
                cls = KINDS[node.kind]
                read = node.refs if cls.n_inputs == 0 else node.inputs  # a merge names `previous` for the one before
                found.update(p for p in read if p != previous and p != block_input)
            else:
                start = writer.entering(child)
                if start != previous and start != block_input:
                    found.add(start)
                inner = start if id(child) in writer.block_of else block_input  # inside a block, its input is block_input
                walk(child.children, start, inner)
            previous = writer.output(child)

    walk(writer.root.children, INPUT, None)
    return found


class _Block:
    """A block: the structure several groups share, its parameters, and each use's values."""

    def __init__(self, writer: _Writer, key: Any, uses: list[_Item]):
        self.writer = writer
        self.key = key
        self.uses = list(uses)
        self.name = ""
        self.written = True
        self.params: list[str] = []
        self.values: list[dict[str, Any]] = []  # per use: param -> value
        self.slots: dict[tuple[int, str], Any] = {}  # (offset of the layer in the block, argument) -> literal or _Expr

    def index(self, item: _Item) -> int:
        return next(i for i, u in enumerate(self.uses) if u is item)

    def prepare(self) -> None:
        """Arguments equal at every use are literals; the others parameters, simplified."""
        w = self.writer
        firsts = [u.first for u in self.uses]
        c_ins = [w.channels(w.entering(u)) for u in self.uses]
        per_use = [{(n.index - f, k): v for n in w.nodes_of(u) for k, v in w.args(n).items()} for u, f in zip(self.uses, firsts)]
        fresh: list[tuple[tuple[int, str], list]] = []  # the slots that need a parameter of their own, with their values
        refers: dict[tuple[int, str], tuple[int, str]] = {}  # slot -> (the fresh slot it follows, how: "" or a ratio)
        for slot in per_use[0]:
            values = [p[slot] for p in per_use]
            if all(v == values[0] for v in values):
                self.slots[slot] = values[0]
                continue
            expr = _in_channels(values, c_ins)
            if expr is not None:
                self.slots[slot] = _Expr(expr)
                continue
            for index, (_, existing) in enumerate(fresh):
                how = "" if existing == values else _ratio(existing, values)
                if how is not None:
                    refers[slot] = (index, how)
                    break
            else:
                refers[slot] = (len(fresh), "")
                fresh.append((slot, values))
        by_arg = Counter(arg for (_, arg), _ in fresh)
        names = []
        for (offset, arg), _ in fresh:
            where = w.graph.nodes[self.uses[0].first + offset].path[len(self.uses[0].path) + 1:]
            name = arg if by_arg[arg] == 1 else re.sub(r"\W+", "_", f"{where}_{arg}")
            name = name if name[0].isalpha() else f"l{name}"
            while name in names or name in ("in_channels", PREVIOUS, BLOCK_INPUT):
                name += "_"
            names.append(name)
        for slot, (index, how) in refers.items():
            self.slots[slot] = _Expr(how.replace("NAME", names[index]) if how else f"${names[index]}")
        self.params = names
        self.values = [{name: values[i] for name, (_, values) in zip(names, fresh)} for i in range(len(self.uses))]

    def params_of(self, use: int) -> dict[str, Any]:
        return self.values[use]

    def args_of(self, node: Node) -> dict[str, Any]:
        """The layer's arguments in the block, in the order the layer has them."""
        offset = node.index - self.uses[0].first
        return {arg: self.slots[(offset, arg)] for arg in self.writer.args(self.writer.graph.nodes[self.uses[0].first + offset])}

    def text(self) -> list[str]:
        w = self.writer
        first = self.uses[0]
        kinds = {u.group.kind for u in self.uses if u.group is not None}
        where = ", ".join(u.path for u in self.uses[:4]) + (", ..." if len(self.uses) > 4 else "")
        described = f"{' / '.join(sorted(kinds)) or 'a group'} of the source, used at {where} ({len(self.uses)} uses)"
        lines = [f"{self.name}:", f"{_INDENT}description: {_scalar(described)}"]
        if self.params:
            lines.append(f"{_INDENT}params: {{{', '.join(f'{p}: ~' for p in self.params)}}}")
        lines.append(f"{_INDENT}layers:")
        entering = w.entering(first)
        members = {n.index for n in w.nodes_of(first)} - {w.output(first).node}  # its output is named where the block is used
        ids = _Ids(w, entering, members)
        body = w.items(first.children, entering, ids, in_block=True, template=self)
        if len(first.children) == 1 and first.children[0].segment == "0" and not any(line.startswith("  name:") for line in body):
            body.insert(1, '  name: "0"')  # a block of one unnamed item would be that item, without its segment
        return lines + [_INDENT * 2 + line for line in body]


def _in_channels(values: list, c_ins: list) -> Optional[str]:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or not all(isinstance(c, int) for c in c_ins):
        return None
    if values == c_ins:
        return "$in_channels"
    ratio = _ratio(c_ins, values)
    return ratio.replace("NAME", "in_channels") if ratio is not None else None


def _ratio(base: list, values: list) -> Optional[str]:
    """``${NAME * k}`` or ``${NAME // k}`` when ``values`` is ``base`` times or over a whole k."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (*base, *values)) or 0 in base or 0 in values:
        return None
    if all(v % b == 0 for b, v in zip(base, values)):
        k = {v // b for b, v in zip(base, values)}
        if len(k) == 1 and (k := k.pop()) > 1:
            return f"${{NAME * {k}}}"
    if all(b % v == 0 for b, v in zip(base, values)):
        k = {b // v for b, v in zip(base, values)}
        if len(k) == 1 and (k := k.pop()) > 1:
            return f"${{NAME // {k}}}"
    return None


def _name_blocks(blocks: list[_Block]) -> None:
    """After the source's class (``Bottleneck`` -> ``bottleneck``); variants told apart by a layer
    one has and the others lack, or by a number."""
    taken: set[str] = set()
    for block in blocks:
        kinds = [u.group.kind for u in block.uses if u.group is not None and u.group.kind not in ("seq", "Sequential")]
        base = _snake(kinds[0]) if kinds else "block"
        name = base
        if name in taken:
            segments = {c.segment for c in block.uses[0].children}
            others = set().union(*({c.segment for c in b.uses[0].children} for b in blocks if b is not block and b.name.startswith(base)))
            extra = sorted(s for s in segments - others if not s.isdigit())
            name = f"{base}_{_snake(extra[0])}" if extra else base
        n = 2
        wanted = name
        while name in taken or name in KINDS or name in ALIASES or name in STRUCTURAL:
            name, n = f"{wanted}_{n}", n + 1
        taken.add(name)
        block.name = name


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"\W+", "_", text).strip("_").lower() or "block"
    return text if text[0].isalpha() else f"b_{text}"
