"""The builder's prefixes: builds of one spec with other top-level params (``sweep``'s points)
resume from the state of an earlier build after the items of ``layers:`` that read none of the
params that differ. The state before an item is kept when the item reads a param; a later build
whose input, batch and params read by the items before it are the same starts there, and folds
only the rest (the network's tail, where a sweep's depths and widths usually differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from convcalc.graph._items import Scope
from convcalc.graph._memo import _frozen, _names, _words
from convcalc.graph.model import Expectation, Node, Port
from convcalc.kinds import Result, Tensor

__all__ = ["Prefixes", "Snapshot", "first_reads", "item_reads"]


@dataclass(frozen=True)
class Snapshot:
    """The builder's state before item ``index`` of ``layers:``, the items before it folded."""

    key: tuple  # what the items before it read: the spec, the input, the batch and their params
    index: int
    x: Tensor
    kept: int
    params: tuple  # every top-level param's value (frozen): a block use's group records them all
    nodes: tuple[Node, ...]
    results: tuple[Result, ...]
    groups: tuple[dict[str, Any], ...]
    conditions: tuple[tuple[int, Any, Any], ...]
    expectations: tuple[Expectation, ...]
    names: dict[Port, str]
    seen: frozenset[str]
    define_log: tuple[tuple[str, Port], ...]
    tensors: dict[str, Tensor]


def item_reads(spec, raw: Any) -> frozenset[str]:
    """The top-level params an item of ``layers:`` may read: the words of its expressions (its
    arguments, ``repeat``, ``when``, ...) and those of every block it may use (all of them when
    an expression may name the kind), with the blocks' parameter defaults."""
    words = set(_names(raw))
    strings = _words(raw)
    blocks = frozenset(spec.blocks)
    todo = set(blocks if any("$" in w for w in strings) else strings & blocks)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        block = spec.blocks[name]
        words |= _names(block.layers) | _names(dict(block.params))
        inner = _words(block.layers)
        todo |= (blocks if any("$" in w for w in inner) else inner & blocks) - seen
    return frozenset(w for w in words if w in spec.params)


def first_reads(spec) -> dict[str, int]:
    """Each top-level param that the network may read, with the first item of ``layers:`` that may
    read it (-1: the input or the batch does). A sweep varies the params read first slowest, so
    that neighbouring points share the longest prefixes."""
    found = {name: -1 for name in _names([spec.data.get("input"), spec.data.get("batch")]) if name in spec.params}
    for index, raw in enumerate(spec.layers if isinstance(spec.layers, list) else ()):
        for name in sorted(item_reads(spec, raw)):
            found.setdefault(name, index)
    return found


class Prefixes:
    """The prefixes' part of the builder (:class:`convcalc.graph.build._Folder` holds the state)."""

    def fold_network(self, items: Any, x: Tensor, scope: Scope, env: dict, batch: Any) -> Tensor:
        """``layers:``, from the latest kept state that this build shares, when there is one."""
        self.top: Optional[tuple[int, tuple]] = None  # the item of layers: being folded, and what the items before it read
        if not self.resumable or self.symbolic or not isinstance(items, list):
            return self.fold_list(items, ("layers",), x, scope, (), 0, env)
        reads = self.memo.get(("layer reads",))
        if reads is None:
            reads = self.memo[("layer reads",)] = tuple(item_reads(self.spec, raw) for raw in items)
        try:
            params = tuple((k, _frozen(v)) for k, v in self.spec.params.items())
        except TypeError:  # an unhashable value: no state is kept
            return self.fold_list(items, ("layers",), x, scope, (), 0, env)
        self.frozen_params = params
        values = dict(params)
        base = (id(self.spec.source), x.shape, batch)
        keys: list[Optional[tuple]] = []
        read: set[str] = set()
        for names in reads:  # keys[i]: what the items before i read
            keys.append((*base, *((n, values[n]) for n in sorted(read))))
            read |= names
        first, kept = 0, 0
        for index in range(len(items) - 1, 0, -1):
            snapshot = self.memo.get(("prefix", index))
            if snapshot is not None and snapshot.key == keys[index]:
                x, kept, first = self.restore(snapshot, params, scope), snapshot.kept, index
                break

        def keep(index: int, x: Tensor, kept: int) -> None:
            self.top = (index, keys[index])
            if index > first and reads[index] and not self.errors and x.source >= 0:
                self.memo[("prefix", index)] = self.snapshot(keys[index], index, x, kept, params, scope)

        return self.fold_list(items, ("layers",), x, scope, (), 0, env, first=first, kept=kept, before=keep)

    # -- the copies of a repeated item of layers: ----------------------------------------------
    # A count that differs (a stage's depth) leaves the first copies alike: a build with more of
    # them starts after the copies an earlier build folded, and folds only the others.
    def copies_key(self, raw: Any, first: Any, own_names: bool) -> Optional[tuple]:
        """What the copies of a repeated item of ``layers:`` read, their count aside; None for
        copies not to be kept (not an item of ``layers:``, a count that reads ``i``, a fault)."""
        top = self.top
        if top is None or first.path != ("layers", top[0]) or self.block_stack or self.errors or "i" in _names(raw.get("repeat")):
            return None
        reads = self.memo.get(("copy reads", top[0]))
        if reads is None:
            reads = self.memo[("copy reads", top[0])] = tuple(sorted(item_reads(self.spec, {k: v for k, v in raw.items() if k != "repeat"})))
        try:
            return (*top[1], own_names, *((n, _frozen(self.spec.params[n])) for n in reads))
        except TypeError:
            return None

    def resume_copies(self, key: Optional[tuple], repeat: int, scope: Scope, x: Tensor) -> tuple[int, Tensor]:
        """How many copies are folded, and the last one's output: an earlier build's, when it folded
        at most ``repeat`` of the same copies."""
        snapshot = self.memo.get(("copies", self.top[0])) if key is not None else None
        if snapshot is None or snapshot.key != key or snapshot.index > repeat:
            return 0, x
        return snapshot.index, self.restore(snapshot, self.frozen_params, scope)

    def keep_copies(self, key: Optional[tuple], count: int, x: Tensor, scope: Scope) -> None:
        if key is not None and not self.errors and x.source >= 0:
            self.memo[("copies", self.top[0])] = self.snapshot(key, count, x, 0, self.frozen_params, scope)

    def snapshot(self, key: tuple, index: int, x: Tensor, kept: int, params: tuple, scope: Scope) -> Snapshot:
        return Snapshot(
            key, index, x, kept, params, tuple(self.nodes), tuple(self.results), tuple(dict(g) for g in self.groups),
            tuple(self.conditions), tuple(self.expectations), dict(self.names), frozenset(self.seen), tuple(self.define_log),
            dict(scope.tensors),
        )

    def restore(self, snapshot: Snapshot, params: tuple, scope: Scope) -> Tensor:
        self.nodes = list(snapshot.nodes)
        self.results = list(snapshot.results)
        self.groups = [dict(g) for g in snapshot.groups]
        if params != snapshot.params:  # a block use records every top-level param: those of this build
            for g in self.groups:
                if g["role"] == "block":
                    g["params"] = self.block_params(g)
        self.conditions = list(snapshot.conditions)
        self.expectations = list(snapshot.expectations)
        self.names = dict(snapshot.names)
        self.seen = set(snapshot.seen)
        self.define_log = list(snapshot.define_log)
        scope.tensors.update(snapshot.tensors)
        return snapshot.x
