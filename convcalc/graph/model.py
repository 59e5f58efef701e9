"""The network graph: what every reader of a network walks, whatever it was written in.

A :class:`Graph` is built once (from a spec by :mod:`convcalc.graph.build`; importers of other
formats build the same thing). Its **nodes** are layer instances in execution order: a kind with
validated arguments, the tensors it reads (:class:`Port`: a node's output, or the network input)
and how many it writes (a split writes several), its source position and its path. Its
**groups** are the tree of blocks, ``seq``, ``residual``, ``parallel``, branches and repeats over
contiguous runs of nodes: the table's indentation, ``--depth`` and the export's classes.

Nothing in a graph refers to YAML: a node's ``template`` keeps the arguments as they were written
(``"${planes * 4}"``) for readers that want the expression (the export's classes), and a group
records the block parameters of its use.

The fold at the declared input is made while the graph is built (a block reads the channel count
that enters it, so building needs shapes): ``Graph.results`` holds one :class:`~convcalc.kinds.Result`
per node. The engine reuses them for the declared input and folds the graph again for any other.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from convcalc.errors import Position
from convcalc.kinds import LayerKind, Result

__all__ = ["INPUT", "BlockInfo", "Expectation", "Graph", "GroupNode", "Node", "Port"]


@dataclass(frozen=True, slots=True)
class Port:
    """One tensor: output ``port`` of node ``node``; node -1 is the network input."""

    node: int
    port: int = 0


INPUT = Port(-1, 0)


@dataclass(frozen=True, slots=True)
class Node:
    """One layer instance."""

    index: int
    path: str  # dotted, unique: "layer2.0.conv1"
    name: str  # the name written for it, when the path's last segment is that name; else ""
    kind: str  # a registry kind (aliases resolved)
    layer: LayerKind  # the validated arguments
    inputs: tuple[Port, ...]
    depth: int
    pos: Optional[Position] = None
    outputs: int = 1  # tensors written (split and chunk write several)
    group: Optional[int] = None  # the innermost group holding it
    written: str = ""  # the kind as written, alias kept ("dropout2d")
    template: Any = None  # the arguments as written, before block parameters were substituted
    synthetic: bool = False  # not written in the source: a merge's crop, a residual's add
    refs: tuple[Port, ...] = ()  # tensors whose shapes (not values) it reads: a crop to their size
    functional: bool = False  # called as a function in PyTorch (F.relu), not a module
    shares: Optional[int] = None  # the node whose weights it uses (`share:`): its params are counted there


@dataclass(frozen=True, slots=True)
class GroupNode:
    """A block use, ``seq``, residual, parallel, branch, shortcut or repeat over nodes ``[first, end)``."""

    index: int
    path: str
    name: str
    kind: str  # as the table shows it: the block's name, "seq", "residual", "parallel", "branch",
    # "shortcut", or "<item> xN" for a repeat
    role: str  # "block" | "seq" | "residual" | "parallel" | "branch" | "shortcut" | "repeat"
    depth: int
    first: int
    end: int
    input: Port
    output: Port
    pos: Optional[Position] = None
    parent: Optional[int] = None
    block: Optional[str] = None  # role "block": the block definition used
    params: Mapping[str, Any] = field(default_factory=dict)  # role "block": the use's parameter values
    merge: Optional[str] = None  # role "parallel": concat | add | multiply
    template: Any = None  # role "block": the parameters as written at the use (expressions kept)


@functools.cache  # made on first use: compiling it costs ~0.4 ms, which start-up need not pay
def positional_constructor(cls: type) -> Any:
    """A constructor of ``cls``, a frozen dataclass with slots, from all its fields in order: the
    object its ``__init__`` makes, at about a seventh of the cost (the memo and the report make a
    node, a row and ports for every layer). The dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; this one fills an unfrozen class of the same slots with plain
    assignments and then makes the object a ``cls`` (``__class__`` may be set between classes of
    the same layout). Every field is a required argument: a field added to the class is a
    TypeError at a call that does not pass it."""
    fields = cls.__slots__
    source = (
        f"class Unfrozen:\n    __slots__ = {fields!r}\n\n    def __init__(self, {', '.join(fields)}):\n"
        + "".join(f"        self.{name} = {name}\n" for name in fields)
        + "        self.__class__ = cls\n"
    )
    names: dict[str, Any] = {"cls": cls}
    exec(source, names)  # noqa: S102 - the class's own field names
    make = names["Unfrozen"]  # calling it makes a cls: its __init__ ends by setting the class
    make.__qualname__ = make.__name__ = f"make_{cls.__name__.lower()}"
    return make


@dataclass(frozen=True)
class Expectation:
    """An ``expect:`` value, with where it was written."""

    path: str  # node or group path; "" for the whole model
    key: str
    expected: Any
    pos: Position


@dataclass(frozen=True)
class BlockInfo:
    """A reusable block definition: its description and its parameters' defaults (None: required)."""

    name: str
    description: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Graph:
    """A network: its nodes in execution order, its groups, and the fold at ``input_shape``."""

    name: str
    description: str
    input_shape: tuple  # channels first, no batch; a symbolic size is a sympy symbol
    batch: Any
    nodes: tuple[Node, ...]
    groups: tuple[GroupNode, ...]
    output: Port
    results: tuple[Result, ...]  # the fold at ``input_shape``, one per node
    expectations: tuple[Expectation, ...] = ()
    conditions: tuple[tuple[int, Any, Any], ...] = ()  # (node, size, message): size >= 1 when symbolic
    file: str = ""
    source: str = ""  # what it was read from: "spec", "onnx", "torch"
    blocks: Mapping[str, BlockInfo] = field(default_factory=dict)
    names: Mapping[Port, str] = field(default_factory=dict)  # tensors named in the source (ids)

    def node(self, path: str) -> Optional[Node]:
        return next((n for n in self.nodes if n.path == path), None)

    def readers(self) -> dict[int, list[int]]:
        """For each node (and -1, the input), the nodes that read one of its outputs."""
        found: dict[int, list[int]] = {}
        for node in self.nodes:
            for port in node.inputs:
                found.setdefault(port.node, []).append(node.index)
        return found
